import { evictOldest, lowWater } from '../util/bounded.js';
import type { Flow } from './flow.js';

/** What a session was known as: the names its first piece carried. */
interface Names {
  sni: string | null;
  httpHost: string | null;
  dnsName: string | null;
  resolved: boolean;
}

/** TCP sessions remembered after they went idle; the oldest are forgotten first. */
const MAX_SESSIONS = 50_000;

/**
 * Long-lived TCP sessions (MQTT over TLS on 8883, a vendor's push channel)
 * can stay quiet longer than the idle timeout; the table then ends the flow
 * and the next packet starts a new one, without a handshake, without SNI and
 * without a DNS answer: unnamed, and it would look hard-coded. The piece that
 * resumes a session (same addresses and ports, no SYN) keeps its names.
 */
export class SessionNames {
  private readonly byTuple = new Map<string, Names>();

  /** A TCP flow ended idle: remember what it was called, if anything. */
  idle(f: Flow): void {
    if (f.sni === null && f.httpHost === null && f.dnsName === null && !f.resolved) return;
    const key = tupleKey(f);
    this.byTuple.delete(key);
    this.byTuple.set(key, { sni: f.sni, httpHost: f.httpHost, dnsName: f.dnsName, resolved: f.resolved });
    if (this.byTuple.size > MAX_SESSIONS) evictOldest(this.byTuple, lowWater(MAX_SESSIONS));
  }

  /** A TCP flow began without a handshake: if it resumes a session that went idle, it is that session. */
  resume(f: Flow): void {
    const n = this.byTuple.get(tupleKey(f));
    if (!n) return;
    f.sni = n.sni;
    f.httpHost = n.httpHost;
    f.dnsName = n.dnsName;
    f.resolved = n.resolved;
  }
}

/** The same key whichever side is taken as the initiator. */
function tupleKey(f: Flow): string {
  const a = `${f.srcIp}|${f.sport}`;
  const b = `${f.dstIp}|${f.dport}`;
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}
