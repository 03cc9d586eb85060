import type { AlertRecord, DeviceProfile, FlowRecord } from '../../../contract/types.js';
import type { DeviceFacts } from '../../devices/inventory.js';
import { evictOldest, lowWater } from '../../util/bounded.js';
import { deviceLabel, type Rule } from '../rule.js';

export type AbnormalUploadParams = {
  /** capture seconds per window, aligned to the epoch (3600: clock hours, UTC) */
  window_s: number;
  /** robust z-score of a window's bytes against the device's earlier windows that raises an alert */
  min_z: number;
  /** a window must also send at least this many bytes */
  floor_bytes: number;
  /** earlier windows with traffic the device needs before it is judged */
  min_windows: number;
  /** earlier windows with traffic kept per device (168: a week of hours) */
  history_windows: number;
  /** devices followed; past it the least recently seen are forgotten */
  max_devices: number;
};

/**
 * The spread a window is measured against is at least this fraction of the
 * median: a device sending exactly the same every window (MAD 0) is not
 * flagged for sending a little more.
 */
const MIN_SPREAD = 0.05;
/** The largest flows of the open window kept to file its alert under (the alert's flows). */
const FLOWS_KEPT = 5;
/** Scales the MAD to the standard deviation of normal data (Iglewicz and Hoaglin's modified z-score). */
const MAD_SCALE = 0.6745;

/** The window a device is sending in now. */
interface Window {
  start: number;
  bytes: number;
  /** its alert was raised (in this run or an earlier one) */
  raised: boolean;
  /** its largest flows seen in this run, largest first */
  flows: FlowRecord[];
}

/** One device's uploads. */
interface Uploads {
  device: DeviceFacts;
  profile: DeviceProfile | null;
  /** capture time of its latest Internet flow */
  last: number;
  /** bytes sent in each earlier window with traffic, oldest first */
  history: number[];
  window: Window | null;
}

/** What outlives a run of a device's uploads. */
type Saved = Pick<Uploads, 'last' | 'history' | 'window'>;

/** What a window is judged against. */
export interface UploadScore {
  median: number;
  mad: number;
  z: number;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The robust z-score of x against earlier windows: 0.6745 (x - median) / MAD, the MAD at least MIN_SPREAD of the median. */
export function uploadScore(x: number, history: readonly number[]): UploadScore {
  const med = median(history);
  const mad = median(history.map((h) => Math.abs(h - med)));
  const spread = Math.max(mad, MIN_SPREAD * med, 1);
  return { median: med, mad, z: (MAD_SCALE * (x - med)) / spread };
}

/**
 * A device sends far more to the Internet in one window (an hour by default)
 * than it usually does: the window's bytes against the device's own earlier
 * windows with traffic, as a robust z-score over their median and median
 * absolute deviation, and above a floor. A camera pushing the same clips
 * every hour, or any steady uploader, has a history that says so and stays
 * quiet. One alert per device per suppression window, for its most unusual
 * window. Windows are judged when the next one begins and, while still open,
 * whenever alerts are asked for. With --state the history outlives the run.
 */
export const abnormalUpload: Rule<AbnormalUploadParams> = {
  id: 'abnormal-upload',
  summary: 'a device sends far more to the Internet in an hour than its own history says (robust z-score over median/MAD, above 10 MB)',
  defaults: {
    enabled: true, severity: 'high', mitre: ['T1041', 'T1048'],
    params: { window_s: 3600, min_z: 10, floor_bytes: 10_000_000, min_windows: 6, history_windows: 168, max_devices: 10000 },
  },
  evidence: ['upload'],
  create: ({ settings, raise, state }) => {
    const p = settings.params;
    const devices = new Map<string, Uploads>();
    // devices of earlier runs not seen again in this one yet, least recently seen first
    const restored = new Map((state?.devices((raw) => parseUploads(raw, p)) ?? []).slice(-p.max_devices));
    state?.keep(() => [...restored, ...devices].slice(-p.max_devices).map(([k, u]): [string, unknown] => [k, saved(u)]));
    /** Raises the window's alert when it is unusual enough; true when it did. */
    const judge = (u: Uploads, w: Window, end: number): boolean => {
      if (w.raised || w.flows.length === 0 || w.bytes < p.floor_bytes || u.history.length < p.min_windows) return false;
      const score = uploadScore(w.bytes, u.history);
      if (score.z < p.min_z) return false;
      w.raised = true;
      for (const flow of w.flows) raise({ flow, device: u.device, profile: u.profile }, spec(u, w, score, end, p));
      return true;
    };
    return {
      flow(j) {
        const key = j.device.mac ?? j.device.ip;
        const f = j.flow;
        let u = devices.get(key);
        if (!u) {
          if (devices.size >= p.max_devices) evictOldest(devices, lowWater(p.max_devices));
          const was = restored.get(key);
          restored.delete(key);
          u = { device: j.device, profile: j.profile, last: f.ts, history: was?.history ?? [], window: was?.window ?? null };
          devices.set(key, u);
        } else if (f.ts - u.last >= 60) {
          devices.delete(key);
          devices.set(key, u);
        }
        u.last = Math.max(u.last, f.ts);
        const start = Math.floor(f.ts / p.window_s) * p.window_s;
        // a flow that began in an earlier window than the open one (a long one, ended late) counts in the open one
        if (u.window && start > u.window.start) close(u, judge, p);
        const w = (u.window ??= { start, bytes: 0, raised: false, flows: [] });
        w.bytes += f.src_bytes;
        keepLargest(w.flows, f);
      },
      end() {
        for (const u of devices.values()) if (u.window) judge(u, u.window, u.window.start + p.window_s);
      },
    };
  },
};

/** The open window ends: judged, then part of the device's history. */
function close(u: Uploads, judge: (u: Uploads, w: Window, end: number) => boolean, p: AbnormalUploadParams): void {
  const w = u.window!;
  judge(u, w, w.start + p.window_s);
  if (w.bytes > 0) {
    u.history.push(w.bytes);
    if (u.history.length > p.history_windows) u.history.splice(0, u.history.length - p.history_windows);
  }
  u.window = null;
}

function keepLargest(flows: FlowRecord[], f: FlowRecord): void {
  if (flows.length >= FLOWS_KEPT && f.src_bytes <= flows[flows.length - 1].src_bytes) return;
  let i = flows.findIndex((g) => f.src_bytes > g.src_bytes);
  if (i < 0) i = flows.length;
  flows.splice(i, 0, f);
  if (flows.length > FLOWS_KEPT) flows.pop();
}

const mb = (b: number): string => `${(b / 1e6).toFixed(1)} MB`;
const iso = (ts: number): string => new Date(ts * 1000).toISOString().replace(/\.000Z$/, 'Z');
const round = (x: number): number => Math.round(x * 100) / 100;

function spec(u: Uploads, w: Window, s: UploadScore, end: number, p: AbnormalUploadParams) {
  const z = round(s.z);
  return {
    key: '',
    destination: (): AlertRecord['destination'] => null,
    message: () => `${deviceLabel(u.device)} sent ${mb(w.bytes)} to the Internet from ${iso(w.start)} to ${iso(end)}, against a usual ${mb(s.median)} per ${p.window_s / 3600} h (z ${z})`,
    reason: () => `${w.bytes} bytes in the window: robust z-score ${z} >= ${p.min_z} against the median ${s.median} and MAD ${s.mad} of its ${u.history.length} earlier windows, above the floor of ${p.floor_bytes} bytes`,
    evidence: (e: AlertRecord['evidence']) => {
      // the most unusual window of the alert
      if (e.upload && e.upload.z >= z) return;
      e.upload = { window_start: w.start, window_end: end, bytes: w.bytes, median: s.median, mad: s.mad, z, floor: p.floor_bytes, windows: u.history.length };
    },
  };
}

/** What the state file keeps of a device: its history and its open window (without flows, which belong to their run). */
function saved(u: Saved): unknown {
  return { last: u.last, history: u.history, window: u.window && { start: u.window.start, bytes: u.window.bytes, raised: u.window.raised } };
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;

/** A device's uploads read back from the state file, checked (the file is as hostile as any input); null when it does not fit. */
export function parseUploads(raw: unknown, p: AbnormalUploadParams): Saved | null {
  const r = raw as { last?: unknown; history?: unknown; window?: { start?: unknown; bytes?: unknown; raised?: unknown } | null } | null;
  if (typeof r !== 'object' || r === null || !isCount(r.last) || !Array.isArray(r.history) || !r.history.every(isCount)) return null;
  const w = r.window;
  if (w !== null && (typeof w !== 'object' || !isCount(w.start) || !isCount(w.bytes) || typeof w.raised !== 'boolean')) return null;
  return { last: r.last, history: (r.history as number[]).slice(-p.history_windows), window: w ? { start: w.start as number, bytes: w.bytes as number, raised: w.raised as boolean, flows: [] } : null };
}
