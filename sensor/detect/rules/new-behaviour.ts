import type { AlertRecord, FlowRecord } from '../../../contract/types.js';
import { evictOldest, lowWater } from '../../util/bounded.js';
import { deviceLabel, destinationOf, type JudgedFlow, type Rule } from '../rule.js';

export type NewBehaviourParams = {
  /** capture seconds a device is watched, from its first Internet flow, during which what it does is its baseline */
  learning_s: number;
  /** after learning, a new value joins the baseline once seen on this many distinct days (UTC, capture time) */
  confirm_days: number;
  /** values learnt per device and kind; a kind that outgrows it while learning is too varied to judge */
  max_values: number;
  /** new values of one kind alerted one by one per device; further ones share one alert */
  max_novelties: number;
  /** devices followed; past it the least recently seen are forgotten (and learnt again) */
  max_devices: number;
};

/**
 * The kinds of novelty: how a judged flow gives its value (null: none).
 * Adding a kind is one line here.
 */
export const NOVELTY_KINDS: readonly { kind: string; label: string; withPort: boolean; of: (j: JudgedFlow) => string | null }[] = [
  { kind: 'country', label: 'destination country', withPort: false, of: (j) => j.dst.country },
  { kind: 'asn', label: 'autonomous system', withPort: false, of: (j) => (j.dst.asn === null ? null : `AS${j.dst.asn}`) },
  { kind: 'port', label: 'destination port', withPort: true, of: (j) => portValue(j.flow) },
  // new client software on the device (a different TLS stack or library) is a new fingerprint
  { kind: 'ja4', label: 'TLS client fingerprint (JA4)', withPort: false, of: (j) => j.flow.ja4 },
];

/** IANA's dynamic range (RFC 6335): peer-to-peer and NAT-traversal protocols pick these at random; one value for all of them. */
const DYNAMIC_PORTS = 49152;
/**
 * Learning counts the capture time a device was watched: a longer gap between
 * its Internet flows (a capture stopped, separate captures months apart, the
 * sensor down) counts as this many seconds. A baseline is then a day of the
 * device's life, not its first minutes and the calendar after them.
 */
const GAP_COUNTED_S = 3600;
/** A new value not seen again for this many days is forgotten: seen later, it is new again. */
const FORGET_DAYS = 30;
/** Values listed in an alert's evidence at most. */
const MAX_LISTED = 50;
const DAY_S = 86400;

export function portValue(f: FlowRecord): string {
  if (f.proto !== 'tcp' && f.proto !== 'udp') return f.proto;
  return f.dst_port >= DYNAMIC_PORTS ? `${f.proto}/${DYNAMIC_PORTS}-65535` : `${f.proto}/${f.dst_port}`;
}

/** A value seen after learning that is not (yet) in the baseline. */
interface Pending {
  /** distinct days (UTC day numbers of capture time) it was seen on, at most confirm_days */
  days: number[];
  /** capture time of its alert (in this run or an earlier one) */
  alerted: number;
  /** its alert was raised in this run: later flows with it join that alert */
  here: boolean;
}

/** What one device is known to do. */
interface Baseline {
  /** capture time of its first Internet flow */
  first: number;
  /** capture time of its latest Internet flow */
  last: number;
  /** capture seconds it was watched since its first flow (gaps counted up to GAP_COUNTED_S) */
  watched: number;
  /** capture time learning ended; null while learning */
  until: number | null;
  held: Map<string, Set<string>>;
  /** kinds that outgrew max_values while learning: not judged */
  over: Set<string>;
  /** by kind:value */
  pending: Map<string, Pending>;
}

/**
 * A device does something it did not do while its baseline was learnt: a
 * new destination country, autonomous system or destination port. The
 * baseline is learnt per device over its first learning_s of Internet
 * traffic (capture time), without any profile. A new value after that is
 * alerted once (with what the baseline held) and joins the baseline only
 * once seen on confirm_days distinct days: a baseline cannot be taught a
 * new habit in one go. With --state the baselines outlive the run.
 */
export const newBehaviour: Rule<NewBehaviourParams> = {
  id: 'new-behaviour',
  summary: 'after learning a device for 24 h, it contacts a destination country, autonomous system or port, or sends a TLS client fingerprint (JA4), it never used while learnt',
  defaults: { enabled: true, severity: 'medium', mitre: ['T1071', 'T1571'], params: { learning_s: 86400, confirm_days: 3, max_values: 64, max_novelties: 16, max_devices: 10000 } },
  evidence: ['novelty'],
  create: ({ settings, raise, state }) => {
    const p = settings.params;
    const devices = new Map<string, Baseline>();
    for (const [key, b] of state?.devices((raw) => parseBaseline(raw, p)) ?? []) devices.set(key, b);
    evictOldest(devices, p.max_devices);
    state?.keep(() => [...devices].map(([k, b]): [string, unknown] => [k, saved(b)]));
    const baselineOf = (key: string, ts: number): Baseline => {
      let b = devices.get(key);
      if (!b) {
        if (devices.size >= p.max_devices) evictOldest(devices, lowWater(p.max_devices));
        b = { first: ts, last: ts, watched: 0, until: null, held: new Map(), over: new Set(), pending: new Map() };
        devices.set(key, b);
      } else if (ts - b.last >= 60) {
        // least recently seen first; moved at most once a minute of capture time
        devices.delete(key);
        devices.set(key, b);
      }
      if (ts > b.last) {
        b.watched += Math.min(ts - b.last, GAP_COUNTED_S);
        b.last = ts;
      }
      if (b.until === null && b.watched >= p.learning_s) b.until = ts;
      return b;
    };
    return {
      flow(j) {
        const b = baselineOf(j.device.mac ?? j.device.ip, j.flow.ts);
        const learning = b.until === null;
        for (const k of NOVELTY_KINDS) {
          const v = k.of(j);
          if (v === null) continue;
          let held = b.held.get(k.kind);
          if (!held) b.held.set(k.kind, (held = new Set()));
          if (learning) learn(b, k.kind, held, v, p);
          else if (!b.over.has(k.kind) && !held.has(v)) {
            const alert = novelty(b, k.kind, held, v, j.flow.ts, p);
            if (alert) raise(j, spec(j, b, k, held, alert, p));
          }
        }
      },
    };
  },
};

function learn(b: Baseline, kind: string, held: Set<string>, v: string, p: NewBehaviourParams): void {
  if (held.has(v) || b.over.has(kind)) return;
  if (held.size >= p.max_values) b.over.add(kind);
  else held.add(v);
}

/** A value not in the baseline, after learning: the alert key it joins, or null when it was alerted in an earlier run. */
function novelty(b: Baseline, kind: string, held: Set<string>, v: string, ts: number, p: NewBehaviourParams): { key: string; value: string } | null {
  const id = `${kind}:${v}`;
  const day = Math.floor(ts / DAY_S);
  let e = b.pending.get(id);
  if (!e) {
    forget(b, day);
    if (countOf(b, kind) >= p.max_novelties) {
      // a device doing many new things of one kind: one alert says so, not one per value
      return { key: `${kind}:*`, value: v };
    }
    b.pending.set(id, (e = { days: [], alerted: ts, here: true }));
  }
  if (!e.days.includes(day)) e.days.push(day);
  if (e.days.length >= p.confirm_days) {
    b.pending.delete(id);
    if (held.size < p.max_values) held.add(v);
  }
  return e.here ? { key: id, value: v } : null;
}

const countOf = (b: Baseline, kind: string): number => {
  let n = 0;
  for (const id of b.pending.keys()) if (id.startsWith(`${kind}:`)) n++;
  return n;
};

/** New values not seen for FORGET_DAYS are dropped: the list of a device's new values stays short. */
function forget(b: Baseline, day: number): void {
  for (const [id, e] of b.pending) if (day - Math.max(...e.days) > FORGET_DAYS) b.pending.delete(id);
}

const iso = (ts: number): string => new Date(ts * 1000).toISOString().replace(/\.000Z$/, 'Z');

function spec(j: JudgedFlow, b: Baseline, k: (typeof NOVELTY_KINDS)[number], held: Set<string>, alert: { key: string; value: string }, p: NewBehaviourParams) {
  const rolled = alert.key.endsWith(':*');
  const what = rolled ? `new ${k.label}s (more than ${p.max_novelties})` : `a new ${k.label}: ${alert.value}`;
  const baseline = [...held].sort();
  const learnt = `${baseline.length} learnt from ${iso(b.first)} to ${iso(b.until!)}`;
  return {
    key: alert.key,
    windowS: Infinity,
    destination: (): AlertRecord['destination'] => destinationOf(j, j.flow.server_name, k.withPort),
    message: () => `${deviceLabel(j.device)} used ${what}; its baseline held ${baseline.length ? baseline.slice(0, 8).join(', ') : 'none'}${baseline.length > 8 ? ', ...' : ''}`,
    reason: () => `${k.kind} ${rolled ? 'values' : alert.value} not in the device's baseline (${learnt}); a new value joins it once seen on ${p.confirm_days} distinct days`,
    evidence: (e: AlertRecord['evidence']) => {
      const n = (e.novelty ??= { kind: k.kind, values: [], baseline: baseline.slice(0, MAX_LISTED), baseline_size: baseline.length, learnt_from: b.first, learnt_until: b.until! });
      if (n.values.length < MAX_LISTED && !n.values.includes(alert.value)) n.values.push(alert.value);
    },
  };
}

/** A baseline as the state file keeps it. */
function saved(b: Baseline): unknown {
  return {
    first: b.first, last: b.last, watched: b.watched, until: b.until,
    held: Object.fromEntries([...b.held].map(([k, s]) => [k, [...s]])),
    over: [...b.over],
    pending: Object.fromEntries([...b.pending].map(([id, e]) => [id, { days: e.days, alerted: e.alerted }])),
  };
}

const isTime = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;
const isValue = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= 128;
const KINDS = new Set(NOVELTY_KINDS.map((k) => k.kind));

/** A baseline read back from the state file, checked field by field (the file is as hostile as any input); null when it does not fit. */
export function parseBaseline(raw: unknown, p: NewBehaviourParams): Baseline | null {
  const r = raw as { first?: unknown; last?: unknown; watched?: unknown; until?: unknown; held?: unknown; over?: unknown; pending?: unknown } | null;
  if (typeof r !== 'object' || r === null || !isTime(r.first) || !isTime(r.last) || !isTime(r.watched) || (r.until !== null && !isTime(r.until))) return null;
  if (typeof r.held !== 'object' || r.held === null || !Array.isArray(r.over) || typeof r.pending !== 'object' || r.pending === null) return null;
  const b: Baseline = { first: r.first, last: r.last, watched: r.watched, until: r.until as number | null, held: new Map(), over: new Set(), pending: new Map() };
  for (const [kind, values] of Object.entries(r.held)) {
    if (!Array.isArray(values) || !values.every(isValue)) return null;
    // a kind this version does not judge is left out; values past the bound are not kept
    if (KINDS.has(kind)) b.held.set(kind, new Set((values as string[]).slice(0, p.max_values)));
  }
  for (const kind of r.over) if (KINDS.has(kind as string)) b.over.add(kind as string);
  for (const [id, e] of Object.entries(r.pending as Record<string, { days?: unknown; alerted?: unknown } | null>)) {
    if (typeof e !== 'object' || e === null || !Array.isArray(e.days) || !e.days.every((d) => Number.isInteger(d) && d >= 0) || !isTime(e.alerted)) return null;
    if (!KINDS.has(id.slice(0, id.indexOf(':'))) || !isValue(id)) continue;
    if (countOf(b, id.slice(0, id.indexOf(':'))) < p.max_novelties) b.pending.set(id, { days: (e.days as number[]).slice(0, p.confirm_days), alerted: e.alerted, here: false });
  }
  return b;
}
