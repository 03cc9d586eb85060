import type { FlowRecord, ScanEvidence } from '../../../contract/types.js';
import type { DeviceFacts } from '../../devices/inventory.js';
import { evictOldest, lowWater } from '../../util/bounded.js';
import { DistinctBudget, DistinctCounter } from '../distinct.js';
import { deviceLabel, type AlertSpec, type Rule, type RuleContext, type SeenFlow } from '../rule.js';

export type ScanParams = {
  min_hosts: number;
  min_ports: number;
  window_s: number;
  telnet_ports: number[];
};

/** Address and port trackers held at once (each device-port and device-host pair a device reached lately). */
const MAX_TRACKERS = 20_000;
/** Flows held, over all trackers, while they wait for a threshold (they become the alert's first evidence). */
const MAX_PENDING_FLOWS = 50_000;
/** Pending flows one tracker holds: more in its window are counted but not itemised. */
const MAX_PENDING_PER_TRACKER = 100;
/** Distinct targets one alert counts exactly; past it (or the rule's budget) they are estimated. */
const MAX_EXACT = 65_536;
const EXACT_BUDGET = 1_000_000;
const SAMPLE = 10;
/** Seconds of capture time between moves of a busy tracker to the end of the recently used order. */
const TOUCH_EVERY_S = 10;

/** A target: an address (kind hosts) or a protocol and port as protoPort() numbers them (kind ports). */
type Target = string | number;

/** A device's attempts towards one port (kind hosts: the hosts it reached) or one host (kind ports: its ports). */
interface Tracker {
  key: string;
  /** the device (DeviceFacts mac ?? ip) */
  device: string;
  /** the device's trackers of this kind, where it is found by `sub` (its port, or its host) */
  home: Map<Target, Tracker>;
  sub: Target;
  /** before the alert: each target's latest attempt in the window, oldest first */
  window: Map<Target, number>;
  /** the target set last in the window: the last entry while it is there (set() adds it last when it is not) */
  lastTarget: Target | null;
  /** before the alert: the window's attempts, to raise as the alert's first evidence */
  pending: FlowRecord[];
  /** latest attempt time seen (flows come nearly, not strictly, in time order) */
  now: number;
  /** when it was last moved to the end of the recently used order */
  touched: number;
  /** after the alert: counts, and when the alert's suppression window ends */
  /** trackers created (by the rule) when it was last moved there */
  movedAt: number;
  /** after the alert: counts (`carried`: targets counted by the trackers this one took over from), and when its suppression window ends */
  alert: { ev: ScanEvidence; distinct: DistinctCounter; carried: number; until: number; spec: AlertSpec } | null;
}

/**
 * One device reaching many hosts on one port, or many ports of one host, in
 * a short window (Zeek's scan policy: 25 hosts or 15 ports in 5 minutes):
 * local or Internet destinations, TCP and UDP, answered or not. Addresses a
 * DNS answer gave the device are not scan targets (a phone app opening 40
 * named servers is not scanning); nor are multicast and broadcast groups,
 * nor TCP sessions whose start was not seen. One alert per device and port
 * (or host) per suppression window, counting every target in bounded memory.
 */
export const scan: Rule<ScanParams> = {
  id: 'scan',
  summary: 'a device reaches 25 hosts on one port or 15 ports of one host within 5 minutes (a scan; Telnet scans called out)',
  defaults: { enabled: true, severity: 'high', mitre: ['T1046', 'T1595'], params: { min_hosts: 25, min_ports: 15, window_s: 300, telnet_ports: [23, 2323] } },
  evidence: ['scan'],
  create: (ctx) => new ScanRun(ctx),
};

/** One device's trackers by port (kind hosts) and by host (kind ports): found per flow without building a key. */
interface DeviceTrackers {
  hosts: Map<Target, Tracker>;
  ports: Map<Target, Tracker>;
}

class ScanRun {
  /** every tracker by key, least recently used first: the order the memory bound forgets them in */
  private readonly trackers = new Map<string, Tracker>();
  private readonly devices = new Map<string, DeviceTrackers>();
  private readonly budget = new DistinctBudget(EXACT_BUDGET);
  private pendingFlows = 0;
  /** trackers made so far: a clock for moving busy ones before the memory bound reaches them */
  private created = 0;

  constructor(private readonly ctx: RuleContext<ScanParams>) {}

  seen(s: SeenFlow): void {
    const f = s.flow;
    const d = s.device;
    if (d === null || !s.ends.srcLocal || d.role === 'gateway') return;
    if ((f.proto !== 'tcp' && f.proto !== 'udp') || f.mid_stream || s.resolved || f.dns_name !== null) return;
    if (f.dst_ip === f.src_ip || isGroup(f.dst_ip, s.ends.dstLocal)) return;
    const dev = d.mac ?? d.ip;
    let mine = this.devices.get(dev);
    if (mine === undefined) this.devices.set(dev, (mine = { hosts: new Map(), ports: new Map() }));
    const port = protoPort(f);
    this.count(s, d, mine.hosts, port, 'hosts', f.dst_ip);
    this.count(s, d, mine.ports, f.dst_ip, 'ports', port);
  }

  private count(s: SeenFlow, d: DeviceFacts, home: Map<Target, Tracker>, sub: Target, kind: ScanEvidence['kind'], target: Target): void {
    const f = s.flow;
    let t = home.get(sub);
    if (t) {
      // Recently used last, so the map's first trackers are the ones to forget; moved at most every few
      // seconds, since moving a busy tracker at every flow of a scan was most of the rule's cost, or
      // sooner when many trackers were made since (a flood of targets must not push out the busiest).
      if (f.ts - t.touched > TOUCH_EVERY_S || this.created - t.movedAt > MAX_TRACKERS / 4) {
        t.touched = f.ts;
        t.movedAt = this.created;
        this.trackers.delete(t.key);
        this.trackers.set(t.key, t);
      }
      if (t.alert && f.ts >= t.alert.until) this.reset(t);
    } else {
      const device = d.mac ?? d.ip;
      const key = `${device}|${kind}|${kind === 'hosts' ? `${f.proto}/${f.dst_port}` : f.dst_ip}`;
      t = { key, device, home, sub, window: new Map(), lastTarget: null, pending: [], now: f.ts, touched: f.ts, movedAt: ++this.created, alert: null };
      home.set(sub, t);
      this.trackers.set(key, t);
      if (this.trackers.size > MAX_TRACKERS) evictOldest(this.trackers, lowWater(MAX_TRACKERS), (x) => this.forget(x));
    }
    if (t.alert) return this.add(t, f, d, target);
    t.now = Math.max(t.now, f.ts);
    this.expire(t);
    // Oldest first: a target attempted again moves last (one already last stays, sparing the map a delete).
    if (target !== t.lastTarget) {
      t.window.delete(target);
      t.lastTarget = target;
    }
    t.window.set(target, f.ts);
    if (t.pending.length < MAX_PENDING_PER_TRACKER && this.pendingFlows < MAX_PENDING_FLOWS) {
      t.pending.push(f);
      this.pendingFlows++;
    }
    const p = this.ctx.settings.params;
    const threshold = Math.max(1, kind === 'hosts' ? p.min_hosts : p.min_ports);
    if (t.window.size >= threshold) this.open(t, s, d, kind, threshold);
  }

  /** Forgets the targets and flows of the window that are older than it. */
  private expire(t: Tracker): void {
    const cutoff = t.now - this.ctx.settings.params.window_s;
    for (const [target, ts] of t.window) {
      if (ts >= cutoff) break;
      t.window.delete(target);
    }
    let n = 0;
    while (n < t.pending.length && t.pending[n].ts < cutoff) n++;
    if (n > 0) {
      t.pending.splice(0, n);
      this.pendingFlows -= n;
    }
  }

  /** The threshold is reached: the alert opens with the window's attempts, and counts every later one. */
  private open(t: Tracker, s: SeenFlow, d: DeviceFacts, kind: ScanEvidence['kind'], threshold: number): void {
    const f = s.flow;
    const p = this.ctx.settings.params;
    const port = kind === 'hosts' ? f.dst_port : null;
    const ev: ScanEvidence = {
      kind, port, proto: kind === 'hosts' ? f.proto : null, host: kind === 'ports' ? f.dst_ip : null,
      targets: 0, estimated: false, attempts: 0, failed: 0, window_s: p.window_s, threshold, sample: [],
      telnet: port !== null && p.telnet_ports.includes(port),
    };
    const distinct = new DistinctCounter(this.budget, MAX_EXACT);
    for (const target of t.window.keys()) {
      const text = targetText(target);
      distinct.add(text);
      if (ev.sample.length < SAMPLE) ev.sample.push(text);
    }
    ev.targets = distinct.size;
    const pending = t.pending.length > 0 ? t.pending : [f];
    t.alert = { ev, distinct, carried: 0, until: pending[0].ts + this.ctx.config.suppressionWindowS, spec: this.spec(t, ev, s, d) };
    this.pendingFlows -= t.pending.length;
    t.pending = [];
    t.window = new Map();
    for (const g of pending) this.raise(t, g, d);
  }

  /** An attempt after the alert opened: one more target (if new) and one more flow of its evidence. */
  private add(t: Tracker, f: FlowRecord, d: DeviceFacts, target: Target): void {
    const a = t.alert!;
    const text = targetText(target);
    if (a.distinct.add(text)) {
      a.ev.targets = a.carried + a.distinct.size;
      a.ev.estimated = a.carried > 0 || a.distinct.estimated;
      if (a.ev.sample.length < SAMPLE) a.ev.sample.push(text);
    }
    this.raise(t, f, d);
  }

  private raise(t: Tracker, f: FlowRecord, d: DeviceFacts): void {
    const a = t.alert!;
    a.ev.attempts++;
    if (failed(f)) a.ev.failed++;
    this.ctx.raise({ flow: f, device: d, profile: this.ctx.profiles.profileFor(d) }, a.spec);
  }

  /** What the alert says, from the attempt that reached the threshold. */
  private spec(t: Tracker, ev: ScanEvidence, s: SeenFlow, d: DeviceFacts): AlertSpec {
    const f = s.flow;
    const what = ev.kind === 'hosts' ? `${ev.threshold} hosts on ${ev.proto}/${ev.port}${ev.telnet ? ' (Telnet, as Mirai-style bots scan)' : ''}` : `${ev.threshold} ports of ${ev.host}`;
    return {
      key: ev.kind === 'hosts' ? `hosts|${ev.proto}/${ev.port}` : `ports|${ev.host}`,
      destination: () =>
        ev.kind === 'hosts'
          ? { ip: null, port: ev.port, proto: ev.proto, name: null, country: null, asn: null, as_org: null }
          : { ip: f.dst_ip, port: null, proto: null, name: null, country: s.dst?.country ?? null, asn: s.dst?.asn ?? null, as_org: s.dst?.as_org ?? null },
      message: () => `${deviceLabel(d)} reached ${what} within ${ev.window_s} s: a ${ev.telnet ? 'Telnet ' : ''}scan`,
      reason: () => `${ev.threshold} distinct ${ev.kind === 'hosts' ? 'hosts on one port' : 'ports of one host'} within ${ev.window_s} s (rules.scan.${ev.kind === 'hosts' ? 'min_hosts' : 'min_ports'})`,
      evidence: (e) => adopt(e, t),
    };
  }

  /** The alert's window is over: the tracker starts again from nothing. */
  private reset(t: Tracker): void {
    this.drop(t);
    t.pending = [];
    t.window = new Map();
  }

  /** The memory bound forgets the tracker. */
  private forget(t: Tracker): void {
    this.drop(t);
    t.home.delete(t.sub);
    const mine = this.devices.get(t.device);
    if (mine && mine.hosts.size === 0 && mine.ports.size === 0) this.devices.delete(t.device);
  }

  /** The tracker is forgotten (or starts again): what it held goes back to the rule's bounds. */
  private drop(t: Tracker): void {
    t.alert?.distinct.release();
    t.alert = null;
    this.pendingFlows -= t.pending.length;
  }
}

/**
 * The alert's scan evidence is the tracker's, updated as it counts. A
 * tracker forgotten (memory bound) and rebuilt while its alert is still open
 * adds to the counts the alert already holds; targets may then count twice.
 */
function adopt(e: { scan?: ScanEvidence }, t: Tracker): void {
  const a = t.alert!;
  if (e.scan === undefined || e.scan === a.ev) {
    e.scan = a.ev;
    return;
  }
  const old = e.scan;
  a.ev.attempts += old.attempts;
  a.ev.failed += old.failed;
  a.carried += old.targets;
  a.ev.targets = a.carried + a.distinct.size;
  a.ev.estimated = true;
  a.ev.sample = [...old.sample, ...a.ev.sample.filter((x) => !old.sample.includes(x))].slice(0, SAMPLE);
  e.scan = a.ev;
}

/** A flow's protocol and destination port as one number: TCP and UDP ports apart, no string per flow. */
const protoPort = (f: FlowRecord): number => (f.proto === 'tcp' ? 0x10000 : 0x20000) | f.dst_port;

/** How evidence writes a target: the address, or protocol/port ("tcp/23"). */
const targetText = (t: Target): string => (typeof t === 'string' ? t : `${t >= 0x20000 ? 'udp' : 'tcp'}/${t & 0xffff}`);

/** An attempt nobody took: TCP unanswered (S0) or refused (REJ), UDP unanswered. */
function failed(f: FlowRecord): boolean {
  return f.proto === 'tcp' ? f.state === 'S0' || f.state === 'REJ' : f.dst_pkts === 0;
}

/**
 * Multicast and broadcast groups (mDNS, SSDP, DHCP, a local subnet's broadcast address): one packet
 * reaches every host, it scans none. On the Internet an address ending in .255 is a host like any other.
 */
export function isGroup(ip: string, local: boolean): boolean {
  if (ip.includes(':')) return /^ff/i.test(ip);
  const first = Number(ip.slice(0, ip.indexOf('.')));
  return first >= 224 || (local && ip.endsWith('.255'));
}
