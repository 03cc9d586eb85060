import { ip4String, ip6String, parseIp4, parseIp6 } from '../util/addr.js';
import type { IndicatorType } from './intel-parse.js';

/**
 * One feed's indicators, held compactly enough for feeds of millions of
 * lines: addresses and networks as sorted ranges searched in O(log n)
 * (IPv4 as numbers, IPv6 as fixed-width hex), domains and JA4 fingerprints
 * in maps, each entry pointing at its (interned) source and description.
 */

/** What a feed says of an indicator besides the indicator itself. */
export interface Origin {
  source: string | null;
  description: string | null;
}

/** An indicator found in a feed. */
export interface IndexHit {
  indicator: string;
  type: IndicatorType;
  origin: Origin;
  /** for addresses and networks: the prefix length (more is more specific) */
  prefix: number;
}

/** Distinct source and description pairs kept per feed; past it descriptions are dropped (sources are few). */
const MAX_ORIGINS = 100_000;

/**
 * Address ranges from CIDR networks. CIDR blocks either nest or are apart,
 * so with the ranges sorted by start (wider first) and each range's nearest
 * enclosing one noted, the ranges holding a key are the last one starting at
 * or before it and that one's enclosing chain: the first of them that
 * reaches the key is the most specific.
 */
export class RangeTable<K extends number | string> {
  private constructor(
    private readonly starts: K[],
    private readonly ends: K[],
    readonly prefixes: Uint8Array,
    readonly origins: Uint32Array,
    private readonly parent: Int32Array,
  ) {}

  get size(): number {
    return this.starts.length;
  }

  static build<K extends number | string>(starts: K[], ends: K[], prefixes: number[], origins: number[]): RangeTable<K> {
    const order = Array.from(starts.keys());
    // Wider first at the same start; the first listed wins among equal ranges.
    order.sort((a, b) => (starts[a] < starts[b] ? -1 : starts[a] > starts[b] ? 1 : prefixes[a] - prefixes[b] || a - b));
    const keep = order.filter((i, n) => n === 0 || starts[i] !== starts[order[n - 1]] || prefixes[i] !== prefixes[order[n - 1]]);
    const s = keep.map((i) => starts[i]);
    const e = keep.map((i) => ends[i]);
    const parent = new Int32Array(keep.length);
    const open: number[] = [];
    for (let i = 0; i < keep.length; i++) {
      while (open.length > 0 && e[open[open.length - 1]] < s[i]) open.pop();
      parent[i] = open.length > 0 ? open[open.length - 1] : -1;
      open.push(i);
    }
    return new RangeTable(s, e, Uint8Array.from(keep, (i) => prefixes[i]), Uint32Array.from(keep, (i) => origins[i]), parent);
  }

  /** The most specific range holding key, or -1. */
  find(key: K): number {
    let lo = 0;
    let hi = this.starts.length - 1;
    let at = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.starts[mid] <= key) {
        at = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    while (at >= 0 && this.ends[at] < key) at = this.parent[at];
    return at;
  }

  start(i: number): K {
    return this.starts[i];
  }
}

/** An address as a key of its family's table: IPv4 a number, IPv6 32 hex digits (IPv4-mapped ones as IPv4). */
export function addressKey(ip: string): { v4: number } | { v6: string } | null {
  const n = parseIp4(ip);
  if (n !== null) return { v4: n };
  const b = parseIp6(ip);
  if (b === null) return null;
  if (b.readUInt32BE(0) === 0 && b.readUInt32BE(4) === 0 && b.readUInt32BE(8) === 0xffff) return { v4: b.readUInt32BE(12) };
  return { v6: b.toString('hex') };
}

/** The first and last key of a network, for IPv6 keys: hex with the host bits cleared, and set. */
function v6Range(hex: string, prefix: number): [string, string] {
  const full = Math.floor(prefix / 4);
  const rest = prefix % 4;
  const head = hex.slice(0, full);
  if (rest === 0) return [head.padEnd(32, '0'), head.padEnd(32, 'f')];
  const d = parseInt(hex[full], 16) & (0xf << (4 - rest)) & 0xf;
  const top = d | ((1 << (4 - rest)) - 1);
  return [(head + d.toString(16)).padEnd(32, '0'), (head + top.toString(16)).padEnd(32, 'f')];
}

/** Collects one feed's indicators, then builds its index. */
export class IndexBuilder {
  private readonly v4: { s: number[]; e: number[]; p: number[]; o: number[] } = { s: [], e: [], p: [], o: [] };
  private readonly v6: { s: string[]; e: string[]; p: number[]; o: number[] } = { s: [], e: [], p: [], o: [] };
  readonly domains = new Map<string, number>();
  readonly ja4 = new Map<string, number>();
  private readonly originIds = new Map<string, number>();
  readonly origins: Origin[] = [{ source: null, description: null }];

  /** value: as intel-parse gives it (an address, address/prefix, a domain, a JA4). */
  add(type: IndicatorType, value: string, origin: Origin): void {
    const o = this.origin(origin);
    if (type === 'domain' || type === 'ja4') {
      const map = type === 'domain' ? this.domains : this.ja4;
      if (!map.has(value)) map.set(value, o);
      return;
    }
    const slash = value.indexOf('/');
    const key = addressKey(slash < 0 ? value : value.slice(0, slash))!;
    if ('v4' in key) {
      const prefix = slash < 0 ? 32 : Number(value.slice(slash + 1));
      const size = 2 ** (32 - prefix);
      const start = Math.floor(key.v4 / size) * size;
      push(this.v4, start, start + size - 1, prefix, o);
    } else {
      const prefix = slash < 0 ? 128 : Number(value.slice(slash + 1));
      const [start, end] = v6Range(key.v6, prefix);
      push(this.v6, start, end, prefix, o);
    }
  }

  private origin(o: Origin): number {
    if (o.source === null && o.description === null) return 0;
    const key = `${o.source ?? ''}\0${o.description ?? ''}`;
    let id = this.originIds.get(key);
    if (id !== undefined) return id;
    if (this.origins.length >= MAX_ORIGINS) return o.description === null ? 0 : this.origin({ source: o.source, description: null });
    id = this.origins.length;
    this.origins.push(o);
    this.originIds.set(key, id);
    return id;
  }

  build(): FeedIndex {
    const v4 = RangeTable.build(this.v4.s, this.v4.e, this.v4.p, this.v4.o);
    const v6 = RangeTable.build(this.v6.s, this.v6.e, this.v6.p, this.v6.o);
    return new FeedIndex(v4, v6, this.domains, this.ja4, this.origins);
  }
}

function push<K>(t: { s: K[]; e: K[]; p: number[]; o: number[] }, s: K, e: K, p: number, o: number): void {
  t.s.push(s);
  t.e.push(e);
  t.p.push(p);
  t.o.push(o);
}

const v4Text = (n: number) => ip4String(n);
const v6Text = (hex: string) => ip6String(Buffer.from(hex, 'hex'), 0);

/** One feed's indicators, ready to be asked. */
export class FeedIndex {
  constructor(
    private readonly v4: RangeTable<number>,
    private readonly v6: RangeTable<string>,
    private readonly domains: Map<string, number>,
    private readonly ja4s: Map<string, number>,
    private readonly origins: Origin[],
  ) {}

  /** Indicators held (duplicates counted once). */
  get size(): number {
    return this.v4.size + this.v6.size + this.domains.size + this.ja4s.size;
  }

  get hasDomains(): boolean {
    return this.domains.size > 0;
  }

  /** The most specific address or network holding ip. */
  address(ip: string): IndexHit | null {
    const key = addressKey(ip);
    if (key === null) return null;
    if ('v4' in key) return this.rangeHit(this.v4, key.v4, 32, v4Text);
    return this.rangeHit(this.v6, key.v6, 128, v6Text);
  }

  private rangeHit<K extends number | string>(t: RangeTable<K>, key: K, full: number, text: (k: K) => string): IndexHit | null {
    const i = t.size === 0 ? -1 : t.find(key);
    if (i < 0) return null;
    const prefix = t.prefixes[i];
    const start = text(t.start(i));
    return { indicator: prefix === full ? start : `${start}/${prefix}`, type: prefix === full ? 'addr' : 'subnet', origin: this.origins[t.origins[i]], prefix };
  }

  /** A listed domain equal to the name (dnsName form); parent domains are asked by the caller. */
  domain(name: string): IndexHit | null {
    const o = this.domains.get(name);
    return o === undefined ? null : { indicator: name, type: 'domain', origin: this.origins[o], prefix: 0 };
  }

  ja4(fp: string): IndexHit | null {
    const o = this.ja4s.get(fp);
    return o === undefined ? null : { indicator: fp, type: 'ja4', origin: this.origins[o], prefix: 0 };
  }
}
