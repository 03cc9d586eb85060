import { createHash } from 'node:crypto';
import type { AlertRecord, Severity } from '../../contract/types.js';
import type { DeviceFacts } from '../devices/inventory.js';
import type { RuleSettings, ExtraEvidence } from './rule.js';
import { deviceLabel } from './rule.js';
import { keep, KeptBudget, MAX_KEPT_ALERT_FLOWS, MAX_KEPT_PER_ALERT, type FlowRef, type KeptFlows } from './kept.js';
import { addFlow, type Series, type SlimFlow } from './series.js';
import { grouped } from '../util/format.js';

export type { FlowRef, KeptFlows };

const MAX_UIDS = 100;
/**
 * Distinct destinations itemised per rule and device in a window; beyond it
 * (a scan, a flood) flows are added to one roll-up alert for the device.
 */
const MAX_ALERTS_PER_DEVICE = 500;
/**
 * Alerts itemised per run (--max-alerts): a flood of spoofed devices or
 * destinations must not become a flood of alerts, nor their memory. Past it,
 * what would have opened a new alert is counted in one roll-up per rule.
 */
export const DEFAULT_MAX_ALERTS = 10_000;
/** Distinct alerts a roll-up tells apart (by a 52-bit hash of rule, device and key) to count them; past it the count is a lower bound. */
const MAX_HELD_KEYS = 1 << 20;
/** What a run-wide roll-up names as its device: it stands for many. */
const ANY_DEVICE: DeviceFacts = { mac: null, ip: '*', vendor: null, vendor_country: null, mud_url: null };

interface OpenAlert {
  rec: AlertRecord;
  windowEnd: number;
  /** the flows kept to cut its evidence capture from */
  kept: KeptFlows;
}

/** One device's open alerts under one rule: by key, and past MAX_ALERTS_PER_DEVICE of them one that counts the rest. */
interface DeviceAlerts {
  open: Map<string, OpenAlert>;
  rollup: OpenAlert | null;
}

/** A rule's alerts past the run's limit: one roll-up alert, and how many alerts it stands for. */
interface HeldBack {
  alert: OpenAlert;
  /** hashes of the held-back alerts' keys (rule, device, key), while fewer than MAX_HELD_KEYS */
  keys: Set<number>;
  alerts: number;
  /** more distinct keys came than `keys` holds: `alerts` is a lower bound */
  saturated: boolean;
  /** series roll-ups: the series scored into it (rebuilt at every scoring) */
  series: boolean;
}

/** What a new alert says; built only when an alert opens, since most flows add to one already open. */
export interface NewAlert {
  device: DeviceFacts;
  profile: string | null;
  destination: () => AlertRecord['destination'];
  message: () => string;
  reason: () => string;
  /** seconds it stays open before flows open the next one: the suppression window unless set (Infinity: one per run) */
  windowS?: number;
  /** fills the rule's own evidence fields, for every flow added to an itemised alert */
  evidence?: (e: AlertRecord['evidence']) => void;
}

/**
 * Every alert of a run. Flows are aggregated per rule, device and key (the
 * destination), so one destination makes one alert per suppression window
 * (or the alert's own window: Infinity for one per run) however many flows it
 * took; series alerts (beacons) are one per device and destination, replaced
 * when scored again.
 */
export class AlertBook {
  /** open alerts by rule and device */
  private readonly open = new Map<string, Map<string, DeviceAlerts>>();
  private readonly done: OpenAlert[] = [];
  /** series alerts by key: scoring again (a sensor scores after every file) replaces, never adds */
  private readonly seriesAlerts = new Map<string, OpenAlert>();
  private lastRefs = new Map<string, KeptFlows>();
  /** flows kept for evidence over every alert of the run */
  private readonly budget = new KeptBudget(MAX_KEPT_ALERT_FLOWS);
  /** alerts itemised so far (closed, open, per-device roll-ups, series) */
  private itemised = 0;
  /** roll-ups past the run's limit, by rule: from flows, and from the last scoring of series */
  private readonly heldFlows = new Map<string, HeldBack>();
  private heldSeries = new Map<string, HeldBack>();

  constructor(
    private readonly settingsOf: (rule: string) => RuleSettings,
    private readonly windowS: number,
    /** called once when an alert first fires (streaming consumers) */
    private readonly onNew?: (a: AlertRecord) => void,
    private readonly maxAlerts = DEFAULT_MAX_ALERTS,
  ) {}

  /** Adds a flow to the device's open alert for `key` under `rule`, or opens one. */
  raise(rule: string, key: string, f: SlimFlow, a: NewAlert): void {
    let d = this.open.get(rule)?.get(a.device.mac ?? a.device.ip);
    let open = d?.open.get(key);
    if (open && f.ts >= open.windowEnd) {
      this.done.push(open);
      d!.open.delete(key);
      open = undefined;
    }
    if (open) {
      this.account(open, f);
      a.evidence?.(open.rec.evidence);
      return;
    }
    const deviceFull = d !== undefined && key !== '' && d.open.size + (d.rollup ? 1 : 0) >= MAX_ALERTS_PER_DEVICE;
    if (deviceFull && d!.rollup) return this.account(d!.rollup, f);
    if (this.itemised >= this.maxAlerts) return this.holdBack(rule, `${a.device.mac ?? a.device.ip}|${key}`, f);
    this.itemised++;
    d ??= this.deviceAlerts(rule, a.device);
    if (deviceFull) {
      open = d.rollup = this.rollup(rule, f, a);
    } else {
      const id = `${rule}|${a.device.mac ?? a.device.ip}|${key}`;
      open = this.create(rule, id, f, a.device, a.profile, a.destination(), a.message(), a.reason(), {});
      if (a.windowS !== undefined) open.windowEnd = f.ts + a.windowS;
      // One alert for good: the same id in every run and every sensor, so the collector keeps one.
      if (a.windowS === Infinity) open.rec.id = alertId(id, '');
      d.open.set(key, open);
      a.evidence?.(open.rec.evidence);
    }
    this.account(open, f);
    this.onNew?.(open.rec);
  }

  /** An alert over a whole series, with the series' totals; the flows the series kept are its evidence. At the rule's severity unless given one. */
  raiseSeries(rule: string, s: Series, message: string, reason: string, extra: ExtraEvidence, severity?: Severity): void {
    const key = `${rule}|${s.device.mac ?? s.device.ip}|${s.name ?? s.dstIp}`;
    const dst: AlertRecord['destination'] = { ip: s.dstIp, port: null, proto: null, name: s.name, country: s.dst.country, asn: s.dst.asn, as_org: s.dst.as_org };
    const known = this.seriesAlerts.has(key);
    if (!known && this.itemised >= this.maxAlerts) return this.holdBackSeries(rule, s);
    const a = this.create(rule, key, s.flows[0], s.device, s.profile, dst, message, reason, extra);
    if (severity !== undefined) a.rec.severity = severity;
    a.rec.evidence.uids = s.flows.slice(0, MAX_UIDS).map((f) => f.uid);
    // The series keeps the flows (a copy: it goes on growing after this scoring); the totals cover every connection.
    a.kept = { refs: s.kept.refs.slice(), unkept: new Set(s.kept.unkept) };
    Object.assign(a.rec.evidence, s.totals);
    this.seriesAlerts.set(key, a);
    if (!known) {
      this.itemised++;
      this.onNew?.(a.rec);
    }
  }

  /** Series are about to be scored again: their roll-ups are rebuilt from this scoring. */
  beginScoring(): void {
    this.heldSeries = new Map();
  }

  /** A flow that would have opened a new alert past the run's limit: counted in the rule's roll-up. */
  private holdBack(rule: string, key: string, f: SlimFlow): void {
    let h = this.heldFlows.get(rule);
    const fresh = !h;
    if (!h) this.heldFlows.set(rule, (h = this.heldBack(rule, f, false)));
    const k = keyHash(key);
    if (!h.keys.has(k)) {
      if (h.keys.size < MAX_HELD_KEYS) {
        h.keys.add(k);
        h.alerts++;
      } else h.saturated = true;
    }
    this.account(h.alert, f);
    if (fresh) this.onNew?.(this.describe(h));
  }

  /** A series that would have raised a new alert past the run's limit: its totals go into the rule's series roll-up. */
  private holdBackSeries(rule: string, s: Series): void {
    let h = this.heldSeries.get(rule);
    const fresh = !h;
    if (!h) this.heldSeries.set(rule, (h = this.heldBack(rule, s.flows[0], true)));
    h.alerts++;
    const e0 = h.alert.rec.evidence;
    for (const f of s.flows) if (e0.uids.length < MAX_UIDS) e0.uids.push(f.uid);
    // The roll-up points at the series' kept flows; no flow is kept twice.
    const k = h.alert.kept;
    const room = MAX_KEPT_PER_ALERT - k.refs.length;
    k.refs.push(...s.kept.refs.slice(0, Math.max(0, room)));
    if (s.kept.refs.length > room) k.unkept.add('alert-flows');
    for (const c of s.kept.unkept) k.unkept.add(c);
    // The kept flows are a sample; the totals cover every connection.
    const e = h.alert.rec.evidence;
    const t = s.totals;
    e.flows += t.flows;
    e.packets += t.packets;
    e.bytes_out += t.bytes_out;
    e.bytes_in += t.bytes_in;
    e.first_seen = Math.min(e.first_seen, t.first_seen);
    e.last_seen = Math.max(e.last_seen, t.last_seen);
    if (fresh) this.onNew?.(this.describe(h));
  }

  private heldBack(rule: string, f: SlimFlow, series: boolean): HeldBack {
    const alert = this.create(rule, `${rule}|*|${series ? 'series' : '*'}`, f, ANY_DEVICE, null, null, '', '', {});
    return { alert, keys: new Set(), alerts: 0, saturated: false, series };
  }

  /** A roll-up's message and reason say how many alerts it stands for, as counted so far. */
  private describe(h: HeldBack): AlertRecord {
    const r = h.alert.rec;
    const n = `${h.saturated ? 'more than ' : ''}${grouped(h.alerts)}`;
    const what = h.series ? `${r.rule} alerts on device-destination series` : `${r.rule} alerts`;
    r.message = `${n} further ${what} past this run's limit of ${grouped(this.maxAlerts)} alerts (a flood?): counted here, not itemised`;
    r.evidence.reason = `the run reached ${this.maxAlerts} alerts; this roll-up stands for ${n} ${r.rule} alerts and holds the totals of their ${r.evidence.flows} flows`;
    return r;
  }

  /** Every alert, oldest first; remembers their flows for evidenceFlows(). */
  all(): AlertRecord[] {
    const all = [...this.done];
    for (const byDevice of this.open.values()) {
      for (const d of byDevice.values()) all.push(...d.open.values(), ...(d.rollup ? [d.rollup] : []));
    }
    all.push(...this.seriesAlerts.values());
    for (const h of [...this.heldFlows.values(), ...this.heldSeries.values()]) {
      this.describe(h);
      all.push(h.alert);
    }
    this.lastRefs = new Map(all.map((a) => [a.rec.id, a.kept]));
    return all.map((a) => a.rec).sort((x, y) => x.ts - y.ts || x.id.localeCompare(y.id));
  }

  /** The flows kept of each alert returned by all(), for evidence captures. */
  evidenceFlows(): Map<string, KeptFlows> {
    return this.lastRefs;
  }

  private deviceAlerts(rule: string, device: DeviceFacts): DeviceAlerts {
    // Looked up by the device's own (long-lived) key string, not a key built per flow: under a scan that was a tenth of the run.
    const dev = device.mac ?? device.ip;
    let byDevice = this.open.get(rule);
    if (!byDevice) this.open.set(rule, (byDevice = new Map()));
    let d = byDevice.get(dev);
    if (!d) byDevice.set(dev, (d = { open: new Map(), rollup: null }));
    return d;
  }

  private rollup(rule: string, f: SlimFlow, a: NewAlert): OpenAlert {
    return this.create(rule, `${rule}|${a.device.mac ?? a.device.ip}|*`, f, a.device, a.profile, null,
      `${deviceLabel(a.device)} reached more than ${MAX_ALERTS_PER_DEVICE} distinct destinations under rule ${rule} (a scan or flood?); further ones are counted in this alert`,
      `more than ${MAX_ALERTS_PER_DEVICE} ${rule} destinations for one device`, {});
  }

  private create(rule: string, key: string, f: SlimFlow, device: DeviceFacts, profile: string | null, dest: AlertRecord['destination'], message: string, reason: string, extra: ExtraEvidence): OpenAlert {
    const settings = this.settingsOf(rule);
    return {
      rec: {
        id: alertId(key, f.uid),
        ts: f.ts,
        rule,
        severity: settings.severity,
        message,
        device: { mac: device.mac, ip: device.ip, vendor: device.vendor, vendor_country: device.vendor_country, profile },
        destination: dest,
        evidence: { first_seen: f.ts, last_seen: f.ts + f.duration, flows: 0, packets: 0, bytes_out: 0, bytes_in: 0, uids: [], reason, ...extra },
        mitre: settings.mitre,
      },
      windowEnd: f.ts + this.windowS,
      kept: { refs: [], unkept: new Set() },
    };
  }

  private account(a: OpenAlert, f: SlimFlow): void {
    // Each flow reaches each rule once (flows end once), so no flow counts twice in an alert.
    addFlow(a.rec.evidence, f);
    this.sample(a, f);
  }

  /** Keeps the flow's uid and where its packets are, while the alert holds fewer than its bounds. */
  private sample(a: OpenAlert, f: SlimFlow): void {
    const e = a.rec.evidence;
    if (e.uids.length < MAX_UIDS) e.uids.push(f.uid);
    keep(a.kept, f, this.budget, 'alert-flows');
  }
}

/** 52 bits of two FNV-1a lanes: distinct keys collide about once in 10^4 runs at a million keys. */
function keyHash(key: string): number {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x5bd1e995) ^ (h2 >>> 15);
  }
  return (h1 >>> 0) * 2 ** 20 + (h2 >>> 12);
}

function alertId(key: string, firstUid: string): string {
  return `A${createHash('sha1').update(`${key}|${firstUid}`).digest('base64url').slice(0, 19)}`;
}
