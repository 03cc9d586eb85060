import { evictOldest, lowWater } from '../util/bounded.js';

/**
 * Remembers which name a client (its MAC, or its address) resolved to which
 * address, so a later flow from that client to that address can be named even
 * without SNI or Host.
 * Devices keep using addresses past the DNS TTL, so an answer stays valid for
 * at least MIN_VALID_S; the table is bounded and forgets the oldest answers.
 */
const MIN_VALID_S = 3600;

interface Entry {
  name: string;
  until: number;
  /** when the client first got this address from DNS */
  first: number;
}

const NONE = { name: null, resolved: false };

export class DnsNameCache {
  private readonly map = new Map<string, Entry>();

  constructor(private readonly maxEntries = 200_000) {}

  remember(client: string, answerIp: string, name: string, ts: number, ttl: number): void {
    const key = `${client}|${answerIp}`;
    const until = ts + Math.max(ttl, MIN_VALID_S);
    const old = this.map.get(key);
    if (old === undefined) {
      this.map.set(key, { name, until, first: ts });
      if (this.map.size > this.maxEntries) evictOldest(this.map, lowWater(this.maxEntries));
      return;
    }
    // The same answer again (most are): the entry is updated and goes last in the forgetting order.
    this.map.delete(key);
    old.name = name;
    old.until = until;
    this.map.set(key, old);
  }

  /** The name, while the answer is valid; `resolved` whether any answer ever gave the client this address. */
  lookup(client: string, serverIp: string, ts: number): { name: string | null; resolved: boolean } {
    const e = this.map.get(`${client}|${serverIp}`);
    if (!e) return NONE;
    return { name: ts <= e.until ? e.name : null, resolved: e.first <= ts };
  }
}
