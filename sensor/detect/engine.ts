import type { AlertRecord, DeviceProfile, FlowRecord } from '../../contract/types.js';
import type { DeviceFacts } from '../devices/inventory.js';
import type { EnrichedFlow } from '../enrich/destination.js';
import { IntelFeeds } from '../enrich/intel.js';
import { endsOf, type FlowEnds } from '../flows/locality.js';
import { AlertBook, type FlowRef, type KeptFlows } from './alerts.js';
import { ProfileMatcher } from './profiles/match.js';
import type { DetectionConfig, JudgedFlow, Rule, RuleContext, RuleRun, SeenFlow } from './rule.js';
import { defaultRuleSettings, RULES } from './rules/index.js';
import { SeriesTracker } from './series.js';
import type { StateStore } from './state.js';

export type { FlowRef, KeptFlows };

export interface DetectorOptions {
  config: DetectionConfig;
  profiles: DeviceProfile[];
  /** the rules to run: the registry's, unless a caller brings its own (each needs its settings in config) */
  rules?: readonly Rule[];
  /** alerts itemised per run before further ones roll up per rule (DEFAULT_MAX_ALERTS) */
  maxAlerts?: number;
  /** baselines kept across runs (--state): read by the rules that learn, written whenever alerts are asked for */
  state?: StateStore | null;
  /** threat-intel feeds (--intel); none by default */
  intel?: IntelFeeds;
}

/** Only flows a local device (not the gateway) opened to the Internet are judged; the rest cannot raise an alert. */
export function judges(f: FlowRecord, device: DeviceFacts | null, ends: FlowEnds = endsOf(f)): device is DeviceFacts {
  return device !== null && device.role !== 'gateway' && ends.srcLocal && !ends.dstLocal;
}

/**
 * The detect stage: every enabled rule of the registry over every judged
 * flow, and over the device-destination series when alerts are asked for.
 * Alerts are kept by an AlertBook: one per rule, device and destination in a
 * suppression window, with the evidence of every flow that added to it.
 */
export class Detector {
  private readonly matcher: ProfileMatcher;
  private readonly book: AlertBook;
  private readonly seenRules: NonNullable<RuleRun['seen']>[] = [];
  private readonly flowRules: NonNullable<RuleRun['flow']>[] = [];
  private readonly endRules: NonNullable<RuleRun['end']>[] = [];
  private readonly seriesRules: NonNullable<RuleRun['series']>[] = [];
  /** followed only when some enabled rule judges series */
  private readonly series: SeriesTracker | null;
  private readonly state: StateStore | null;

  constructor(
    opts: DetectorOptions,
    /** called once when an alert first fires (streaming consumers) */
    onNew?: (a: AlertRecord) => void,
  ) {
    const { config } = opts;
    this.matcher = new ProfileMatcher(opts.profiles);
    this.book = new AlertBook((id) => config.rules[id], config.suppressionWindowS, onNew, opts.maxAlerts);
    this.state = opts.state ?? null;
    for (const rule of opts.rules ?? RULES) {
      // A rule the detections file never heard of (a caller's own) runs with its defaults.
      const settings = (config.rules[rule.id] ??= defaultRuleSettings([rule])[rule.id]);
      if (!settings.enabled) continue;
      const run = rule.create(this.context(rule.id, settings, config, opts.intel ?? IntelFeeds.NONE));
      if (run.seen) this.seenRules.push(run.seen.bind(run));
      if (run.flow) this.flowRules.push(run.flow.bind(run));
      if (run.end) this.endRules.push(run.end.bind(run));
      if (run.series) this.seriesRules.push(run.series.bind(run));
    }
    this.series = this.seriesRules.length > 0 ? new SeriesTracker() : null;
  }

  private context(id: string, settings: DetectionConfig['rules'][string], config: DetectionConfig, intel: IntelFeeds): RuleContext {
    const book = this.book;
    return {
      settings,
      config,
      profiles: this.matcher,
      intel,
      raise: (j, spec) =>
        book.raise(id, spec.key, j.flow, { device: j.device, profile: j.profile?.profile ?? null, destination: spec.destination, message: spec.message, reason: spec.reason, windowS: spec.windowS, evidence: spec.evidence }),
      raiseSeries: (s, message, reason, extra, severity) => book.raiseSeries(id, s, message, reason, extra, severity),
      state: this.state?.forRule(id) ?? null,
    };
  }

  /** Some enabled rule looks at every flow with a local end, not only outbound ones: the meter must hand them all on. */
  get seesAll(): boolean {
    return this.seenRules.length > 0;
  }

  /** One ended flow, enriched; only those a local device opened to the Internet are judged. */
  onFlow(e: EnrichedFlow): void {
    const f = e.rec;
    if (this.seenRules.length > 0 && (e.ends.srcLocal || e.ends.dstLocal)) {
      const s: SeenFlow = { flow: f, device: e.device, responder: e.responder, ends: e.ends, dst: e.dst, src: e.src, app: e.app, resolved: e.resolved };
      for (const rule of this.seenRules) rule(s);
    }
    if (!judges(f, e.device, e.ends) || e.dst === null) return;
    const profile = this.matcher.profileFor(e.device);
    const j: JudgedFlow = { flow: f, device: e.device, profile, resolved: e.resolved, dst: e.dst };
    for (const rule of this.flowRules) rule(j);
    this.series?.add(f, e.device, profile?.profile ?? null, e.dst);
  }

  /** Scores series over the whole observed span and returns every alert, oldest first. */
  finish(spanStart: number, spanEnd: number): AlertRecord[] {
    const span = { start: spanStart, end: spanEnd };
    for (const rule of this.endRules) rule(span);
    // What the rules learnt up to here survives a restart from now on.
    this.state?.save();
    if (this.series) {
      this.book.beginScoring();
      for (const s of this.series.values()) {
        for (const rule of this.seriesRules) if (rule(s, span)) break;
      }
    }
    return this.book.all();
  }

  /** The flows kept of each alert returned by finish(), for evidence captures. */
  evidenceFlows(): Map<string, KeptFlows> {
    return this.book.evidenceFlows();
  }
}
