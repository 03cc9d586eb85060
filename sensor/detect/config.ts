import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node, type Pair, type Scalar, type YAMLMap } from 'yaml';
import type { Severity } from '../../contract/types.js';
import { dnsName } from '../enrich/cctld.js';
import { ConfigError } from '../errors.js';
import { RULES_DIR } from '../util/paths.js';
import { mitre } from './mitre.js';
import type { DetectionConfig, Rule, RuleSettings, WatchedOrganisation } from './rule.js';
import { namePatternProblem } from './rules/geo-callback.js';
import { defaultRuleSettings, RULES } from './rules/index.js';

export type { DetectionConfig };


const SEVERITIES: Severity[] = ['info', 'low', 'medium', 'high', 'critical'];

export const DEFAULT_CONFIG_FILE = join(RULES_DIR, 'detections.yaml');

export { defaultRuleSettings };

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
  refuseAliases(file, doc, lc);
  const r = new YamlReader(file, lc);
  const root = doc.contents;
  if (!isMap(root)) return r.fail(root, 'expected a mapping with suppression_window_s, watch and rules');
  const cfg: DetectionConfig = {
    suppressionWindowS: 86400, watchCountries: [], watchAsns: [], watchNetworks: [], watchOrganisations: [], watchNameSuffixes: [], rules: defaultRuleSettings(rules),
  };
  for (const pair of root.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : '';
    const value = pair.value as Node | null;
    if (key === 'suppression_window_s') cfg.suppressionWindowS = r.num(value, 'suppression_window_s', 1);
    else if (key === 'watch') readWatch(r, value, cfg, file);
    else if (key === 'rules') readRules(r, value, cfg, rules);
    else r.fail(pair.key as Node, `unknown key ${JSON.stringify(key)} (expected suppression_window_s, watch, rules)`);
  }
  return cfg;
}

/**
 * Settings are read node by node, and an alias is not the node it names: one
 * would be read as an empty value. Refused up front, in one walk, with its line
 * (a file of thousands of aliases fails as fast as a file of one).
 */
function refuseAliases(file: string, doc: Document.Parsed, lc: LineCounter): void {
  visit(doc, {
    Alias(_key, node) {
      const line = node.range ? lc.linePos(node.range[0]).line : null;
      throw new ConfigError(file, line, `YAML alias *${node.source}: aliases are not supported in detection settings; write the value out`);
    },
  });
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

const WATCH_KEYS = 'countries, asns, networks, organisations, name_suffixes';

function readWatch(r: YamlReader, value: Node | null, cfg: DetectionConfig, file: string): void {
  for (const w of r.map(value, `watch must be a mapping with ${WATCH_KEYS}`).items) {
    const wk = keyOf(w.key);
    const wv = w.value as Node | null;
    if (wk === 'countries') {
      cfg.watchCountries = r.list(wv, 'watch.countries').map((c) => countryCode(r, c, 'watch.countries'));
    } else if (wk === 'asns') cfg.watchAsns = r.list(wv, 'watch.asns').map((a) => r.num(a, 'watch.asns entry', 1));
    else if (wk === 'networks') {
      cfg.watchNetworks = r.list(wv, 'watch.networks').map((c) => {
        const v = isScalar(c) ? String(c.value) : '';
        if (!/^[0-9a-fA-F:.]+\/\d{1,3}$/.test(v)) r.fail(c, `watch.networks: ${JSON.stringify(v)} is not a network like 203.0.113.0/24`);
        return v;
      });
    } else if (wk === 'organisations') cfg.watchOrganisations = readOrganisations(r, wv, file);
    else if (wk === 'name_suffixes') cfg.watchNameSuffixes = r.list(wv, 'watch.name_suffixes').map((n) => nameSuffix(r, n));
    else r.fail(w.key as Node, `unknown key watch.${wk} (expected ${WATCH_KEYS})`);
  }
}

function countryCode(r: YamlReader, c: Node | null, what: string): string {
  const v = isScalar(c) ? String(c.value).toUpperCase() : '';
  if (!/^[A-Z]{2}$/.test(v)) r.fail(c, `${what}: ${JSON.stringify(isScalar(c) ? c.value : null)} is not an ISO 3166-1 alpha-2 code`);
  return v;
}

/** A watched name suffix as the DNS compares it: "example.cn", ".example.cn" and "EXAMPLE.CN." are one; Unicode labels become punycode. */
function nameSuffix(r: YamlReader, n: Node | null): string {
  const given = isScalar(n) && typeof n.value === 'string' ? n.value : '';
  const v = dnsName(given.replace(/^\./, ''));
  if (!v || !/^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/.test(v)) {
    r.fail(n, `watch.name_suffixes: ${JSON.stringify(isScalar(n) ? n.value : null)} is not a domain name suffix like example.cn`);
  }
  return v;
}

/**
 * watch.organisations: a file of entries (a name beside the detections file,
 * else in phonehome's rules/ folder, so a copied detections file still finds
 * the shipped list), a list of entries, or a list mixing both.
 */
function readOrganisations(r: YamlReader, value: Node | null, file: string): WatchedOrganisation[] {
  const out: WatchedOrganisation[] = [];
  const seen = new Map<number, string>();
  const items = isScalar(value) ? [value] : isSeq(value) ? (value.items as Node[]) : r.fail(value, 'watch.organisations must be a file name (such as watch/operators.yaml) or a list of organisations');
  for (const item of items) {
    if (isMap(item)) out.push(readOrganisation(r, item, seen));
    else if (isScalar(item) && typeof item.value === 'string') out.push(...readOrganisationsFile(r, item, file, seen));
    else r.fail(item, 'watch.organisations: each item is an organisation (operator, country, asn and/or name, source) or a file name');
  }
  return out;
}

function readOrganisationsFile(r: YamlReader, ref: Scalar, file: string, seen: Map<number, string>): WatchedOrganisation[] {
  const name = String(ref.value);
  const found = (isAbsolute(name) ? [name] : [join(dirname(file), name), join(RULES_DIR, name)]).find((f) => existsSync(f));
  if (!found) return r.fail(ref, `watch.organisations: ${name} is neither beside ${file} nor in ${RULES_DIR}`);
  let text: string;
  try {
    text = readFileSync(found, 'utf8');
  } catch (e) {
    return r.fail(ref, `watch.organisations: ${found} cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false });
  if (doc.errors.length) throw new ConfigError(found, lc.linePos(doc.errors[0].pos[0]).line, `YAML syntax: ${doc.errors[0].message.split('\n')[0]}`);
  refuseAliases(found, doc, lc);
  const inner = new YamlReader(found, lc);
  return inner.list(doc.contents as Node | null, 'an organisations file').map((item) => readOrganisation(inner, inner.map(item, 'each organisation must be a mapping with operator, country, asn and/or name, source'), seen));
}

const ORGANISATION_KEYS = 'operator, country, asn, name, source';

/** One watched operator; an AS number listed twice (in any file) is an error. */
function readOrganisation(r: YamlReader, m: YAMLMap, seen: Map<number, string>): WatchedOrganisation {
  const o: WatchedOrganisation = { operator: '', country: '', asns: [], names: [], source: '' };
  const text = (v: Node | null, what: string): string => {
    if (!isScalar(v) || typeof v.value !== 'string' || v.value.trim() === '') r.fail(v, `${what} must be some text`);
    return String((v as Scalar).value).trim();
  };
  for (const pair of m.items) {
    const k = keyOf(pair.key);
    const v = pair.value as Node | null;
    if (k === 'operator') o.operator = text(v, 'operator');
    else if (k === 'country') o.country = countryCode(r, v, 'country');
    else if (k === 'source') o.source = text(v, 'source');
    else if (k === 'asn') {
      o.asns = (isSeq(v) ? (v.items as Node[]) : [v]).map((a) => {
        const n = r.num(a, 'asn', 1);
        if (!Number.isInteger(n) || n > 0xffffffff) r.fail(a, `asn: ${n} is not an AS number`);
        const other = seen.get(n);
        if (other !== undefined) r.fail(a, `asn: AS${n} is already listed under ${other}`);
        seen.set(n, o.operator || '(another organisation)');
        return n;
      });
    } else if (k === 'name') {
      o.names = (isSeq(v) ? (v.items as Node[]) : [v]).map((p) => {
        const pattern = text(p, 'name');
        const problem = namePatternProblem(pattern);
        if (problem) r.fail(p, `name: ${JSON.stringify(pattern)} ${problem}`);
        return pattern;
      });
    } else r.fail(pair.key as Node, `unknown key ${JSON.stringify(k)} in an organisation (expected ${ORGANISATION_KEYS})`);
  }
  const missing = ['operator', 'country', 'source'].filter((k) => !o[k as 'operator' | 'country' | 'source']);
  if (missing.length) r.fail(m, `an organisation needs ${missing.join(', ')} (it has ${m.items.map((p) => keyOf(p.key)).join(', ') || 'nothing'})`);
  if (o.asns.length === 0 && o.names.length === 0) r.fail(m, `organisation ${JSON.stringify(o.operator)} needs asn numbers or name patterns`);
  for (const a of o.asns) seen.set(a, o.operator);
  return o;
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
  } else if (key in defaults && typeof defaults[key] === 'boolean') {
    if (!isScalar(v) || typeof v.value !== 'boolean') r.fail(v, `rules.${id}.${key} must be true or false`);
    settings.params[key] = (v as Scalar).value as boolean;
  } else if (key in defaults) {
    settings.params[key] = Array.isArray(defaults[key]) ? r.list(v, `rules.${id}.${key}`).map((x) => r.num(x, `rules.${id}.${key} entry`)) : r.num(v, `rules.${id}.${key}`);
  } else {
    r.fail(setting.key as Node, `unknown setting rules.${id}.${key} (expected ${['enabled', 'severity', 'mitre', ...Object.keys(defaults)].join(', ')})`);
  }
}
