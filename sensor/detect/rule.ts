import type { AlertRecord, DeviceProfile, FlowRecord, MitreTechnique, Severity } from '../../contract/types.js';
import type { DeviceFacts } from '../devices/inventory.js';
import type { GeoInfo } from '../enrich/geoip.js';
import type { IntelFeeds } from '../enrich/intel.js';
import type { AppFacts } from '../flows/app.js';
import type { FlowEnds } from '../flows/locality.js';
import type { ProfileMatcher } from './profiles/match.js';
import type { Series } from './series.js';
import type { RuleState } from './state.js';

/** A rule's thresholds: numbers, lists of numbers (ports) or switches; the type of the default is the schema. */
export type RuleParams = Record<string, number | number[] | boolean>;

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
  /** ISO 3166-1 alpha-2 codes: addresses there, names under their ccTLDs, operators headquartered there */
  watchCountries: string[];
  watchAsns: number[];
  watchNetworks: string[];
  /** operators watched wherever their servers stand, while their headquarters' country is watched (watch.organisations) */
  watchOrganisations: WatchedOrganisation[];
  /** name suffixes watched besides the watched countries' ccTLDs, lower-case ASCII without a leading dot (watch.name_suffixes) */
  watchNameSuffixes: string[];
  /** every rule of the registry, by id */
  rules: Record<string, RuleSettings>;
}

/** One entry of watch.organisations: an operator known by its AS numbers and/or the names of its AS organisations. */
export interface WatchedOrganisation {
  /** how alerts name it */
  operator: string;
  /** ISO 3166-1 alpha-2 code of its headquarters: the entry is watched while this country is */
  country: string;
  asns: number[];
  /** case-insensitive substrings of the AS organisation name, or regular expressions written /like this/ */
  names: string[];
  /** where the numbers and names were checked (a URL or reference) */
  source: string;
}

/** Evidence fields a rule may add to the ones every alert carries. */
export type ExtraEvidence = Partial<Omit<AlertRecord['evidence'], 'first_seen' | 'last_seen' | 'flows' | 'packets' | 'bytes_out' | 'bytes_in' | 'uids' | 'reason' | 'pcap' | 'pcap_missing'>>;

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

/**
 * Any ended flow with a local end, for rules that look beyond a device's own
 * outbound connections: scans of the local network, sessions an Internet
 * host opened to a device, DNS questions (app.dns). Outbound flows are seen
 * here too, before the flow rules judge them.
 */
export interface SeenFlow {
  flow: FlowRecord;
  /** the local device that opened it; null when an Internet host (or an untracked one) did */
  device: DeviceFacts | null;
  /** an Internet host opened it to a local one: that device */
  responder: DeviceFacts | null;
  ends: FlowEnds;
  /** the destination's country, AS and operator when it is on the Internet */
  dst: GeoInfo | null;
  /** an inbound flow's source: its country, AS and operator */
  src: GeoInfo | null;
  /** what its payloads showed (DNS questions, ...) */
  app: AppFacts | null;
  /** DNS gave the initiator the destination before the flow began */
  resolved: boolean;
}

/** What an alert is raised about: the flow that adds to it and the device it is filed under. */
export interface AlertSubject {
  flow: FlowRecord;
  device: DeviceFacts;
  /** the profile covering the device, if any (ctx.profiles.profileFor) */
  profile: DeviceProfile | null;
}

/** What one alert says; texts are functions because most flows add to an alert already open. */
export interface AlertSpec {
  /** what makes the alert distinct for its device: a destination, or '' for one alert per device */
  key: string;
  destination: () => AlertRecord['destination'];
  message: () => string;
  reason: () => string;
  /** seconds the alert stays open, adding flows, before the next one opens: the suppression window unless set; Infinity for one per run */
  windowS?: number;
  /** fills the rule's own evidence fields (its `evidence` list) of the alert this flow opened or was added to; called for every such flow */
  evidence?: (e: AlertRecord['evidence']) => void;
}

/** What a rule is given to run with. */
export interface RuleContext<P extends RuleParams = RuleParams> {
  settings: RuleSettings<P>;
  /** the whole detections file: watch lists, suppression window */
  config: DetectionConfig;
  profiles: ProfileMatcher;
  /** the threat-intel feeds given with --intel (none: no file); the sensor may reload them between calls */
  intel: IntelFeeds;
  /** adds the flow to the device's open alert for spec.key (one per suppression window, or spec.windowS), or opens one */
  raise(j: AlertSubject, spec: AlertSpec): void;
  /** an alert judged over a whole series (beacons): one per device and destination, replaced when scored again; at the rule's severity unless `severity` is given */
  raiseSeries(s: Series, message: string, reason: string, extra: ExtraEvidence, severity?: Severity): void;
  /**
   * What the rule learnt in earlier runs and keeps for later ones (--state
   * DIR); null without --state: learning is then per run. A rule reads its
   * devices once, when created, and registers how to snapshot them; the
   * store writes every snapshot whenever alerts are asked for.
   */
  state: RuleState | null;
}

/** The span of capture time read, over which series are scored. */
export interface Span {
  start: number;
  end: number;
}

/** One rule's work during a run, built from its context. */
export interface RuleRun {
  /** every ended flow with a local end, in flow order, before the flow rules judge it */
  seen?(s: SeenFlow): void;
  /** every judged flow, in flow order */
  flow?(j: JudgedFlow): void;
  /**
   * Alerts are asked for (the end of a run; a sensor asks at every file):
   * judge what is still pending over the span read so far. Called again
   * later with more read, so raise only what was not raised before.
   */
  end?(span: Span): void;
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

export function destinationOf(j: Pick<JudgedFlow, 'flow' | 'dst'>, name: string | null, withPort: boolean): AlertRecord['destination'] {
  const f = j.flow;
  return { ip: f.dst_ip, port: withPort ? f.dst_port : null, proto: withPort ? f.proto : null, name, country: j.dst.country, asn: j.dst.asn, as_org: j.dst.as_org };
}

/**
 * How messages name a device, then its MAC (or address): its brand and model
 * when known ("Philips Hue bridge 00:17:88:24:76:ff", "TP-Link HS110(EU)
 * 50:c7:bf:00:c7:03"); the module maker when that is all that is known
 * ("device (Espressif module) 5c:cf:7f:07:ae:fb"); else the OUI vendor.
 */
export const deviceLabel = (d: DeviceFacts): string => {
  const id = d.mac ?? d.ip;
  if (d.brand) return `${d.brand}${d.model ? ` ${d.model}` : ''} ${id}`;
  if (d.module_vendor) return `device (${d.module_vendor} module) ${id}`;
  return `${d.vendor ? `${d.vendor} ` : ''}${id}`;
};
