import type { AlertRecord, FlowRecord } from '../../../contract/types.js';
import type { DeviceFacts } from '../../devices/inventory.js';
import type { DnsFact } from '../../flows/app.js';
import { lowWater } from '../../util/bounded.js';
import { dnsSite, looksEncoded, nameHash } from '../dns-names.js';
import { deviceLabel, type Rule, type RuleContext, type SeenFlow } from '../rule.js';

export type DnsTunnelParams = {
  window_s: number;
  min_subdomains: number;
  min_label_length: number;
  min_encoded_ratio: number;
  min_data_ratio: number;
};

/** Device and registered-domain pairs followed at once. */
const MAX_TRACKERS = 10_000;
/** Distinct names remembered (as hashes) over all pairs: a flood of random names evicts the oldest pairs, not memory. */
const MAX_NAMES = 200_000;
/** Distinct names remembered per pair: enough to tell any threshold that makes sense. */
const MAX_NAMES_PER_DOMAIN = 20_000;
/** Flows kept per pair before it qualifies, to be raised with it as evidence. */
const MAX_PENDING = 20;
/** Names and record types an alert lists. */
const MAX_SAMPLES = 10;
const MAX_QTYPES = 16;
/** A label scoring this as noise (dns-names.ts nameScore) reads as encoded, long enough. */
const ENCODED_SCORE = 0.5;
/** Record types that carry arbitrary bytes back: what tunnels ask for. Types the DNS parser does not name (TYPE65399, iodine's PRIVATE) count too. */
const DATA_QTYPES = new Set(['TXT', 'NULL', 'TYPE10']);
const isDataQtype = (t: string | null) => t !== null && (DATA_QTYPES.has(t) || (t.startsWith('TYPE') && t !== 'TYPE0'));

/** One device's questions under one registered domain in the current window. */
interface Tracker {
  key: string;
  device: DeviceFacts;
  domain: string;
  start: number;
  names: Set<number>;
  encoded: number;
  questions: number;
  data: number;
  qtypes: Map<string, number>;
  samples: string[];
  /** flows with questions counted here, not raised yet */
  pending: FlowRecord[];
}

/**
 * A DNS tunnel: one device asks for many distinct names under one registered
 * domain (RITA's scale: 100 in a day), and what it asks reads as data. Volume
 * is necessary (a tunnel must put its bytes in names no cache has seen) but
 * not sufficient: a CDN, a cloud or the NTP pool gives a device many names
 * too. So content decides: at least half the distinct names carry a long
 * label (24 characters) or a label of noise, or at least half the questions
 * ask for record types that carry bytes back (TXT, NULL, unnamed types).
 * Names without a registered domain (.local, search domains, .arpa) and the
 * gateway's own forwarding are not counted.
 */
export const dnsTunnel: Rule<DnsTunnelParams> = {
  id: 'dns-tunnel',
  summary: 'a device asks for many distinct names under one domain (100 a day by default) with long or random labels or mostly TXT/NULL questions: data carried over DNS',
  defaults: {
    enabled: true,
    severity: 'high',
    mitre: ['T1071.004', 'T1048'],
    params: { window_s: 86400, min_subdomains: 100, min_label_length: 24, min_encoded_ratio: 0.5, min_data_ratio: 0.5 },
  },
  evidence: ['domain', 'subdomains', 'names', 'qtypes'],
  create: (ctx) => new TunnelWatch(ctx),
};

class TunnelWatch {
  private readonly trackers = new Map<string, Tracker>();
  private storedNames = 0;

  constructor(private readonly ctx: RuleContext<DnsTunnelParams>) {}

  seen(s: SeenFlow): void {
    const facts = s.app?.dns;
    const device = s.device;
    if (!facts || !device || device.role === 'gateway') return;
    // The trackers the flow's questions went to, each once (a flow asks about one or two domains).
    const touched: Tracker[] = [];
    for (const f of facts) {
      const t = this.count(device, f);
      if (t && !touched.includes(t)) touched.push(t);
    }
    for (const t of touched) {
      // a later question of the flow opened a new window: this one is gone
      if (this.trackers.get(t.key) !== t) continue;
      // the pair was just asked about: it goes last when the oldest are evicted
      this.trackers.delete(t.key);
      this.trackers.set(t.key, t);
      if (!this.qualifies(t)) {
        if (t.pending.length < MAX_PENDING) t.pending.push(s.flow);
        continue;
      }
      for (const f of t.pending) this.raise(t, f);
      t.pending = [];
      this.raise(t, s.flow);
    }
    if (this.storedNames > MAX_NAMES || this.trackers.size > MAX_TRACKERS) this.evict();
  }

  /** Counts one question in its device and domain's window; the tracker it went to. */
  private count(device: DeviceFacts, f: DnsFact): Tracker | null {
    const site = dnsSite(f.query);
    if (!site || site.subdomain === '') return null;
    const t = this.tracker(device, site.domain, f.ts);
    t.questions++;
    if (isDataQtype(f.qtype)) t.data++;
    const qtype = f.qtype ?? 'unknown';
    if (t.qtypes.has(qtype) || t.qtypes.size < MAX_QTYPES) t.qtypes.set(qtype, (t.qtypes.get(qtype) ?? 0) + 1);
    const h = nameHash(site.name);
    if (t.names.has(h) || t.names.size >= MAX_NAMES_PER_DOMAIN) return t;
    t.names.add(h);
    this.storedNames++;
    const p = this.ctx.settings.params;
    if (looksEncoded(site.subdomain, p.min_label_length, ENCODED_SCORE)) t.encoded++;
    if (t.samples.length < MAX_SAMPLES) t.samples.push(site.name);
    return t;
  }

  private tracker(device: DeviceFacts, domain: string, ts: number): Tracker {
    const key = `${device.mac ?? device.ip}|${domain}`;
    let t = this.trackers.get(key);
    if (t && ts >= t.start + this.ctx.settings.params.window_s) {
      this.storedNames -= t.names.size;
      this.trackers.delete(key);
      t = undefined;
    }
    if (!t) {
      t = { key, device, domain, start: ts, names: new Set(), encoded: 0, questions: 0, data: 0, qtypes: new Map(), samples: [], pending: [] };
      this.trackers.set(key, t);
    }
    return t;
  }

  private qualifies(t: Tracker): boolean {
    const p = this.ctx.settings.params;
    const n = t.names.size;
    if (n < p.min_subdomains) return false;
    return t.encoded / n >= p.min_encoded_ratio || t.data / t.questions >= p.min_data_ratio;
  }

  private raise(t: Tracker, flow: FlowRecord): void {
    const device = t.device;
    this.ctx.raise(
      { flow, device, profile: this.ctx.profiles.profileFor(device) },
      {
        key: t.domain,
        destination: () => ({ ip: flow.dst_ip, port: flow.dst_port, proto: flow.proto, name: t.domain, country: flow.dst_country, asn: flow.dst_asn, as_org: flow.dst_as_org }),
        message: () => `${deviceLabel(device)} asked for ${t.names.size} distinct names under ${t.domain}: data carried over DNS (a tunnel)`,
        reason: () => this.reason(t),
        evidence: (e) => addEvidence(e, t),
      },
    );
  }

  private reason(t: Tracker): string {
    const p = this.ctx.settings.params;
    const n = t.names.size;
    const pct = (a: number, b: number) => `${Math.round((100 * a) / b)} %`;
    return (
      `${n} distinct names under ${t.domain} within ${p.window_s} s (at least ${p.min_subdomains}); ` +
      `${pct(t.encoded, n)} with a label of ${p.min_label_length}+ characters or of noise; ` +
      `${pct(t.data, t.questions)} of ${t.questions} questions for TXT, NULL or unnamed record types`
    );
  }

  /** Past the bounds: the pairs asked about least recently go, a tenth at a time. */
  private evict(): void {
    const names = lowWater(MAX_NAMES);
    const trackers = lowWater(MAX_TRACKERS);
    for (const [key, t] of this.trackers) {
      if (this.storedNames <= names && this.trackers.size <= trackers) break;
      this.trackers.delete(key);
      this.storedNames -= t.names.size;
    }
  }
}

/** The alert's evidence: its domain, the most names one window held, the first names, the record types of that window. */
function addEvidence(e: AlertRecord['evidence'], t: Tracker): void {
  e.domain = t.domain;
  if (e.subdomains !== undefined && e.subdomains >= t.names.size) return;
  e.subdomains = t.names.size;
  const names = e.names ?? [];
  for (const n of t.samples) if (names.length < MAX_SAMPLES && !names.includes(n)) names.push(n);
  e.names = names;
  e.qtypes = Object.fromEntries(t.qtypes);
}
