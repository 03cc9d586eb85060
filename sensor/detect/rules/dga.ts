import type { AlertRecord, FlowRecord } from '../../../contract/types.js';
import type { DeviceFacts } from '../../devices/inventory.js';
import { evictOldest, lowWater } from '../../util/bounded.js';
import { dnsSite, nameScore } from '../dns-names.js';
import { deviceLabel, type Rule, type RuleContext, type SeenFlow } from '../rule.js';

export type DgaParams = {
  window_s: number;
  min_nxdomains: number;
  min_score: number;
};

/** Devices followed at once. */
const MAX_DEVICES = 10_000;
/** Missing domains remembered per device within the window: past the threshold, more change nothing. */
const MAX_DOMAINS = 1_000;
/** Flows kept over all devices before a burst qualifies, to be raised with it as evidence. */
const MAX_PENDING = 20_000;
const MAX_PENDING_PER_DEVICE = 50;
/** Names an alert lists. */
const MAX_SAMPLES = 10;

/** A missing domain of the burst: when it was last answered NXDOMAIN, the name asked, its score. */
interface Missing {
  ts: number;
  name: string;
  score: number;
}

/** One device's NXDOMAIN answers for algorithmic-looking domains within the window. */
interface Burst {
  device: DeviceFacts;
  /** by registered domain, least recently answered first */
  missing: Map<string, Missing>;
  /** flows that carried them, not raised yet, with the time of their last such answer */
  pending: { flow: FlowRecord; ts: number }[];
}

/**
 * Domain generation: malware looking for its command server tries names
 * made up by an algorithm, most of which nobody registered. A burst of
 * NXDOMAIN answers (Slips: 10 in 10 minutes) for distinct registered domains
 * whose label reads as noise (dns-names.ts nameScore). Counting registered
 * domains keeps a device retrying one missing name quiet; the score keeps an
 * app resolving one-off names of words quiet. Names under no public suffix
 * (search domains appended by a resolver, .local) are never Internet domains.
 */
export const dga: Rule<DgaParams> = {
  id: 'dga',
  summary: 'a device gets NXDOMAIN for many algorithmic-looking domains in a short time (10 in 10 minutes by default): a domain generation algorithm',
  defaults: { enabled: true, severity: 'high', mitre: ['T1568.002'], params: { window_s: 600, min_nxdomains: 10, min_score: 0.5 } },
  evidence: ['nxdomains', 'names', 'score'],
  create: (ctx) => new DgaWatch(ctx),
};

class DgaWatch {
  private readonly bursts = new Map<string, Burst>();
  private pendingFlows = 0;

  constructor(private readonly ctx: RuleContext<DgaParams>) {}

  seen(s: SeenFlow): void {
    const facts = s.app?.dns;
    const device = s.device;
    if (!facts || !device || device.role === 'gateway') return;
    let burst: Burst | null = null;
    let last = -Infinity;
    for (const f of facts) {
      if (f.rcode !== 3) continue;
      const site = dnsSite(f.query);
      if (!site) continue;
      const score = nameScore(site.label);
      if (score < this.ctx.settings.params.min_score) continue;
      burst ??= this.burst(device);
      burst.missing.delete(site.domain);
      burst.missing.set(site.domain, { ts: f.ts, name: site.name, score });
      last = Math.max(last, f.ts);
    }
    if (!burst) return;
    this.expire(burst, last);
    if (burst.missing.size < this.ctx.settings.params.min_nxdomains) return this.hold(burst, s.flow, last);
    for (const p of burst.pending) this.raise(burst, p.flow);
    this.pendingFlows -= burst.pending.length;
    burst.pending = [];
    this.raise(burst, s.flow);
  }

  private burst(device: DeviceFacts): Burst {
    const key = device.mac ?? device.ip;
    let b = this.bursts.get(key);
    if (b) this.bursts.delete(key);
    else b = { device, missing: new Map(), pending: [] };
    // the device asked just now: it goes last when the oldest are evicted
    this.bursts.set(key, b);
    if (this.bursts.size > MAX_DEVICES) this.evictDevices(lowWater(MAX_DEVICES));
    return b;
  }

  /** Forgets what fell out of the window ending at `now`. */
  private expire(b: Burst, now: number): void {
    const since = now - this.ctx.settings.params.window_s;
    for (const [domain, m] of b.missing) {
      if (m.ts >= since && b.missing.size <= MAX_DOMAINS) break;
      b.missing.delete(domain);
    }
    const kept = b.pending.filter((p) => p.ts >= since);
    this.pendingFlows -= b.pending.length - kept.length;
    b.pending = kept;
  }

  private hold(b: Burst, flow: FlowRecord, ts: number): void {
    if (b.pending.length >= MAX_PENDING_PER_DEVICE) return;
    b.pending.push({ flow, ts });
    if (++this.pendingFlows > MAX_PENDING) this.evictDevices(Math.floor(this.bursts.size / 2));
  }

  private evictDevices(keep: number): void {
    evictOldest(this.bursts, keep, (b) => (this.pendingFlows -= b.pending.length));
  }

  private raise(b: Burst, flow: FlowRecord): void {
    const { device, missing } = b;
    const p = this.ctx.settings.params;
    this.ctx.raise(
      { flow, device, profile: this.ctx.profiles.profileFor(device) },
      {
        key: '',
        destination: () => ({ ip: flow.dst_ip, port: flow.dst_port, proto: flow.proto, name: null, country: flow.dst_country, asn: flow.dst_asn, as_org: flow.dst_as_org }),
        message: () => `${deviceLabel(device)} got NXDOMAIN for ${missing.size} algorithmic-looking domains within ${p.window_s} s: a domain generation algorithm`,
        reason: () => `${missing.size} distinct registered domains answered NXDOMAIN within ${p.window_s} s (at least ${p.min_nxdomains}), each scoring at least ${p.min_score} as random (mean ${meanScore(missing)})`,
        evidence: (e) => addEvidence(e, missing),
      },
    );
  }
}

const meanScore = (missing: Map<string, Missing>): number => {
  let sum = 0;
  for (const m of missing.values()) sum += m.score;
  return Math.round((sum / Math.max(1, missing.size)) * 100) / 100;
};

/** The alert's evidence: the most missing domains one window held, with their mean score; the first names. */
function addEvidence(e: AlertRecord['evidence'], missing: Map<string, Missing>): void {
  const names = (e.names ??= []);
  for (const m of missing.values()) {
    if (names.length >= MAX_SAMPLES) break;
    if (!names.includes(m.name)) names.push(m.name);
  }
  if (e.nxdomains !== undefined && e.nxdomains >= missing.size) return;
  e.nxdomains = missing.size;
  e.score = meanScore(missing);
}
