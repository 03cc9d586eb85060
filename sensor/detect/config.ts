import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node, type Pair, type Scalar, type YAMLMap } from 'yaml';
import type { Severity } from '../../contract/types.js';
import { ConfigError } from '../errors.js';
import { RULES_DIR } from '../util/paths.js';
import { mitre } from './mitre.js';
import type { DetectionConfig, Rule, RuleSettings } from './rule.js';
import { RULES } from './rules/index.js';

export type { DetectionConfig };


const SEVERITIES: Severity[] = ['info', 'low', 'medium', 'high', 'critical'];

export const DEFAULT_CONFIG_FILE = join(RULES_DIR, 'detections.yaml');

/** Every rule as it ships: the registry's defaults. */
export function defaultRuleSettings(rules: readonly Rule[] = RULES): Record<string, RuleSettings> {
  return Object.fromEntries(
    rules.map((r): [string, RuleSettings] => [r.id, { enabled: r.defaults.enabled, severity: r.defaults.severity, mitre: r.defaults.mitre.map(mitre), params: { ...r.defaults.params } }]),
  );
}

/** Reads and validates a detections file; every mistake names the file, the line and what was expected. */
export function loadDetectionConfig(file = DEFAULT_CONFIG_FILE, rules: readonly Rule[] = RULES): DetectionConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(file, null, `cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false });
  if (doc.errors.length) {
    const e = doc.errors[0];
    throw new ConfigError(file, lc.linePos(e.pos[0]).line, `YAML syntax: ${e.message.split('\n')[0]}`);
  }
  const r = new YamlReader(file, lc);
  const root = doc.contents;
  if (!isMap(root)) return r.fail(root, 'expected a mapping with suppression_window_s, watch and rules');
  const cfg: DetectionConfig = { suppressionWindowS: 86400, watchCountries: [], watchAsns: [], watchNetworks: [], rules: defaultRuleSettings(rules) };
  for (const pair of root.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : '';
    const value = pair.value as Node | null;
    if (key === 'suppression_window_s') cfg.suppressionWindowS = r.num(value, 'suppression_window_s', 1);
    else if (key === 'watch') readWatch(r, value, cfg);
    else if (key === 'rules') readRules(r, value, cfg, rules);
    else r.fail(pair.key as Node, `unknown key ${JSON.stringify(key)} (expected suppression_window_s, watch, rules)`);
  }
  return cfg;
}

/** Typed reads of YAML nodes that fail with the file and line. */
class YamlReader {
  constructor(
    private readonly file: string,
    private readonly lc: LineCounter,
  ) {}

  fail(n: Node | null | undefined, msg: string): never {
    throw new ConfigError(this.file, n?.range ? this.lc.linePos(n.range[0]).line : null, msg);
  }

  num(n: Node | null, what: string, min = 0): number {
    if (!isScalar(n) || typeof n.value !== 'number' || !(n.value >= min)) return this.fail(n, `${what} must be a number >= ${min}, got ${JSON.stringify(isScalar(n) ? n.value : n?.toJSON())}`);
    return n.value;
  }

  list(n: Node | null, what: string): Node[] {
    if (!isSeq(n)) return this.fail(n, `${what} must be a list`);
    return n.items as Node[];
  }

  map(n: Node | null, msg: string): YAMLMap {
    if (!isMap(n)) return this.fail(n, msg);
    return n;
  }
}

const keyOf = (n: unknown): string => (isScalar(n) ? String(n.value) : '');

function readWatch(r: YamlReader, value: Node | null, cfg: DetectionConfig): void {
  for (const w of r.map(value, 'watch must be a mapping with countries, asns, networks').items) {
    const wk = keyOf(w.key);
    const wv = w.value as Node | null;
    if (wk === 'countries') {
      cfg.watchCountries = r.list(wv, 'watch.countries').map((c) => {
        const v = isScalar(c) ? String(c.value).toUpperCase() : '';
        if (!/^[A-Z]{2}$/.test(v)) r.fail(c, `watch.countries: ${JSON.stringify(isScalar(c) ? c.value : null)} is not an ISO 3166-1 alpha-2 code`);
        return v;
      });
    } else if (wk === 'asns') cfg.watchAsns = r.list(wv, 'watch.asns').map((a) => r.num(a, 'watch.asns entry', 1));
    else if (wk === 'networks') {
      cfg.watchNetworks = r.list(wv, 'watch.networks').map((c) => {
        const v = isScalar(c) ? String(c.value) : '';
        if (!/^[0-9a-fA-F:.]+\/\d{1,3}$/.test(v)) r.fail(c, `watch.networks: ${JSON.stringify(v)} is not a network like 203.0.113.0/24`);
        return v;
      });
    } else r.fail(w.key as Node, `unknown key watch.${wk} (expected countries, asns, networks)`);
  }
}

function readRules(r: YamlReader, value: Node | null, cfg: DetectionConfig, rules: readonly Rule[]): void {
  for (const item of r.map(value, 'rules must be a mapping of rule id to settings').items) {
    const id = keyOf(item.key);
    const rule = rules.find((x) => x.id === id);
    if (!rule) r.fail(item.key as Node, `unknown rule ${JSON.stringify(id)} (rules are ${rules.map((x) => x.id).join(', ')})`);
    for (const setting of r.map(item.value as Node | null, `rules.${id} must be a mapping`).items) readRuleSetting(r, rule!, setting, cfg.rules[id]);
  }
}

/** One setting of one rule; the schema of its thresholds is the type of the rule's defaults. */
function readRuleSetting(r: YamlReader, rule: Rule, setting: Pair, settings: RuleSettings): void {
  const { id, defaults: { params: defaults } } = rule;
  const key = keyOf(setting.key);
  const v = setting.value as Node | null;
  if (key === 'enabled') {
    if (!isScalar(v) || typeof v.value !== 'boolean') r.fail(v, `rules.${id}.enabled must be true or false`);
    settings.enabled = (v as Scalar).value as boolean;
  } else if (key === 'severity') {
    const s = isScalar(v) ? String(v.value) : '';
    if (!SEVERITIES.includes(s as Severity)) r.fail(v, `rules.${id}.severity must be one of ${SEVERITIES.join(', ')}, got ${JSON.stringify(s)}`);
    settings.severity = s as Severity;
  } else if (key === 'mitre') {
    settings.mitre = r.list(v, `rules.${id}.mitre`).map((t) => {
      const s = isScalar(t) ? String(t.value) : '';
      if (!/^T\d{4}(\.\d{3})?$/.test(s)) r.fail(t, `rules.${id}.mitre: ${JSON.stringify(s)} is not an ATT&CK technique id like T1071`);
      return mitre(s);
    });
  } else if (key in defaults) {
    settings.params[key] = Array.isArray(defaults[key]) ? r.list(v, `rules.${id}.${key}`).map((x) => r.num(x, `rules.${id}.${key} entry`)) : r.num(v, `rules.${id}.${key}`);
  } else {
    r.fail(setting.key as Node, `unknown setting rules.${id}.${key} (expected ${['enabled', 'severity', 'mitre', ...Object.keys(defaults)].join(', ')})`);
  }
}
