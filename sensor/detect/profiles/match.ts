// Which profile covers a device, and which of its entries documents a flow.
import { BlockList, isIP } from 'node:net';
import type { DeviceProfile, DocumentedDestination, FlowRecord } from '../../../contract/types.js';
import type { DeviceFacts } from '../../devices/inventory.js';
import type { Series } from '../series.js';

interface CompiledEntry {
  entry: DocumentedDestination;
  suffix: string | null;
  exact: string | null;
  net: BlockList | null;
  asns: ReadonlySet<number> | null;
}

/** What of a flow decides whether a profile documents it. */
export type FlowTarget = Pick<FlowRecord, 'sni' | 'http_host' | 'dns_name' | 'proto' | 'dst_ip' | 'dst_port' | 'dst_asn'>;

/** Profiles compiled for matching devices and flows against them. */
export class ProfileMatcher {
  private readonly compiled = new Map<DeviceProfile, CompiledEntry[]>();

  constructor(readonly profiles: DeviceProfile[]) {
    for (const p of profiles) this.compiled.set(p, p.documented.map(compile));
  }

  private readonly byDevice = new Map<string, DeviceProfile | null>();

  /** The profile covering a device: an exact MAC wins over a MUD URL, an OUI, then a vendor name. */
  profileFor(d: DeviceFacts): DeviceProfile | null {
    // Asked for every flow; a device's answer changes only when its MUD URL appears.
    const key = `${d.mac ?? d.ip}|${d.mud_url ?? ''}`;
    let p = this.byDevice.get(key);
    if (p === undefined) {
      p = this.match(d);
      if (this.byDevice.size >= 100_000) this.byDevice.clear();
      this.byDevice.set(key, p);
    }
    return p;
  }

  private match(d: DeviceFacts): DeviceProfile | null {
    const mac = d.mac?.toLowerCase() ?? null;
    const by = (pred: (p: DeviceProfile) => boolean) => this.profiles.find(pred) ?? null;
    return (
      (mac && by((p) => p.match.mac?.some((m) => m.toLowerCase() === mac) ?? false)) ||
      (d.mud_url && by((p) => p['mud-url'] === d.mud_url)) ||
      (mac && by((p) => p.match.oui?.some((o) => mac.startsWith(o.toLowerCase())) ?? false)) ||
      (d.vendor && by((p) => !!p.match.vendor && d.vendor!.toLowerCase().includes(p.match.vendor.toLowerCase()))) ||
      null
    );
  }

  /** The profile of this name, if it is one of the matcher's. */
  byName(name: string): DeviceProfile | null {
    return this.profiles.find((p) => p.profile === name) ?? null;
  }

  /** the last question documents() answered: several rules ask it of the same flow in turn */
  private lastProfile: DeviceProfile | null = null;
  private lastFlow: FlowTarget | null = null;
  private lastEntry: DocumentedDestination | null = null;

  /** The profile entry that documents this flow's destination, or null. */
  documents(p: DeviceProfile, f: FlowTarget): DocumentedDestination | null {
    if (f === this.lastFlow && p === this.lastProfile) return this.lastEntry;
    const names = namesOf(f);
    let entry: DocumentedDestination | null = null;
    for (const c of this.compiled.get(p) ?? []) {
      if (matches(c, f, names)) {
        entry = c.entry;
        break;
      }
    }
    this.lastProfile = p;
    this.lastFlow = f;
    this.lastEntry = entry;
    return entry;
  }

  /** Whether the profile's i-th entry documents this flow. */
  entryDocuments(p: DeviceProfile, i: number, f: FlowTarget): boolean {
    const c = this.compiled.get(p)?.[i];
    return c !== undefined && matches(c, f, namesOf(f));
  }

  /** Whether a profile has AS entries, which match only when the destination's AS is known. */
  hasAsnEntries(p: DeviceProfile): boolean {
    return this.compiled.get(p)?.some((c) => c.asns !== null) ?? false;
  }

  /**
   * The profile and entry documenting a device-destination series (a beacon,
   * a strobe): its profile must document every sampled connection, judged by
   * the series' name (the flows' server name: a series is one name), address,
   * protocol and port; the AS is the one found for the series' destination.
   * The entry is the one documenting the first connection.
   */
  documentsSeries(s: Series): { profile: DeviceProfile; entry: DocumentedDestination } | null {
    const p = s.profile === null ? null : this.byName(s.profile);
    if (!p || s.flows.length === 0) return null;
    let first: DocumentedDestination | null = null;
    for (const f of s.flows) {
      // The name is the flows' server_name, which may be an HTTP Host with its port: matched as a Host.
      const e = this.documents(p, { sni: null, http_host: s.name, dns_name: null, proto: f.proto, dst_ip: f.dst_ip, dst_port: f.dst_port, dst_asn: s.dst.asn });
      if (!e) return null;
      first ??= e;
    }
    return { profile: p, entry: first! };
  }
}

/** A flow's names as entries are matched against them: lower case, without a trailing dot, a Host without its port. */
const namesOf = (f: FlowTarget): string[] =>
  [f.sni, f.http_host?.replace(/:\d+$/, ''), f.dns_name].filter((n): n is string => !!n).map((n) => n.toLowerCase().replace(/\.$/, ''));

function matches(c: CompiledEntry, f: FlowTarget, names: string[]): boolean {
  const e = c.entry;
  if (e.proto && e.proto !== f.proto) return false;
  if (e.ports && !e.ports.includes(f.dst_port)) return false;
  if (c.net) return c.net.check(f.dst_ip, isIP(f.dst_ip) === 6 ? 'ipv6' : 'ipv4');
  if (c.asns) return f.dst_asn !== null && c.asns.has(f.dst_asn);
  return names.some((n) => n === c.exact || (c.suffix !== null && (n === c.suffix || n.endsWith(`.${c.suffix}`))));
}

function compile(entry: DocumentedDestination): CompiledEntry {
  if (entry.cidr) {
    const [addr, len] = entry.cidr.split('/');
    const family = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
    const net = new BlockList();
    net.addSubnet(addr, len === undefined ? (family === 'ipv6' ? 128 : 32) : Number(len), family);
    return { entry, suffix: null, exact: null, net, asns: null };
  }
  if (entry.asn) return { entry, suffix: null, exact: null, net: null, asns: new Set(entry.asn) };
  const d = (entry.domain ?? '').toLowerCase().replace(/\.$/, '');
  return d.startsWith('*.') ? { entry, suffix: d.slice(2), exact: null, net: null, asns: null } : { entry, suffix: null, exact: d, net: null, asns: null };
}
