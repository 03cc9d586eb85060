// Which profile covers a device, and which of its entries documents a flow.
import { BlockList, isIP } from 'node:net';
import type { DeviceProfile, DocumentedDestination, FlowRecord } from '../../../contract/types.js';
import type { DeviceFacts } from '../../devices/inventory.js';

interface CompiledEntry {
  entry: DocumentedDestination;
  suffix: string | null;
  exact: string | null;
  net: BlockList | null;
}

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

  /** The profile entry that documents this flow's destination, or null. */
  documents(p: DeviceProfile, f: FlowRecord): DocumentedDestination | null {
    const names = [f.sni, f.http_host?.replace(/:\d+$/, ''), f.dns_name].filter((n): n is string => !!n).map((n) => n.toLowerCase().replace(/\.$/, ''));
    for (const c of this.compiled.get(p) ?? []) {
      const e = c.entry;
      if (e.proto && e.proto !== f.proto) continue;
      if (e.ports && !e.ports.includes(f.dst_port)) continue;
      if (c.net) {
        const family = isIP(f.dst_ip) === 6 ? 'ipv6' : 'ipv4';
        if (c.net.check(f.dst_ip, family)) return e;
        continue;
      }
      if (names.some((n) => n === c.exact || (c.suffix !== null && (n === c.suffix || n.endsWith(`.${c.suffix}`))))) return e;
    }
    return null;
  }
}

function compile(entry: DocumentedDestination): CompiledEntry {
  if (entry.cidr) {
    const [addr, len] = entry.cidr.split('/');
    const family = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
    const net = new BlockList();
    net.addSubnet(addr, len === undefined ? (family === 'ipv6' ? 128 : 32) : Number(len), family);
    return { entry, suffix: null, exact: null, net };
  }
  const d = (entry.domain ?? '').toLowerCase().replace(/\.$/, '');
  return d.startsWith('*.') ? { entry, suffix: d.slice(2), exact: null, net: null } : { entry, suffix: null, exact: d, net: null };
}
