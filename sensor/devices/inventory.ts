import type { DeviceDestination, DeviceRecord } from '../../contract/types.js';
import type { Flow } from '../flows/flow.js';
import { protoName } from '../flows/flow.js';
import { macString } from '../util/addr.js';
import { lookupManufacturer, type Manufacturer } from './oui.js';

/** What detection needs to know about the local host behind a flow. */
export interface DeviceFacts {
  mac: string | null;
  ip: string;
  vendor: string | null;
  vendor_country: string | null;
  mud_url: string | null;
}

const MAX_IPS = 16;
/** Destinations itemised per device; a scan or flood beyond it is not itemised (bounded memory). */
const MAX_DESTINATIONS = 10_000;
const MAX_NAMES = 16;

class Device {
  ips = new Set<string>();
  hostnames = new Set<string>();
  userAgents = new Set<string>();
  dhcpFingerprint: string | null = null;
  dhcpVendorClass: string | null = null;
  mudUrl: string | null = null;
  ssdpServer: string | null = null;
  flows = 0;
  bytesOut = 0;
  destinations = new Map<string, DeviceDestination>();
  /** last IP added, so the per-packet path skips the Set for the common case */
  lastIp = '';
  manufacturer: Manufacturer | null | undefined = undefined;

  constructor(
    readonly mac: number,
    readonly key: string,
    public firstSeen: number,
    public lastSeen: number,
  ) {}
}

function addBounded(set: Set<string>, v: string, max: number): void {
  if (set.size < max || set.has(v)) set.add(v);
}

/**
 * Local hosts keyed by MAC (or by IP when the link layer has no MACs). Fed by
 * the analyzer with what each protocol reveals about a device.
 */
export class Inventory {
  private readonly byMac = new Map<number, Device>();
  private readonly byIp = new Map<string, Device>();
  /** by the MAC's text form, for lookups from flow records */
  private readonly byMacText = new Map<string, Device>();

  get size(): number {
    return this.byMac.size + this.byIp.size;
  }

  /** A local host sent a packet (ip '' when its address is unknown or unassigned). */
  seen(mac: number, ip: string, ts: number): void {
    const dev = this.device(mac, ip, ts);
    if (!dev) return;
    if (ts > dev.lastSeen) dev.lastSeen = ts;
    if (ts < dev.firstSeen) dev.firstSeen = ts;
    if (ip !== '' && ip !== dev.lastIp) {
      dev.lastIp = ip;
      addBounded(dev.ips, ip, MAX_IPS);
    }
  }

  private device(mac: number, ip: string, ts: number): Device | null {
    if (mac >= 0) {
      // Group and broadcast addresses are never a host's own.
      if (Math.floor(mac / 2 ** 40) & 1) return null;
      let dev = this.byMac.get(mac);
      if (!dev) {
        dev = new Device(mac, macString(mac), ts, ts);
        this.byMac.set(mac, dev);
        this.byMacText.set(dev.key, dev);
      }
      return dev;
    }
    if (ip === '') return null;
    let dev = this.byIp.get(ip);
    if (!dev) this.byIp.set(ip, (dev = new Device(-1, ip, ts, ts)));
    return dev;
  }

  hostname(mac: number, ip: string, name: string, ts: number): void {
    const dev = this.device(mac, ip, ts);
    if (dev && name) addBounded(dev.hostnames, name, MAX_NAMES);
  }

  dhcp(mac: number, ts: number, info: { hostname?: string | null; vendorClass?: string | null; fingerprint?: string | null; mudUrl?: string | null }): void {
    const dev = this.device(mac, '', ts);
    if (!dev) return;
    if (info.hostname) addBounded(dev.hostnames, info.hostname, MAX_NAMES);
    if (info.vendorClass) dev.dhcpVendorClass = info.vendorClass;
    if (info.fingerprint) dev.dhcpFingerprint = info.fingerprint;
    if (info.mudUrl) dev.mudUrl = info.mudUrl;
  }

  ssdpServer(mac: number, ip: string, server: string, ts: number): void {
    const dev = this.device(mac, ip, ts);
    if (dev) dev.ssdpServer = server;
  }

  userAgent(mac: number, ip: string, ua: string, ts: number): void {
    const dev = this.device(mac, ip, ts);
    if (dev) addBounded(dev.userAgents, ua, MAX_NAMES);
  }

  /** A flow ended: count it for the local host that initiated it. */
  flowEnded(f: Flow, serverName: string | null): void {
    if (!f.srcLocal) return;
    const dev = f.srcMac >= 0 ? this.byMac.get(f.srcMac) : this.byIp.get(f.srcIp);
    if (!dev) return;
    dev.flows++;
    if (f.dstLocal) return;
    dev.bytesOut += f.srcBytes;
    let dst = dev.destinations.get(f.dstIp);
    if (!dst) {
      if (dev.destinations.size >= MAX_DESTINATIONS) return;
      dst = { ip: f.dstIp, name: null, ports: [], protos: [], flows: 0, bytes_out: 0, bytes_in: 0, first_seen: f.first, last_seen: f.last };
      dev.destinations.set(f.dstIp, dst);
    }
    dst.flows++;
    dst.bytes_out += f.srcBytes;
    dst.bytes_in += f.dstBytes;
    if (serverName && !dst.name) dst.name = serverName;
    if (!dst.ports.includes(f.dport) && dst.ports.length < 32) dst.ports.push(f.dport);
    const p = protoName(f.proto);
    if (!dst.protos.includes(p)) dst.protos.push(p);
    if (f.first < dst.first_seen) dst.first_seen = f.first;
    if (f.last > dst.last_seen) dst.last_seen = f.last;
  }

  private manufacturer(dev: Device): Manufacturer | null {
    if (dev.manufacturer === undefined) dev.manufacturer = dev.mac >= 0 ? lookupManufacturer(dev.mac) : null;
    return dev.manufacturer;
  }

  /** What detection needs to know about the local host that sent a flow; null when it is not a local host. */
  facts(mac: string | null, ip: string): DeviceFacts | null {
    const dev = mac ? this.byMacText.get(mac) : this.byIp.get(ip);
    if (!dev) return null;
    const m = this.manufacturer(dev);
    return { mac: dev.mac >= 0 ? dev.key : null, ip, vendor: m?.vendor ?? null, vendor_country: m?.country ?? null, mud_url: dev.mudUrl };
  }

  records(): DeviceRecord[] {
    const out: DeviceRecord[] = [];
    for (const dev of [...this.byMac.values(), ...this.byIp.values()]) {
      const m = this.manufacturer(dev);
      const destinations = [...dev.destinations.values()].sort((a, b) => b.bytes_out - a.bytes_out || a.ip.localeCompare(b.ip));
      for (const d of destinations) d.ports.sort((a, b) => a - b);
      out.push({
        mac: dev.mac >= 0 ? dev.key : null,
        vendor: m?.vendor ?? null,
        vendor_country: m?.country ?? null,
        ips: [...dev.ips],
        hostnames: [...dev.hostnames],
        dhcp_fingerprint: dev.dhcpFingerprint,
        dhcp_vendor_class: dev.dhcpVendorClass,
        mud_url: dev.mudUrl,
        ssdp_server: dev.ssdpServer,
        user_agents: [...dev.userAgents],
        first_seen: dev.firstSeen,
        last_seen: dev.lastSeen,
        flows: dev.flows,
        bytes_out: dev.bytesOut,
        external_destinations: destinations.length,
        destinations,
      });
    }
    return out.sort((a, b) => b.bytes_out - a.bytes_out || String(a.mac ?? a.ips[0]).localeCompare(String(b.mac ?? b.ips[0])));
  }
}
