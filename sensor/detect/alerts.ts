import { createHash } from 'node:crypto';
import type { AlertRecord, Severity } from '../../contract/types.js';
import type { DeviceFacts } from '../devices/inventory.js';
import type { RuleSettings, ExtraEvidence } from './rule.js';
import { deviceLabel } from './rule.js';
import { addFlow, type Series, type SlimFlow } from './series.js';

const MAX_UIDS = 100;
/** Flows per alert kept for cutting its evidence capture. */
const MAX_EVIDENCE_FLOWS = 50;
/**
 * Distinct destinations itemised per rule and device in a window; beyond it
 * (a scan, a flood) flows are added to one roll-up alert for the device.
 */
const MAX_ALERTS_PER_DEVICE = 500;

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

interface OpenAlert {
  rec: AlertRecord;
  windowEnd: number;
  flows: FlowRef[];
}

/** One device's open alerts under one rule: by key, and past MAX_ALERTS_PER_DEVICE of them one that counts the rest. */
interface DeviceAlerts {
  open: Map<string, OpenAlert>;
  rollup: OpenAlert | null;
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
  private lastRefs = new Map<string, FlowRef[]>();

  constructor(
    private readonly settingsOf: (rule: string) => RuleSettings,
    private readonly windowS: number,
    /** called once when an alert first fires (streaming consumers) */
    private readonly onNew?: (a: AlertRecord) => void,
  ) {}

  /** Adds a flow to the device's open alert for `key` under `rule`, or opens one. */
  raise(rule: string, key: string, f: SlimFlow, a: NewAlert): void {
    const d = this.deviceAlerts(rule, a.device);
    let open = d.open.get(key);
    if (open && f.ts >= open.windowEnd) {
      this.done.push(open);
      d.open.delete(key);
      open = undefined;
    }
    if (open) {
      this.account(open, f);
      a.evidence?.(open.rec.evidence);
      return;
    }
    if (key !== '' && d.open.size + (d.rollup ? 1 : 0) >= MAX_ALERTS_PER_DEVICE) {
      if (d.rollup) return this.account(d.rollup, f);
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

  /** An alert over a whole series, with the series' totals; its sampled flows are its evidence. At the rule's severity unless given one. */
  raiseSeries(rule: string, s: Series, message: string, reason: string, extra: ExtraEvidence, severity?: Severity): void {
    const key = `${rule}|${s.device.mac ?? s.device.ip}|${s.name ?? s.dstIp}`;
    const dst: AlertRecord['destination'] = { ip: s.dstIp, port: null, proto: null, name: s.name, country: s.dst.country, asn: s.dst.asn, as_org: s.dst.as_org };
    const a = this.create(rule, key, s.flows[0], s.device, s.profile, dst, message, reason, extra);
    if (severity !== undefined) a.rec.severity = severity;
    for (const f of s.flows) this.account(a, f);
    // The kept flows are a sample; the totals cover every connection.
    Object.assign(a.rec.evidence, s.totals);
    const known = this.seriesAlerts.has(key);
    this.seriesAlerts.set(key, a);
    if (!known) this.onNew?.(a.rec);
  }

  /** Every alert, oldest first; remembers their flows for evidenceFlows(). */
  all(): AlertRecord[] {
    const all = [...this.done];
    for (const byDevice of this.open.values()) {
      for (const d of byDevice.values()) all.push(...d.open.values(), ...(d.rollup ? [d.rollup] : []));
    }
    all.push(...this.seriesAlerts.values());
    this.lastRefs = new Map(all.map((a) => [a.rec.id, a.flows]));
    return all.map((a) => a.rec).sort((x, y) => x.ts - y.ts || x.id.localeCompare(y.id));
  }

  /** The flows behind each alert returned by all(), for evidence captures. */
  evidenceFlows(): Map<string, FlowRef[]> {
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
}

function alertId(key: string, firstUid: string): string {
  return `A${createHash('sha1').update(`${key}|${firstUid}`).digest('base64url').slice(0, 19)}`;
}
