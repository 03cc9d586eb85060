import type { DeviceDestination, DeviceRecord } from '../../contract/types.js';
import type { Flow } from '../flows/flow.js';
import { protoName } from '../flows/flow.js';
import { macString } from '../util/addr.js';
import { EarliestSet, lowWater } from '../util/bounded.js';
import { cloudName, identifyBrand, type BrandEvidence, type BrandResult } from './brand.js';
import { NextHops } from './gateway.js';
import { lookupManufacturer, type Manufacturer } from './oui.js';

/** What detection needs to know about the local host behind a flow. */
export interface DeviceFacts {
  mac: string | null;
  ip: string;
  /** the OUI registry's organisation for the MAC */
  vendor: string | null;
  vendor_country: string | null;
  mud_url: string | null;
  /**
   * The maker whose product it is, its model and its radio module's maker
   * (brand.ts), from what every `--workers` shard sees alike: its DHCP host
   * name and vendor class, its SSDP SERVER and its OUI. devices.json also
   * weighs mDNS names, User-Agents and clouds, which a shard sees only part of.
   * Absent in facts built by hand (tests): unknown.
   */
  brand?: string | null;
  model?: string | null;
  module_vendor?: string | null;
  /** 'gateway': a router carrying local hosts' Internet traffic (infrastructure, not a device to judge); absent: 'device' */
  role?: 'device' | 'gateway';
  /** capture time the device asked DHCP for an address (it joined the network while phonehome watched); null: not seen */
  joined_at?: number | null;
}

const MAX_IPS = 16;
/** Destinations itemised per device; a scan or flood beyond it is not itemised (bounded memory). */
const MAX_DESTINATIONS = 10_000;
const MAX_NAMES = 16;
/** Server names kept per device as brand evidence (the earliest seen). */
const MAX_CLOUD_NAMES = 32;
/**
 * Devices tracked at once (--max-devices) when evicted records have somewhere
 * to go: one packet from each of a flood of spoofed MACs is a device each, and
 * a LAN has hundreds of hosts, not tens of thousands.
 */
export const DEFAULT_MAX_DEVICES = 50_000;

/**
 * An EarliestSet made on the first add: most devices of a flood of spoofed
 * MACs never name themselves, and a set per field and device was most of the
 * inventory's memory.
 */
class Names {
  private set: EarliestSet | null = null;

  constructor(private readonly max: number) {}

  add(value: string, ts: number): void {
    (this.set ??= new EarliestSet(this.max)).add(value, ts);
  }

  get size(): number {
    return this.set?.size ?? 0;
  }

  entries(): [string, number][] {
    return this.set?.entries() ?? [];
  }

  values(): string[] {
    return this.set?.values() ?? [];
  }
}

/** Adds to a bounded set; true when what it holds may have changed. */
function addTo(set: Names, max: number, value: string, ts: number): boolean {
  const n = set.size;
  set.add(value, ts);
  return set.size !== n || n === max;
}

class Device {
  ips = new EarliestSet(MAX_IPS);
  hostnames = new Names(MAX_NAMES);
  /** the host names that came in DHCP (the rest of `hostnames` came in mDNS), and those that came in mDNS: brand evidence */
  dhcpNames = new Names(MAX_NAMES);
  mdnsNames = new Names(MAX_NAMES);
  userAgents = new Names(MAX_NAMES);
  /** names of the servers it opened flows to, normalised (brand.ts cloudName) */
  cloudNames = new Names(MAX_CLOUD_NAMES);
  lastServerName = '';
  lastCloudName: string | null = null;
  dhcpFingerprint: string | null = null;
  dhcpVendorClass: string | null = null;
  mudUrl: string | null = null;
  ssdpServer: string | null = null;
  flows = 0;
  bytesOut = 0;
  /** made on the first destination, as Names are */
  destinations: Map<string, DeviceDestination> | null = null;
  /** first packet time of the flow that named each destination: the earliest named flow names it */
  namedAt: Map<string, number> | null = null;
  /** last IP added, so the per-packet path skips the Set for the common case */
  lastIp = '';
  lastIpTs = 0;
  manufacturer: Manufacturer | null | undefined = undefined;
  /** bumped when DHCP or SSDP evidence changes (facts), and when any brand evidence does (records) */
  sharedVersion = 0;
  allVersion = 0;
  private factsBrand: BrandResult | null = null;
  private factsAt = -1;
  private recordBrand: BrandResult | null = null;
  private recordAt = -1;
  /** when it asked DHCP for an address (DISCOVER, REQUEST): DHCP is seen by every shard alike */
  joinedAt: number | null = null;

  constructor(
    readonly mac: number,
    readonly key: string,
    public firstSeen: number,
    public lastSeen: number,
  ) {}

  /** Evidence changed that every shard sees alike (DHCP, SSDP). */
  sharedChanged(): void {
    this.sharedVersion++;
    this.allVersion++;
  }

  /** The brand from DHCP, SSDP and the OUI only, for detection's facts (identical in every shard at a given packet). */
  sharedBrand(oui: string | null): BrandResult {
    if (this.factsAt !== this.sharedVersion || !this.factsBrand) {
      this.factsBrand = identifyBrand({ dhcpHostnames: this.dhcpNames.values(), dhcpVendorClass: this.dhcpVendorClass, ssdpServer: this.ssdpServer, ouiVendor: oui });
      this.factsAt = this.sharedVersion;
    }
    return this.factsBrand;
  }

  /** The brand from everything the device showed, for devices.json. */
  brand(oui: string | null): BrandResult {
    if (this.recordAt !== this.allVersion || !this.recordBrand) {
      const ev: BrandEvidence = {
        dhcpHostnames: this.dhcpNames.values(),
        dhcpVendorClass: this.dhcpVendorClass,
        mdnsNames: this.mdnsNames.values(),
        ssdpServer: this.ssdpServer,
        userAgents: this.userAgents.values(),
        cloudNames: this.cloudNames.values(),
        ouiVendor: oui,
      };
      this.recordBrand = identifyBrand(ev);
      this.recordAt = this.allVersion;
    }
    return this.recordBrand;
  }
}

/** A device as one inventory held it (plain data: it crosses threads). */
export interface DeviceSnapshot {
  mac: number;
  key: string;
  /** values with the time each was first seen */
  ips: [string, number][];
  hostnames: [string, number][];
  dhcpNames: [string, number][];
  mdnsNames: [string, number][];
  userAgents: [string, number][];
  cloudNames: [string, number][];
  /** Internet addresses this MAC carried traffic for as a next hop (gateway.ts) */
  nextHops: [string, number][];
  /** a MAC known only as a next hop, not as a device: merged into the next hops, not inventoried */
  hopOnly?: boolean;
  dhcpFingerprint: string | null;
  dhcpVendorClass: string | null;
  mudUrl: string | null;
  ssdpServer: string | null;
  flows: number;
  bytesOut: number;
  firstSeen: number;
  lastSeen: number;
  destinations: DeviceDestination[];
  namedAt: [ip: string, ts: number][];
}

/** One name per destination, the earliest flow's (then the smallest): the same whichever order flows end in. */
function nameDestination(dev: Device, dst: DeviceDestination, name: string, at: number): void {
  const had = dev.namedAt?.get(dst.ip);
  if (dst.name === null || had === undefined || at < had || (at === had && name < dst.name)) {
    dst.name = name;
    (dev.namedAt ??= new Map()).set(dst.ip, at);
  }
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
  /** which MACs route local hosts' Internet traffic */
  private readonly hops = new NextHops();
  /** the two devices that sent last: most packets come from one of them */
  private recent0: Device | null = null;
  private recent1: Device | null = null;
  /** the brand an OUI alone gives, by vendor, for the facts of evicted devices */
  private readonly ouiBrands = new Map<string | null, BrandResult>();
  /** devices evicted so far */
  evicted = 0;

  /**
   * At most `maxDevices` devices are tracked; past it the least recently seen
   * tenth is evicted and each record handed to `onEvict` (devices.json, a
   * device event), so a device is reported, not dropped; a shard of
   * `--workers` hands on its snapshot instead (`onEvictSnapshot`), merged in
   * the thread that writes devices. Without either nothing is evicted: there
   * would be nowhere to report it.
   */
  constructor(
    private readonly maxDevices = DEFAULT_MAX_DEVICES,
    private readonly onEvict?: (r: DeviceRecord) => void,
    private readonly onEvictSnapshot?: (s: DeviceSnapshot) => void,
  ) {}

  get size(): number {
    return this.byMac.size + this.byIp.size;
  }

  /**
   * A local host sent this packet (ip '' when its address is unknown or
   * unassigned). Per packet: takes the packet, not its MAC and time, because
   * 48-bit MACs and times are boxed when passed, and the last two devices are
   * remembered because a Map lookup by such a number boxes it too. Returns
   * whether the sender is a device (not a group address, not addressless).
   */
  sawPacket(p: { srcMac: number; ts: number }, ip: string): boolean {
    const mac = p.srcMac;
    let dev: Device | null;
    if (mac >= 0 && mac === this.recent0?.mac) dev = this.recent0;
    else if (mac >= 0 && mac === this.recent1?.mac) {
      dev = this.recent1;
      this.recent1 = this.recent0;
      this.recent0 = dev;
    } else {
      dev = this.device(mac, ip, p.ts);
      if (dev && mac >= 0) {
        this.recent1 = this.recent0;
        this.recent0 = dev;
      }
    }
    if (!dev) return false;
    this.update(dev, ip, p);
    return true;
  }

  /** A local host sent a packet (ip '' when its address is unknown or unassigned). */
  seen(mac: number, ip: string, ts: number): void {
    const dev = this.device(mac, ip, ts);
    if (dev) this.update(dev, ip, { ts });
  }

  /** Takes the packet, not its time: a float argument is boxed, and this runs for every packet a local host sends. */
  private update(dev: Device, ip: string, at: { ts: number }): void {
    const ts = at.ts;
    if (ts > dev.lastSeen) dev.lastSeen = ts;
    if (ts < dev.firstSeen) dev.firstSeen = ts;
    if (ip !== '' && (ip !== dev.lastIp || ts < dev.lastIpTs)) {
      dev.lastIp = ip;
      dev.lastIpTs = ts;
      dev.ips.add(ip, ts);
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
        this.bound(dev);
      }
      return dev;
    }
    if (ip === '') return null;
    let dev = this.byIp.get(ip);
    if (!dev) {
      this.byIp.set(ip, (dev = new Device(-1, ip, ts, ts)));
      this.bound(dev);
    }
    return dev;
  }

  /**
   * Past the bound, evicts the least recently seen devices (then the smallest
   * key: the same ones whatever the order they arrived in) down to a tenth
   * below it, in bulk so a flood sorts rarely. `keep` was just seen: it stays.
   */
  private bound(keep: Device): void {
    if ((!this.onEvict && !this.onEvictSnapshot) || this.size <= this.maxDevices) return;
    const all = [...this.byMac.values(), ...this.byIp.values()].filter((d) => d !== keep);
    all.sort((a, b) => a.lastSeen - b.lastSeen || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const n = this.size - Math.max(1, lowWater(this.maxDevices));
    for (const dev of all.slice(0, n)) {
      if (dev.mac >= 0) {
        this.byMac.delete(dev.mac);
        this.byMacText.delete(dev.key);
      } else this.byIp.delete(dev.key);
      this.evicted++;
      if (this.onEvictSnapshot) this.onEvictSnapshot(this.snapshotOf(dev));
      else this.onEvict!(this.recordOf(dev));
    }
    this.recent0 = this.recent1 = null;
  }

  /** A name the host answered for in mDNS. */
  hostname(mac: number, ip: string, name: string, ts: number): void {
    const dev = this.device(mac, ip, ts);
    if (!dev || !name) return;
    dev.hostnames.add(name, ts);
    if (addTo(dev.mdnsNames, MAX_NAMES, name, ts)) dev.allVersion++;
  }

  dhcp(mac: number, ts: number, info: { hostname?: string | null; vendorClass?: string | null; fingerprint?: string | null; mudUrl?: string | null; joining?: boolean }): void {
    const dev = this.device(mac, '', ts);
    if (!dev) return;
    if (info.joining && (dev.joinedAt === null || ts < dev.joinedAt)) dev.joinedAt = ts;
    if (info.hostname) {
      dev.hostnames.add(info.hostname, ts);
      if (addTo(dev.dhcpNames, MAX_NAMES, info.hostname, ts)) dev.sharedChanged();
    }
    if (info.vendorClass && info.vendorClass !== dev.dhcpVendorClass) {
      dev.dhcpVendorClass = info.vendorClass;
      dev.sharedChanged();
    }
    if (info.fingerprint) dev.dhcpFingerprint = info.fingerprint;
    if (info.mudUrl) dev.mudUrl = info.mudUrl;
  }

  ssdpServer(mac: number, ip: string, server: string, ts: number): void {
    const dev = this.device(mac, ip, ts);
    if (dev && dev.ssdpServer !== server) {
      dev.ssdpServer = server;
      dev.sharedChanged();
    }
  }

  userAgent(mac: number, ip: string, ua: string, ts: number): void {
    const dev = this.device(mac, ip, ts);
    if (dev && addTo(dev.userAgents, MAX_NAMES, ua, ts)) dev.allVersion++;
  }

  /** A flow ended: count it for the local host that initiated it, and learn the next hop toward the Internet it crossed. */
  flowEnded(f: Flow, serverName: string | null): void {
    this.hops.flow(f);
    if (!f.srcLocal) return;
    const dev = f.srcMac >= 0 ? this.byMac.get(f.srcMac) : this.byIp.get(f.srcIp);
    if (!dev) return;
    dev.flows++;
    if (f.dstLocal) return;
    dev.bytesOut += f.srcBytes;
    if (serverName !== null) {
      // Most flows repeat the last name: normalised once.
      if (serverName !== dev.lastServerName) {
        dev.lastServerName = serverName;
        dev.lastCloudName = cloudName(serverName);
      }
      const n = dev.lastCloudName;
      if (n !== null && addTo(dev.cloudNames, MAX_CLOUD_NAMES, n, f.first)) dev.allVersion++;
    }
    const dests = (dev.destinations ??= new Map());
    let dst = dests.get(f.dstIp);
    if (!dst) {
      if (dests.size >= MAX_DESTINATIONS) return;
      dst = { ip: f.dstIp, name: null, ports: [], protos: [], flows: 0, bytes_out: 0, bytes_in: 0, first_seen: f.first, last_seen: f.last };
      dests.set(f.dstIp, dst);
    }
    dst.flows++;
    dst.bytes_out += f.srcBytes;
    dst.bytes_in += f.dstBytes;
    if (serverName) nameDestination(dev, dst, serverName, f.first);
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

  /**
   * What detection needs to know about the local host that sent a flow; null
   * when it is not a local host. `wasTracked`: the host was a device when the
   * flow began (it may have been evicted since): it is then judged on what its
   * MAC alone says, as a device just seen, rather than not at all.
   */
  facts(mac: string | null, ip: string, wasTracked = false): DeviceFacts | null {
    const dev = mac ? this.byMacText.get(mac) : this.byIp.get(ip);
    if (!dev) return wasTracked ? this.evictedFacts(mac, ip) : null;
    const m = this.manufacturer(dev);
    const maker = dev.sharedBrand(m?.vendor ?? null);
    return {
      mac: dev.mac >= 0 ? dev.key : null,
      ip,
      vendor: m?.vendor ?? null,
      vendor_country: m?.country ?? null,
      mud_url: dev.mudUrl,
      brand: maker.brand,
      model: maker.model,
      module_vendor: maker.module_vendor,
      role: this.roleOf(dev.mac),
      joined_at: dev.joinedAt,
    };
  }

  /** The facts of a host no longer tracked: its MAC's registry entry and the brand that alone gives. */
  private evictedFacts(mac: string | null, ip: string): DeviceFacts {
    const n = mac ? parseInt(mac.replaceAll(':', ''), 16) : -1;
    const m = n >= 0 ? lookupManufacturer(n) : null;
    const vendor = m?.vendor ?? null;
    let maker = this.ouiBrands.get(vendor);
    if (!maker) this.ouiBrands.set(vendor, (maker = identifyBrand({ dhcpHostnames: [], dhcpVendorClass: null, ssdpServer: null, ouiVendor: vendor })));
    return {
      mac, ip, vendor, vendor_country: m?.country ?? null, mud_url: null,
      brand: maker.brand, model: maker.model, module_vendor: maker.module_vendor, role: this.roleOf(n), joined_at: null,
    };
  }

  private roleOf(mac: number): 'device' | 'gateway' {
    return mac >= 0 && this.hops.isGateway(mac) ? 'gateway' : 'device';
  }

  /** Every device as this inventory holds it, for merging into another (worker threads). */
  snapshot(): DeviceSnapshot[] {
    const out: DeviceSnapshot[] = [...this.byMac.values(), ...this.byIp.values()].map((d) => this.snapshotOf(d));
    // Next hops that are no device here (another shard may know them as one): their evidence still has to merge.
    for (const mac of this.hops.macs()) {
      if (this.byMac.has(mac)) continue;
      out.push({
        mac, key: macString(mac), ips: [], hostnames: [], dhcpNames: [], mdnsNames: [], userAgents: [], cloudNames: [], nextHops: this.hops.entries(mac),
        hopOnly: true, dhcpFingerprint: null, dhcpVendorClass: null, mudUrl: null, ssdpServer: null, flows: 0, bytesOut: 0, firstSeen: 0, lastSeen: 0,
        destinations: [], namedAt: [],
      });
    }
    return out;
  }

  private snapshotOf(d: Device): DeviceSnapshot {
    return {
      mac: d.mac, key: d.key, ips: d.ips.entries(), hostnames: d.hostnames.entries(), dhcpNames: d.dhcpNames.entries(),
      mdnsNames: d.mdnsNames.entries(), userAgents: d.userAgents.entries(), cloudNames: d.cloudNames.entries(),
      nextHops: d.mac >= 0 ? this.hops.entries(d.mac) : [],
      dhcpFingerprint: d.dhcpFingerprint, dhcpVendorClass: d.dhcpVendorClass, mudUrl: d.mudUrl, ssdpServer: d.ssdpServer,
      flows: d.flows, bytesOut: d.bytesOut, firstSeen: d.firstSeen, lastSeen: d.lastSeen, destinations: [...(d.destinations?.values() ?? [])],
      namedAt: [...(d.namedAt ?? [])],
    };
  }

  /**
   * Merges what another shard saw. Shards count disjoint flows (a device's
   * flows all belong to one shard), so counters add up; the facts every
   * shard reads (DHCP, SSDP) are the same in each, so the values agree.
   */
  absorb(list: DeviceSnapshot[]): void {
    for (const s of list) {
      for (const [ip, ts] of s.nextHops) this.hops.add(s.mac, ip, ts);
      if (s.hopOnly) continue;
      const dev = this.device(s.mac, s.key, s.firstSeen);
      if (!dev) continue;
      dev.firstSeen = Math.min(dev.firstSeen, s.firstSeen);
      dev.lastSeen = Math.max(dev.lastSeen, s.lastSeen);
      for (const [ip, ts] of s.ips) dev.ips.add(ip, ts);
      for (const [h, ts] of s.hostnames) dev.hostnames.add(h, ts);
      for (const [h, ts] of s.dhcpNames) dev.dhcpNames.add(h, ts);
      for (const [h, ts] of s.mdnsNames) dev.mdnsNames.add(h, ts);
      for (const [u, ts] of s.userAgents) dev.userAgents.add(u, ts);
      for (const [n, ts] of s.cloudNames) dev.cloudNames.add(n, ts);
      dev.sharedChanged();
      dev.dhcpFingerprint ??= s.dhcpFingerprint;
      dev.dhcpVendorClass ??= s.dhcpVendorClass;
      dev.mudUrl ??= s.mudUrl;
      dev.ssdpServer ??= s.ssdpServer;
      dev.flows += s.flows;
      dev.bytesOut += s.bytesOut;
      const namedAt = new Map(s.namedAt);
      for (const d of s.destinations) {
        const dests = (dev.destinations ??= new Map());
        let mine = dests.get(d.ip);
        if (!mine) {
          if (dests.size >= MAX_DESTINATIONS) continue;
          mine = { ...d, name: null, ports: [...d.ports], protos: [...d.protos], flows: 0, bytes_out: 0, bytes_in: 0 };
          dests.set(d.ip, mine);
        }
        mine.flows += d.flows;
        mine.bytes_out += d.bytes_out;
        mine.bytes_in += d.bytes_in;
        const at = namedAt.get(d.ip);
        if (d.name !== null && at !== undefined) nameDestination(dev, mine, d.name, at);
        for (const p of d.ports) if (!mine.ports.includes(p) && mine.ports.length < 32) mine.ports.push(p);
        for (const p of d.protos) if (!mine.protos.includes(p)) mine.protos.push(p);
        mine.first_seen = Math.min(mine.first_seen, d.first_seen);
        mine.last_seen = Math.max(mine.last_seen, d.last_seen);
      }
    }
  }

  /** The devices tracked now (evicted ones went to onEvict), most bytes sent first. */
  records(): DeviceRecord[] {
    const out = [...this.byMac.values(), ...this.byIp.values()].map((dev) => this.recordOf(dev));
    return out.sort((a, b) => b.bytes_out - a.bytes_out || String(a.mac ?? a.ips[0]).localeCompare(String(b.mac ?? b.ips[0])));
  }

  private recordOf(dev: Device): DeviceRecord {
    const m = this.manufacturer(dev);
    const maker = dev.brand(m?.vendor ?? null);
    const destinations = [...(dev.destinations?.values() ?? [])].sort((a, b) => b.bytes_out - a.bytes_out || a.ip.localeCompare(b.ip));
    for (const d of destinations) {
      d.ports.sort((a, b) => a - b);
      d.protos.sort();
    }
    return {
      mac: dev.mac >= 0 ? dev.key : null,
      vendor: m?.vendor ?? null,
      vendor_country: m?.country ?? null,
      brand: maker.brand,
      model: maker.model,
      brand_source: maker.brand_source,
      module_vendor: maker.module_vendor,
      role: this.roleOf(dev.mac),
      // Sorted, not in the order seen: with worker threads that order depends on the sharding.
      ips: dev.ips.values(),
      hostnames: dev.hostnames.values(),
      dhcp_fingerprint: dev.dhcpFingerprint,
      dhcp_vendor_class: dev.dhcpVendorClass,
      mud_url: dev.mudUrl,
      ssdp_server: dev.ssdpServer,
      user_agents: dev.userAgents.values(),
      first_seen: dev.firstSeen,
      last_seen: dev.lastSeen,
      flows: dev.flows,
      bytes_out: dev.bytesOut,
      external_destinations: destinations.length,
      destinations,
    };
  }
}
