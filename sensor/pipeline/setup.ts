import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { AlertRecord, DeviceProfile } from '../../contract/types.js';
import { loadDetectionConfig, type DetectionConfig } from '../detect/config.js';
import { Detector } from '../detect/engine.js';
import { loadProfiles } from '../detect/profiles/load.js';
import { GeoIp } from '../enrich/geoip.js';
import { RULES_DIR } from '../util/paths.js';
import type { MeterOptions } from './meter.js';

export const DEFAULT_PROFILES_DIR = join(RULES_DIR, 'devices');

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
}

/** Everything an analysis is configured with, loaded and checked before a packet is read. */
export interface AnalysisSetup {
  config: DetectionConfig;
  profiles: DeviceProfile[];
  /** profile loading notes (MUD entries that could not be mapped) */
  notes: string[];
  geo: GeoIp;
  /** AnalysisOptions.maxAlerts */
  maxAlerts?: number;
}

/** Throws ConfigError, ProfileError or GeoIpError for a configuration mistake. */
export async function loadAnalysis(opts: AnalysisOptions): Promise<AnalysisSetup> {
  const config = loadDetectionConfig(opts.detectionsFile);
  if (opts.watchCountries) config.watchCountries = opts.watchCountries;
  const profilesDir = opts.profilesDir === undefined ? (existsSync(DEFAULT_PROFILES_DIR) ? DEFAULT_PROFILES_DIR : null) : opts.profilesDir;
  const { profiles, warnings: notes } = profilesDir ? loadProfiles(profilesDir) : { profiles: [], warnings: [] };
  const geo = await GeoIp.open(opts.geoip ?? []);
  return { config, profiles, notes, geo, maxAlerts: opts.maxAlerts };
}

/** The detection stage of a setup; `onNew` hears each alert when it first fires. */
export function detectorOf(setup: AnalysisSetup, onNew?: (a: AlertRecord) => void): Detector {
  return new Detector({ config: setup.config, profiles: setup.profiles, maxAlerts: setup.maxAlerts }, onNew);
}
