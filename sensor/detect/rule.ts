import type { AlertRecord, DeviceProfile, FlowRecord, MitreTechnique, Severity } from '../../contract/types.js';
import type { DeviceFacts } from '../devices/inventory.js';
import type { GeoInfo } from '../enrich/geoip.js';
import type { ProfileMatcher } from './profiles/match.js';
import type { Series } from './series.js';

/** A rule's thresholds: numbers, or lists of numbers (ports); the type of the default is the schema. */
export type RuleParams = Record<string, number | number[]>;

/** One rule's settings as rules/detections.yaml gives them (the rule's defaults where it is silent). */
export interface RuleSettings<P extends RuleParams = RuleParams> {
  enabled: boolean;
  severity: Severity;
  mitre: MitreTechnique[];
  params: P;
}

/** A detections file (rules/detections.yaml) as loaded: the watch lists, the window, every rule's settings. */
export interface DetectionConfig {
  /** an alert for the same rule, device and key repeats only after this many seconds */
  suppressionWindowS: number;
  watchCountries: string[];
  watchAsns: number[];
  watchNetworks: string[];
  /** every rule of the registry, by id */
  rules: Record<string, RuleSettings>;
}

/** Evidence fields a rule may add to the ones every alert carries. */
export type ExtraEvidence = Partial<Omit<AlertRecord['evidence'], 'first_seen' | 'last_seen' | 'flows' | 'packets' | 'bytes_out' | 'bytes_in' | 'uids' | 'reason' | 'pcap'>>;

/** A flow detection judges: a local device opened it to an Internet address. */
export interface JudgedFlow {
  flow: FlowRecord;
  device: DeviceFacts;
  /** the profile covering the device, if any */
  profile: DeviceProfile | null;
  /** DNS gave the device this address before the flow began */
  resolved: boolean;
  /** the destination's country, AS and operator, from the enrich stage */
  dst: GeoInfo;
}

/** What one alert says; texts are functions because most flows add to an alert already open. */
export interface AlertSpec {
  /** what makes the alert distinct for its device: a destination, or '' for one alert per device */
  key: string;
  destination: () => AlertRecord['destination'];
  message: () => string;
  reason: () => string;
}

/** What a rule is given to run with. */
export interface RuleContext<P extends RuleParams = RuleParams> {
  settings: RuleSettings<P>;
  /** the whole detections file: watch lists, suppression window */
  config: DetectionConfig;
  profiles: ProfileMatcher;
  /** adds the flow to the device's open alert for spec.key (one per suppression window), or opens one */
  raise(j: JudgedFlow, spec: AlertSpec): void;
  /** an alert judged over a whole series (beacons): one per device and destination, replaced when scored again */
  raiseSeries(s: Series, message: string, reason: string, extra: ExtraEvidence): void;
}

/** The span of capture time read, over which series are scored. */
export interface Span {
  start: number;
  end: number;
}

/** One rule's work during a run, built from its context. */
export interface RuleRun {
  /** every judged flow, in flow order */
  flow?(j: JudgedFlow): void;
  /** every followed device-destination series, when alerts are asked for; true: the rule claimed it, later rules skip it */
  series?(s: Series, span: Span): boolean;
}

/**
 * A detection rule: one module in detect/rules/, listed once in the registry
 * (detect/rules/index.ts). Its id is the contract (alerts, dashboards,
 * Alertmanager routes use it); its defaults are what rules/detections.yaml
 * ships, and the settings schema the file is checked against.
 */
export interface Rule<P extends RuleParams = RuleParams> {
  id: string;
  /** one line for the README's rule table and `--help` */
  summary: string;
  defaults: { enabled: boolean; severity: Severity; mitre: string[]; params: P };
  /** evidence fields it adds beyond the common ones */
  evidence: readonly (keyof ExtraEvidence)[];
  create(ctx: RuleContext<P>): RuleRun;
}

export function destinationOf(j: JudgedFlow, name: string | null, withPort: boolean): AlertRecord['destination'] {
  const f = j.flow;
  return { ip: f.dst_ip, port: withPort ? f.dst_port : null, proto: withPort ? f.proto : null, name, country: j.dst.country, asn: j.dst.asn, as_org: j.dst.as_org };
}

/** How messages name a device: its manufacturer, then its MAC (or address). */
export const deviceLabel = (d: DeviceFacts): string => `${d.vendor ? `${d.vendor} ` : ''}${d.mac ?? d.ip}`;
