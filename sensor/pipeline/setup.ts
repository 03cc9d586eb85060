import { existsSync } from 'node:fs';
import type { Logger } from 'pino';
import { terminalSafe } from '../../contract/escape.js';
import type { AlertRecord, DeviceProfile } from '../../contract/types.js';
import type { DetectionConfig } from '../detect/rule.js';
import { Detector } from '../detect/engine.js';
import { shippedSettings } from '../detect/settings-pack.js';
import { StateStore } from '../detect/state.js';
import { GeoIp } from '../enrich/geoip.js';
import { IntelFeeds } from '../enrich/intel.js';
import { DEFAULT_PROFILES_DIR } from '../util/paths.js';
import type { MeterOptions } from './meter.js';

/** What `phonehome analyze` and `phonehome sensor` are told about the analysis, with the same meaning and defaults. */
export interface AnalysisOptions extends MeterOptions {
  /** device profiles folder; the shipped rules/devices by default, null for none */
  profilesDir?: string | null;
  /** detection settings file; the shipped rules/detections.yaml by default */
  detectionsFile?: string;
  /** MaxMind DB files, asked before the embedded country database */
  geoip?: string[];
  /** replaces the watched countries of the detections file */
  watchCountries?: string[];
  /** alerts itemised per run before further ones roll up per rule (--max-alerts; 10,000) */
  maxAlerts?: number;
  /**
   * --state DIR: baselines (new-behaviour, abnormal-upload) read from and
   * written to DIR/baseline.json; without it learning is per run
   */
  stateDir?: string;
  /** the sensor's log: warnings about the state file go there (analyze writes them to stderr) */
  log?: Logger;
  /** threat-intel feed files (--intel), in order */
  intel?: string[];
}

/** Everything an analysis is configured with, loaded and checked before a packet is read. */
export interface AnalysisSetup {
  config: DetectionConfig;
  profiles: DeviceProfile[];
  /** profile loading notes (MUD entries that could not be mapped) */
  notes: string[];
  geo: GeoIp;
  /** the threat-intel feeds; the sensor reloads them when their files change */
  intel: IntelFeeds;
  /** AnalysisOptions.maxAlerts */
  maxAlerts?: number;
  /** the --state store; null (or absent) without --state */
  state?: StateStore | null;
}

/** Throws ConfigError, ProfileError, GeoIpError or IntelError for a configuration mistake. */
export async function loadAnalysis(opts: AnalysisOptions): Promise<AnalysisSetup> {
  const { config, profiles, notes } = await settings(opts);
  if (opts.watchCountries) config.watchCountries = opts.watchCountries;
  const geo = await GeoIp.open(opts.geoip ?? []);
  const intel = opts.intel?.length ? await IntelFeeds.load(opts.intel) : IntelFeeds.NONE;
  const state = opts.stateDir === undefined ? null : StateStore.open(opts.stateDir, stateWarning(opts.log));
  return { config, profiles, notes, geo, intel, maxAlerts: opts.maxAlerts, state };
}

/**
 * The detection settings and device profiles: the build's pack of the
 * shipped ones when they are asked for and unchanged, else read from their
 * files (the loaders, and the YAML library, load only then).
 */
async function settings(opts: AnalysisOptions): Promise<{ config: DetectionConfig; profiles: DeviceProfile[]; notes: string[] }> {
  const shipped = opts.detectionsFile === undefined && opts.profilesDir === undefined ? shippedSettings() : null;
  if (shipped) return { config: shipped.config, profiles: shipped.profiles, notes: shipped.warnings };
  const config = (await import('../detect/config.js')).loadDetectionConfig(opts.detectionsFile);
  const profilesDir = opts.profilesDir === undefined ? (existsSync(DEFAULT_PROFILES_DIR) ? DEFAULT_PROFILES_DIR : null) : opts.profilesDir;
  const { profiles, warnings: notes } = profilesDir ? (await import('../detect/profiles/load.js')).loadProfiles(profilesDir) : { profiles: [], warnings: [] };
  return { config, profiles, notes };
}

/** Where a warning about the state file goes: the sensor's log, else one line on stderr (analyze). */
function stateWarning(log: Logger | undefined): (message: string) => void {
  if (log) return (message) => log.warn(message);
  return (message) => process.stderr.write(`phonehome: warning: ${terminalSafe(message)}\n`);
}

/** The detection stage of a setup; `onNew` hears each alert when it first fires. */
export function detectorOf(setup: AnalysisSetup, onNew?: (a: AlertRecord) => void): Detector {
  return new Detector({ config: setup.config, profiles: setup.profiles, maxAlerts: setup.maxAlerts, state: setup.state, intel: setup.intel }, onNew);
}
