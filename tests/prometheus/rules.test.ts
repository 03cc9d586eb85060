// The Prometheus rules as Prometheus' own tool judges them: `promtool check
// rules` (syntax, PromQL, templates) and `promtool test rules` (series in,
// alerts out) as real processes, plus a broken copy that must fail, so a
// passing run means something.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { promtool, RULES_FILE } from '../helpers/prometheus.js';

const UNIT_TESTS = resolve(import.meta.dirname, 'phonehome.rules.test.yml');

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface ExpAlert {
  exp_labels?: Record<string, string>;
  exp_annotations?: Record<string, string>;
}
interface UnitTests {
  rule_files: string[];
  tests: { name: string; alert_rule_test?: { alertname: string; eval_time: string; exp_alerts: ExpAlert[] }[] }[];
}

const rules = (parse(readFileSync(RULES_FILE, 'utf8')) as { groups: { name: string; rules: Rule[] }[] }).groups.flatMap((g) => g.rules);
const alerts = rules.filter((r) => r.alert);
const unit = parse(readFileSync(UNIT_TESTS, 'utf8')) as UnitTests;
const cases = unit.tests.flatMap((t) => t.alert_rule_test ?? []);

/** A copy of the rules with `edit` applied, and of the unit tests pointing at it. */
function brokenCopy(edit: (rules: string) => string): { rules: string; tests: string } {
  const dir = mkdtempSync(join(tmpdir(), 'phonehome-rules-'));
  const original = readFileSync(RULES_FILE, 'utf8');
  const changed = edit(original);
  expect(changed, 'the edit must change the rules').not.toBe(original);
  writeFileSync(join(dir, 'phonehome.rules.yml'), changed);
  writeFileSync(join(dir, 'tests.yml'), readFileSync(UNIT_TESTS, 'utf8').replace(/^  - \.\.\/\.\.\/rules\/prometheus\/phonehome\.rules\.yml$/m, '  - phonehome.rules.yml'));
  return { rules: join(dir, 'phonehome.rules.yml'), tests: join(dir, 'tests.yml') };
}

describe('rules/prometheus/phonehome.rules.yml', () => {
  it('promtool check rules accepts every rule', () => {
    const r = promtool(['check', 'rules', RULES_FILE]);
    expect(r.output).toContain(`SUCCESS: ${rules.length} rules found`);
    expect(r.code, r.output).toBe(0);
  });

  it('promtool test rules: every unit test passes', () => {
    const r = promtool(['test', 'rules', UNIT_TESTS], import.meta.dirname);
    expect(r.code, r.output).toBe(0);
    expect(r.output).toContain('SUCCESS');
  });

  it('every alert has a severity, a summary, a description and a runbook pointing at the collector', () => {
    expect(alerts.length).toBeGreaterThanOrEqual(8);
    for (const a of alerts) {
      expect(['critical', 'warning', 'info'], a.alert).toContain(a.labels?.severity);
      for (const k of ['summary', 'description', 'runbook']) expect(a.annotations?.[k], `${a.alert} ${k}`).toBeTruthy();
      expect(a.annotations!.runbook, a.alert).toMatch(/(GET|PATCH) \/(api\/v1\/|healthz|readyz)/);
    }
  });

  it('every alert is unit-tested firing and not firing; firing ones name their device and country', () => {
    for (const a of alerts) {
      const mine = cases.filter((c) => c.alertname === a.alert);
      expect(mine.some((c) => c.exp_alerts.length > 0), `${a.alert} has a firing case`).toBe(true);
      expect(mine.some((c) => c.exp_alerts.length === 0), `${a.alert} has a not-firing case`).toBe(true);
      for (const exp of mine.flatMap((c) => c.exp_alerts)) {
        // promtool compares annotations exactly, so the expected text is the rendered text
        const text = `${exp.exp_annotations?.summary} ${exp.exp_annotations?.description}`;
        for (const label of ['device', 'country', 'sensor', 'instance', 'reason']) {
          const v = exp.exp_labels?.[label];
          if (v) expect(text, `${a.alert} mentions its ${label}`).toContain(v);
        }
        if (exp.exp_labels?.device) expect(exp.exp_annotations?.runbook).toContain(`/api/v1/devices/${exp.exp_labels.device}`);
        if (exp.exp_labels?.country) expect(exp.exp_annotations?.runbook).toContain(`country=${exp.exp_labels.country}`);
      }
    }
  });

  it("an alert labelled with a detection rule counts that rule's new alerts and its runbook lists them", () => {
    const labelled = alerts.filter((a) => a.labels?.rule);
    expect(labelled.map((a) => a.labels!.rule)).toEqual(expect.arrayContaining(['threat-intel', 'scan', 'inbound-exposure', 'port-mapping', 'dns-tunnel', 'dga', 'cleartext-credentials', 'abnormal-upload', 'new-behaviour', 'long-connection']));
    expect(new Set(labelled.map((a) => a.labels!.rule)).size, 'one alert per rule').toBe(labelled.length);
    for (const a of labelled) {
      const rule = a.labels!.rule;
      expect([...a.expr.matchAll(/\{rule="([^"]+)"\}/g)].map((m) => m[1]), a.alert).toEqual([rule]);
      expect(a.expr, a.alert).toContain('rule_severity_country:phonehome_alerts:new5m');
      expect(a.annotations!.runbook, a.alert).toContain(`GET /api/v1/alerts?rule=${rule}`);
      expect(a.annotations!.description, a.alert).toContain(`new ${rule} alert(s)`);
    }
  });

  it('a copy whose scan alert watches the dga rule fails promtool test rules', () => {
    const copy = brokenCopy((s) => s.replace('new5m{rule="scan"}) > 0', 'new5m{rule="dga"}) > 0'));
    expect(promtool(['check', 'rules', copy.rules]).code).toBe(0);
    const r = promtool(['test', 'rules', copy.tests]);
    expect(r.code).not.toBe(0);
    // quiet when scan alerts arrive
    expect(r.output).toMatch(/alertname: PhonehomeScan, time: 17m/);
  });

  it('rules/prometheus/README.md lists every alert once, with its severity', () => {
    const readme = readFileSync(resolve(RULES_FILE, '../README.md'), 'utf8');
    const rows = [...readme.matchAll(/^\s*\| `(Phonehome\w+)` \| (\w+) \|/gm)].map((m) => [m[1], m[2]]);
    const order = (name: string) => alerts.findIndex((a) => a.alert === name);
    expect(rows.sort((a, b) => order(a[0]) - order(b[0]))).toEqual(alerts.map((a) => [a.alert, a.labels!.severity]));
  });

  it('a syntax error in a copy fails promtool check rules', () => {
    const copy = brokenCopy((s) => s.replace('sum by (country) (rule_severity_country:phonehome_alerts:new5m{rule="geo-callback"})', 'sum by (country (rule_severity_country:phonehome_alerts:new5m{rule="geo-callback"})'));
    const r = promtool(['check', 'rules', copy.rules]);
    expect(r.code).not.toBe(0);
    expect(r.output).toMatch(/parse error/);
  });

  it('a copy that counts new alerts with a plain increase() misses the first callback to a new country', () => {
    const copy = brokenCopy((s) =>
      s.replace(/(- record: rule_severity_country:phonehome_alerts:new5m\n\s+expr: )\|\n(?:\s{10}.*\n)+?(?=\n)/, '$1max without (instance) (increase(phonehome_alerts_total[5m]))\n'),
    );
    expect(promtool(['check', 'rules', copy.rules]).code).toBe(0);
    const r = promtool(['test', 'rules', copy.tests]);
    expect(r.code).not.toBe(0);
    expect(r.output).toMatch(/alertname: PhonehomeGeoCallback, time: 21m/);
  });

  it('a copy with a wrong threshold fails promtool test rules', () => {
    const copy = brokenCopy((s) => s.replace('expr: sensor:phonehome_sensor_last_seen:age_seconds > 600', 'expr: sensor:phonehome_sensor_last_seen:age_seconds > 900'));
    const r = promtool(['test', 'rules', copy.tests]);
    expect(r.code).not.toBe(0);
    expect(r.output).toMatch(/alertname: PhonehomeSensorSilent/);
  });
});
