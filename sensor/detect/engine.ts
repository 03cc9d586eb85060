import { createHash } from 'node:crypto';
import { BlockList, isIP } from 'node:net';
import type { AlertRecord, DeviceProfile, FlowRecord } from '../../contract/types.js';
import type { GeoIp, GeoInfo } from '../enrich/geoip.js';
import { isSpecialIp } from '../util/addr.js';
import { evictOldest, lowWater } from '../util/bounded.js';
import { DEFAULT_BEACON_SETTINGS, scoreBeacon, type BeaconScore } from './beacon.js';
import type { DetectionConfig, RuleId } from './config.js';
import { ProfileMatcher, type DeviceFacts } from './match.js';

const MAX_UIDS = 100;
/** Flows per alert kept for cutting its evidence capture. */
const MAX_EVIDENCE_FLOWS = 50;
/** Flows kept per beacon candidate for its evidence (all are counted). */
const MAX_SERIES_FLOWS = 20;
/**
 * Device-destination pairs followed for beaconing. A scan or flood of new
 * destinations must not grow memory without bound: the pair updated least
 * recently is forgotten first, and a live beacon is updated every beat.
 */
const MAX_SERIES = 25_000;
/**
 * Destinations followed per device. A device contacting more (a scan, a
 * flood) has its further new destinations left unfollowed until some are
 * forgotten: building a series for each of millions of one-off destinations
 * was most of the cost, and memory churn, of a flood.
 */
const MAX_SERIES_PER_DEVICE = 5_000;
/**
 * Distinct destinations itemised per rule and device in a window; beyond it
 * (a scan, a flood) flows are added to one roll-up alert for the device.
 */
const MAX_ALERTS_PER_DEVICE = 500;
const MAX_BEACON_STARTS = 100_000;

/** Enough of a flow to find its packets again. */
export interface FlowRef {
  proto: string;
  src_ip: string;
  src_port: number;
  dst_ip: string;
  dst_port: number;
  ts: number;
  end: number;
}

/** What alerts need of a flow: kept instead of whole records where many are held. */
type SlimFlow = Pick<FlowRecord, 'uid' | 'ts' | 'duration' | 'proto' | 'src_ip' | 'src_port' | 'dst_ip' | 'dst_port' | 'src_pkts' | 'dst_pkts' | 'src_bytes' | 'dst_bytes'>;

const slim = (f: FlowRecord): SlimFlow => ({
  uid: f.uid, ts: f.ts, duration: f.duration, proto: f.proto, src_ip: f.src_ip, src_port: f.src_port, dst_ip: f.dst_ip, dst_port: f.dst_port,
  src_pkts: f.src_pkts, dst_pkts: f.dst_pkts, src_bytes: f.src_bytes, dst_bytes: f.dst_bytes,
});

interface OpenAlert {
  rec: AlertRecord;
  windowEnd: number;
  flows: FlowRef[];
}

/** One device's open alerts under one rule: by destination, and past MAX_ALERTS_PER_DEVICE of them one that counts the rest. */
interface DeviceAlerts {
  open: Map<string, OpenAlert>;
  rollup: OpenAlert | null;
}

interface Series {
  facts: DeviceFacts;
  profile: string | null;
  /** the destination's address and name; its GeoIP is looked up again only if it alerts */
  dstIp: string;
  name: string | null;
  starts: number[];
  sizes: number[];
  flows: SlimFlow[];
  /** every connection counted, in the alert evidence's own shape */
  totals: Totals;
}

type Totals = Pick<AlertRecord['evidence'], 'flows' | 'packets' | 'bytes_out' | 'bytes_in' | 'first_seen' | 'last_seen'>;

/** Adds one flow to evidence totals; series and alerts count flows the same way. */
function addFlow(t: Totals, f: SlimFlow): void {
  t.flows++;
  t.packets += f.src_pkts + f.dst_pkts;
  t.bytes_out += f.src_bytes;
  t.bytes_in += f.dst_bytes;
  t.first_seen = Math.min(t.first_seen, f.ts);
  t.last_seen = Math.max(t.last_seen, f.ts + f.duration);
}

export interface DetectorOptions {
  config: DetectionConfig;
  profiles: DeviceProfile[];
  geo: GeoIp | null;
}

/** Only flows a local host opened to the Internet are judged; the rest cannot raise an alert. */
export function judges(f: FlowRecord, facts: DeviceFacts | null): facts is DeviceFacts {
  return facts !== null && !isSpecialIp(f.dst_ip) && isSpecialIp(f.src_ip);
}

const deviceName = (d: DeviceFacts) => `${d.vendor ? `${d.vendor} ` : ''}${d.mac ?? d.ip}`;

/**
 * Turns flows (and the DNS answers that precede them) into alerts. Flows are
 * aggregated per rule, device and destination, so one destination makes one
 * alert per suppression window however many flows it took.
 */
export class Detector {
  /** open alerts by rule and device */
  private readonly open = new Map<RuleId, Map<string, DeviceAlerts>>();
  private readonly done: OpenAlert[] = [];
  private readonly matcher: ProfileMatcher;
  private readonly watchNets: BlockList | null;
  private readonly watchCountries: Set<string>;
  private readonly watchAsns: Set<number>;
  private readonly series = new Map<string, Series>();
  private readonly seriesPerDevice = new Map<string, number>();
  /** beacon and strobe alerts by key: scoring again (a sensor scores after every file) replaces, never adds */
  private readonly seriesAlerts = new Map<string, OpenAlert>();

  constructor(
    private readonly opts: DetectorOptions,
    /** called once when an alert first fires (streaming consumers) */
    private readonly onNew?: (a: AlertRecord) => void,
  ) {
    this.matcher = new ProfileMatcher(opts.profiles);
    const c = opts.config;
    this.watchCountries = new Set(c.watchCountries);
    this.watchAsns = new Set(c.watchAsns);
    this.watchNets = c.watchNetworks.length ? new BlockList() : null;
    for (const n of c.watchNetworks) {
      const [addr, len] = n.split('/');
      this.watchNets!.addSubnet(addr, Number(len), isIP(addr) === 6 ? 'ipv6' : 'ipv4');
    }
  }

  private rule(id: RuleId) {
    return this.opts.config.rules[id];
  }

  /**
   * One ended flow, with the local host that initiated it (null: none did)
   * and whether DNS gave that host the destination before the flow began.
   */
  onFlow(f: FlowRecord, facts: DeviceFacts | null, resolved: boolean): void {
    if (!judges(f, facts)) return;
    const profile = this.matcher.profileFor(facts);
    const geo = this.opts.geo?.lookup(f.dst_ip) ?? { country: null, asn: null, as_org: null };
    const dest = (name: string | null, withPort: boolean): AlertRecord['destination'] => ({
      ip: f.dst_ip, port: withPort ? f.dst_port : null, proto: withPort ? f.proto : null, name, country: geo.country, asn: geo.asn, as_org: geo.as_org,
    });
    const name = f.server_name;
    const dev = () => deviceName(facts);

    if (profile && this.rule('undocumented-destination').enabled && !this.matcher.documents(profile, f)) {
      const target = name ?? f.dst_ip;
      this.add('undocumented-destination', `${target}|${f.proto}|${f.dst_port}`, f, facts, profile, () => dest(name, true),
        () => `${dev()} (profile ${profile.profile}) connected to ${target} on ${f.proto}/${f.dst_port}, which its profile does not document`,
        () => `no entry in ${profile.source ?? profile.profile} documents ${target} ${f.proto}/${f.dst_port}`);
    }
    if (!profile && this.rule('unprofiled-device').enabled) {
      this.add('unprofiled-device', '', f, facts, null, () => null,
        () => `${dev()} talks to the Internet but no device profile covers it`, () => 'no profile matches its MAC, OUI, vendor or MUD URL');
    }
    if (this.rule('geo-callback').enabled) {
      const why = this.watched(f.dst_ip, geo);
      if (why) {
        this.add('geo-callback', f.dst_ip, f, facts, profile, () => dest(name, true),
          () => `${dev()} connected to ${f.dst_ip}${name ? ` (${name})` : ''} in ${why}`, () => why);
      }
    }
    const direct = this.rule('direct-ip');
    if (direct.enabled && (f.proto === 'tcp' || f.proto === 'udp') && !(direct.params.ignore_ports as number[]).includes(f.dst_port)) {
      const documented = profile && this.matcher.documents(profile, f)?.cidr;
      if (f.dns_name === null && !resolved && !documented) {
        this.add('direct-ip', f.dst_ip, f, facts, profile, () => dest(f.sni ?? f.http_host, true),
          () => `${dev()} connected to ${f.dst_ip}:${f.dst_port}/${f.proto} without resolving it through DNS (a hard-coded address)`,
          () => `no DNS answer gave ${f.dst_ip} to ${f.src_ip} before the connection`);
      }
    }
    if (this.rule('beaconing').enabled || this.rule('strobe').enabled) {
      const key = `${facts.mac ?? facts.ip}|${name ?? f.dst_ip}`;
      let s = this.series.get(key);
      if (s) {
        // Most recently updated last, so the map's first entry is the one to forget.
        this.series.delete(key);
        this.series.set(key, s);
      } else {
        const device = facts.mac ?? facts.ip;
        const followed = this.seriesPerDevice.get(device) ?? 0;
        if (followed >= MAX_SERIES_PER_DEVICE) return;
        if (this.series.size >= MAX_SERIES) evictOldest(this.series, lowWater(MAX_SERIES), (gone) => this.unfollow(gone));
        const totals: Totals = { flows: 0, packets: 0, bytes_out: 0, bytes_in: 0, first_seen: f.ts, last_seen: f.ts };
        s = { facts, profile: profile?.profile ?? null, dstIp: f.dst_ip, name, starts: [], sizes: [], flows: [], totals };
        this.series.set(key, s);
        this.seriesPerDevice.set(device, followed + 1);
      }
      addFlow(s.totals, f);
      if (s.starts.length < MAX_BEACON_STARTS) {
        s.starts.push(f.ts);
        s.sizes.push(f.src_bytes + f.dst_bytes);
      }
      if (s.flows.length < MAX_SERIES_FLOWS) s.flows.push(slim(f));
    }
  }

  private unfollow(s: Series): void {
    const device = s.facts.mac ?? s.facts.ip;
    const n = (this.seriesPerDevice.get(device) ?? 1) - 1;
    if (n > 0) this.seriesPerDevice.set(device, n);
    else this.seriesPerDevice.delete(device);
  }

  private watched(ip: string, geo: GeoInfo): string | null {
    if (geo.country && this.watchCountries.has(geo.country)) return `${geo.country}, a watched country${geo.asn ? ` (AS${geo.asn} ${geo.as_org ?? ''})`.trimEnd() : ''}`;
    if (geo.asn !== null && this.watchAsns.has(geo.asn)) return `AS${geo.asn} ${geo.as_org ?? ''}, a watched network`.replace('  ', ' ');
    if (this.watchNets?.check(ip, isIP(ip) === 6 ? 'ipv6' : 'ipv4')) return 'a watched network';
    return null;
  }

  private add(rule: RuleId, destKey: string, f: FlowRecord, facts: DeviceFacts, profile: DeviceProfile | null, destOf: () => AlertRecord['destination'], messageOf: () => string, reasonOf: () => string, extra: Partial<AlertRecord['evidence']> = {}): void {
    // Looked up by the device's own (long-lived) key string, not a key built per flow: under a scan that was a tenth of the run.
    const dev = facts.mac ?? facts.ip;
    let byDevice = this.open.get(rule);
    if (!byDevice) this.open.set(rule, (byDevice = new Map()));
    let d = byDevice.get(dev);
    if (!d) byDevice.set(dev, (d = { open: new Map(), rollup: null }));
    let a = d.open.get(destKey);
    if (a && f.ts >= a.windowEnd) {
      this.done.push(a);
      d.open.delete(destKey);
      a = undefined;
    }
    if (a) return this.account(a, f);
    if (destKey !== '' && d.open.size + (d.rollup ? 1 : 0) >= MAX_ALERTS_PER_DEVICE) {
      if (d.rollup) return this.account(d.rollup, f);
      a = d.rollup = this.create(rule, `${rule}|${dev}|*`, f, facts, profile, null,
        `${deviceName(facts)} reached more than ${MAX_ALERTS_PER_DEVICE} distinct destinations under rule ${rule} (a scan or flood?); further ones are counted in this alert`,
        `more than ${MAX_ALERTS_PER_DEVICE} ${rule} destinations for one device`, extra);
    } else {
      // Texts are built only for a new alert: most flows add to an open one.
      a = this.create(rule, `${rule}|${dev}|${destKey}`, f, facts, profile, destOf(), messageOf(), reasonOf(), extra);
      d.open.set(destKey, a);
    }
    this.account(a, f);
    this.onNew?.(a.rec);
  }

  private create(rule: RuleId, key: string, f: SlimFlow, facts: DeviceFacts, profile: DeviceProfile | null, dest: AlertRecord['destination'], message: string, reason: string, extra: Partial<AlertRecord['evidence']>): OpenAlert {
    const settings = this.rule(rule);
    return {
      rec: {
        id: alertId(key, f.uid),
        ts: f.ts,
        rule,
        severity: settings.severity,
        message,
        device: { mac: facts.mac, ip: facts.ip, vendor: facts.vendor, vendor_country: facts.vendor_country, profile: profile?.profile ?? null },
        destination: dest,
        evidence: { first_seen: f.ts, last_seen: f.ts + f.duration, flows: 0, packets: 0, bytes_out: 0, bytes_in: 0, uids: [], reason, ...extra },
        mitre: settings.mitre,
      },
      windowEnd: f.ts + this.opts.config.suppressionWindowS,
      flows: [],
    };
  }

  private account(a: OpenAlert, f: SlimFlow): void {
    // Each flow reaches each rule once (flows end once), so no flow counts twice in an alert.
    const e = a.rec.evidence;
    addFlow(e, f);
    if (e.uids.length < MAX_UIDS) e.uids.push(f.uid);
    if (a.flows.length < MAX_EVIDENCE_FLOWS) {
      a.flows.push({ proto: f.proto, src_ip: f.src_ip, src_port: f.src_port, dst_ip: f.dst_ip, dst_port: f.dst_port, ts: f.ts, end: f.ts + f.duration });
    }
  }

  /** Scores beacons over the whole observed span and returns every alert, oldest first. */
  finish(spanStart: number, spanEnd: number): AlertRecord[] {
    this.beacons(spanStart, spanEnd);
    const all = [...this.done];
    for (const byDevice of this.open.values()) {
      for (const d of byDevice.values()) all.push(...d.open.values(), ...(d.rollup ? [d.rollup] : []));
    }
    all.push(...this.seriesAlerts.values());
    this.lastRefs = new Map(all.map((a) => [a.rec.id, a.flows]));
    return all.map((a) => a.rec).sort((x, y) => x.ts - y.ts || x.id.localeCompare(y.id));
  }

  private lastRefs = new Map<string, FlowRef[]>();

  /** The flows behind each alert returned by finish(), for evidence captures. */
  evidenceFlows(): Map<string, FlowRef[]> {
    return this.lastRefs;
  }

  private beacons(spanStart: number, spanEnd: number): void {
    const b = this.rule('beaconing');
    const strobe = this.rule('strobe');
    for (const s of this.series.values()) {
      const dev = deviceName(s.facts);
      const target = s.name ?? s.dstIp;
      const key = `|${s.facts.mac ?? s.facts.ip}|${target}`;
      if (strobe.enabled && s.totals.flows >= (strobe.params.min_connections as number)) {
        this.seriesAlert('strobe', key, s, `${dev} connected to ${target} ${s.totals.flows} times: a strobe, too frequent to be a beacon`, `${s.totals.flows} connections`, { connections: s.totals.flows });
        continue;
      }
      if (!b.enabled || s.totals.flows < (b.params.min_connections as number)) continue;
      const score = scoreBeacon(s.starts, s.sizes, spanStart, spanEnd, { ...DEFAULT_BEACON_SETTINGS, mergeWithinS: b.params.merge_within_s as number });
      if (!score || !isBeacon(score, b.params)) continue;
      this.seriesAlert('beaconing', key, s,
        `${dev} contacted ${target} ${score.beats} times every ${round(score.interval)} s (jitter ${round(score.jitter)} s, beacon score ${score.score})`,
        `regular connections: beacon score ${score.score} (timestamps ${score.timestamps}, sizes ${score.sizes}, histogram ${score.histogram}, duration ${score.duration})`,
        {
          interval_s: round(score.interval), jitter_s: round(score.jitter), score: score.score, connections: s.totals.flows,
          subscores: { timestamps: score.timestamps, sizes: score.sizes, histogram: score.histogram, duration: score.duration },
        });
    }
  }

  /** Beacons and strobes are judged over the whole series: one alert each, with the series' totals. */
  private seriesAlert(rule: RuleId, key: string, s: Series, message: string, reason: string, extra: Partial<AlertRecord['evidence']>): void {
    const geo = this.opts.geo?.lookup(s.dstIp) ?? { country: null, asn: null, as_org: null };
    const dst: AlertRecord['destination'] = { ip: s.dstIp, port: null, proto: null, name: s.name, country: geo.country, asn: geo.asn, as_org: geo.as_org };
    const a = this.create(rule, rule + key, s.flows[0], s.facts, this.profileByName(s.profile), dst, message, reason, extra);
    for (const f of s.flows) this.account(a, f);
    // The kept flows are a sample; the totals cover every connection.
    Object.assign(a.rec.evidence, s.totals);
    const known = this.seriesAlerts.has(rule + key);
    this.seriesAlerts.set(rule + key, a);
    if (!known) this.onNew?.(a.rec);
  }

  private profileByName(name: string | null): DeviceProfile | null {
    return name ? (this.opts.profiles.find((p) => p.profile === name) ?? null) : null;
  }
}

const round = (x: number) => Math.round(x * 1000) / 1000;

/** The thresholds of rules/detections.yaml applied to a score. */
export function isBeacon(s: BeaconScore, params: Record<string, number | number[]>): boolean {
  return s.score >= (params.min_score as number) && s.timestamps >= (params.min_timestamp_score as number) && s.jitter <= (params.max_jitter_ratio as number) * s.interval;
}

function alertId(key: string, firstUid: string): string {
  return `A${createHash('sha1').update(`${key}|${firstUid}`).digest('base64url').slice(0, 19)}`;
}
