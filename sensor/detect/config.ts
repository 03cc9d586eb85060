import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import type { AlertRecord, MitreTechnique, Severity } from '../../contract/types.js';
import { RULES_DIR } from '../util/paths.js';

export type RuleId = AlertRecord['rule'];
export const RULE_IDS: RuleId[] = ['undocumented-destination', 'geo-callback', 'beaconing', 'strobe', 'direct-ip', 'unprofiled-device'];
const SEVERITIES: Severity[] = ['info', 'low', 'medium', 'high', 'critical'];

/** ATT&CK techniques phonehome's rules are tagged with. */
const TECHNIQUES: Record<string, Omit<MitreTechnique, 'technique'>> = {
  T1071: { name: 'Application Layer Protocol', tactic: 'Command and Control' },
  T1041: { name: 'Exfiltration Over C2 Channel', tactic: 'Exfiltration' },
  T1029: { name: 'Scheduled Transfer', tactic: 'Exfiltration' },
  T1568: { name: 'Dynamic Resolution', tactic: 'Command and Control' },
  T1571: { name: 'Non-Standard Port', tactic: 'Command and Control' },
  T1095: { name: 'Non-Application Layer Protocol', tactic: 'Command and Control' },
  T1200: { name: 'Hardware Additions', tactic: 'Initial Access' },
  T1195: { name: 'Supply Chain Compromise', tactic: 'Initial Access' },
};

export interface RuleSettings {
  enabled: boolean;
  severity: Severity;
  mitre: MitreTechnique[];
  params: Record<string, number | number[]>;
}

export interface DetectionConfig {
  suppressionWindowS: number;
  watchCountries: string[];
  watchAsns: number[];
  watchNetworks: string[];
  rules: Record<RuleId, RuleSettings>;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly file: string,
    readonly line: number | null,
    readonly detail: string,
  ) {
    super(`${file}${line === null ? '' : `:${line}`}: ${detail}`);
  }
}

/** Numeric parameters each rule accepts, with their defaults (rules/detections.yaml documents them). */
const PARAMS: Record<RuleId, Record<string, number | number[]>> = {
  'undocumented-destination': {},
  'geo-callback': {},
  beaconing: { min_connections: 10, min_score: 0.8, min_timestamp_score: 0.75, max_jitter_ratio: 0.35, merge_within_s: 2 },
  strobe: { min_connections: 10000 },
  'direct-ip': { ignore_ports: [53, 853] },
  'unprofiled-device': {},
};

export const DEFAULT_CONFIG_FILE = join(RULES_DIR, 'detections.yaml');

export function mitre(id: string): MitreTechnique {
  const t = TECHNIQUES[id];
  return { technique: id, name: t?.name ?? '', tactic: t?.tactic ?? '' };
}

/** Reads and validates a detections file; every mistake names the file, the line and what was expected. */
export function loadDetectionConfig(file = DEFAULT_CONFIG_FILE): DetectionConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(file, null, `cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false });
  const lineOf = (n: Node | null | undefined): number | null => (n?.range ? lc.linePos(n.range[0]).line : null);
  if (doc.errors.length) {
    const e = doc.errors[0];
    throw new ConfigError(file, lc.linePos(e.pos[0]).line, `YAML syntax: ${e.message.split('\n')[0]}`);
  }
  const fail = (n: Node | null | undefined, msg: string): never => {
    throw new ConfigError(file, lineOf(n), msg);
  };
  const root = doc.contents;
  if (!isMap(root)) return fail(root, 'expected a mapping with suppression_window_s, watch and rules');
  const cfg: DetectionConfig = {
    suppressionWindowS: 86400,
    watchCountries: [],
    watchAsns: [],
    watchNetworks: [],
    rules: Object.fromEntries(RULE_IDS.map((r): [RuleId, RuleSettings] => [r, { enabled: true, severity: 'medium', mitre: [], params: { ...PARAMS[r] } }])) as Record<RuleId, RuleSettings>,
  };
  const num = (n: Node | null, what: string, min = 0): number => {
    if (!isScalar(n) || typeof n.value !== 'number' || !(n.value >= min)) return fail(n, `${what} must be a number >= ${min}, got ${JSON.stringify(isScalar(n) ? n.value : n?.toJSON())}`);
    return n.value;
  };
  const list = (n: Node | null, what: string): Node[] => {
    if (!isSeq(n)) return fail(n, `${what} must be a list`);
    return n.items as Node[];
  };
  for (const pair of root.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : '';
    const value = pair.value as Node | null;
    if (key === 'suppression_window_s') cfg.suppressionWindowS = num(value, 'suppression_window_s', 1);
    else if (key === 'watch') {
      if (!isMap(value)) fail(value, 'watch must be a mapping with countries, asns, networks');
      for (const w of (value as import('yaml').YAMLMap).items) {
        const wk = isScalar(w.key) ? String(w.key.value) : '';
        const wv = w.value as Node | null;
        if (wk === 'countries') {
          cfg.watchCountries = list(wv, 'watch.countries').map((c) => {
            const v = isScalar(c) ? String(c.value).toUpperCase() : '';
            if (!/^[A-Z]{2}$/.test(v)) fail(c, `watch.countries: ${JSON.stringify(isScalar(c) ? c.value : null)} is not an ISO 3166-1 alpha-2 code`);
            return v;
          });
        } else if (wk === 'asns') cfg.watchAsns = list(wv, 'watch.asns').map((a) => num(a, 'watch.asns entry', 1));
        else if (wk === 'networks') {
          cfg.watchNetworks = list(wv, 'watch.networks').map((c) => {
            const v = isScalar(c) ? String(c.value) : '';
            if (!/^[0-9a-fA-F:.]+\/\d{1,3}$/.test(v)) fail(c, `watch.networks: ${JSON.stringify(v)} is not a network like 203.0.113.0/24`);
            return v;
          });
        } else fail(w.key as Node, `unknown key watch.${wk} (expected countries, asns, networks)`);
      }
    } else if (key === 'rules') {
      if (!isMap(value)) fail(value, 'rules must be a mapping of rule id to settings');
      for (const r of (value as import('yaml').YAMLMap).items) {
        const id = (isScalar(r.key) ? String(r.key.value) : '') as RuleId;
        if (!RULE_IDS.includes(id)) fail(r.key as Node, `unknown rule ${JSON.stringify(id)} (rules are ${RULE_IDS.join(', ')})`);
        const rv = r.value as Node | null;
        if (!isMap(rv)) fail(rv, `rules.${id} must be a mapping`);
        const settings = cfg.rules[id];
        for (const s of (rv as import('yaml').YAMLMap).items) {
          const sk = isScalar(s.key) ? String(s.key.value) : '';
          const sv = s.value as Node | null;
          if (sk === 'enabled') {
            if (!isScalar(sv) || typeof sv.value !== 'boolean') fail(sv, `rules.${id}.enabled must be true or false`);
            settings.enabled = (sv as import('yaml').Scalar).value as boolean;
          } else if (sk === 'severity') {
            const v = isScalar(sv) ? String(sv.value) : '';
            if (!SEVERITIES.includes(v as Severity)) fail(sv, `rules.${id}.severity must be one of ${SEVERITIES.join(', ')}, got ${JSON.stringify(v)}`);
            settings.severity = v as Severity;
          } else if (sk === 'mitre') {
            settings.mitre = list(sv, `rules.${id}.mitre`).map((t) => {
              const v = isScalar(t) ? String(t.value) : '';
              if (!/^T\d{4}(\.\d{3})?$/.test(v)) fail(t, `rules.${id}.mitre: ${JSON.stringify(v)} is not an ATT&CK technique id like T1071`);
              return mitre(v);
            });
          } else if (sk in PARAMS[id]) {
            settings.params[sk] = Array.isArray(PARAMS[id][sk]) ? list(sv, `rules.${id}.${sk}`).map((x) => num(x, `rules.${id}.${sk} entry`)) : num(sv, `rules.${id}.${sk}`);
          } else {
            const known = ['enabled', 'severity', 'mitre', ...Object.keys(PARAMS[id])];
            fail(s.key as Node, `unknown setting rules.${id}.${sk} (expected ${known.join(', ')})`);
          }
        }
      }
    } else fail(pair.key as Node, `unknown key ${JSON.stringify(key)} (expected suppression_window_s, watch, rules)`);
  }
  return cfg;
}
