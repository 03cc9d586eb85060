// The rule registry is the one list of rules: the detections file, the
// README's rule table and every rule id the Prometheus rules and Grafana
// dashboards name are checked against it, and a rule added as one module
// runs through detection with its settings read from YAML like the others.
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import type { AlertRecord } from '../../../../contract/types.js';
import { RULE_ID_PATTERN } from '../../../../contract/schemas.js';
import { DEFAULT_CONFIG_FILE, loadDetectionConfig } from '../../../../sensor/detect/config.js';
import { Detector } from '../../../../sensor/detect/engine.js';
import { deviceLabel, destinationOf, type Rule } from '../../../../sensor/detect/rule.js';
import { RULES } from '../../../../sensor/detect/rules/index.js';
import { enrichFlow } from '../../../../sensor/enrich/destination.js';
import { GeoIp } from '../../../../sensor/enrich/geoip.js';
import { FlowMeter } from '../../../../sensor/pipeline/meter.js';
import { readCaptureFile } from '../../../../sensor/capture/reader.js';
import { fixture } from '../../../helpers/corpus.js';
import { ROOT } from '../../../helpers/repo.js';

const ids = RULES.map((r) => r.id);

describe('rule registry', () => {
  it('lists each rule once, under an id of the contract\'s form', () => {
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(new RegExp(RULE_ID_PATTERN));
    expect('Geo_Callback').not.toMatch(new RegExp(RULE_ID_PATTERN));
  });

  it('rules/detections.yaml configures every rule with the registry\'s defaults, and nothing else', () => {
    const file = parse(readFileSync(DEFAULT_CONFIG_FILE, 'utf8')) as { rules: Record<string, Record<string, unknown>> };
    expect(Object.keys(file.rules).sort()).toEqual([...ids].sort());
    for (const r of RULES) {
      const { enabled, severity, mitre, ...params } = file.rules[r.id];
      expect({ enabled, severity, mitre, params }, r.id).toEqual({ enabled: r.defaults.enabled, severity: r.defaults.severity, mitre: r.defaults.mitre, params: r.defaults.params });
    }
  });

  it("the README's rule table is the registry's, row for row", () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const table = readme.split('<!-- rules:begin -->')[1]?.split('<!-- rules:end -->')[0] ?? '';
    const rows = table.split('\n').filter((l) => /^\|\s*`/.test(l)).map((l) => l.split('|').slice(1, -1).map((c) => c.trim()));
    expect(rows).toEqual(RULES.map((r) => [`\`${r.id}\``, r.defaults.severity, r.defaults.mitre.join(', '), r.summary]));
  });

  it('the Prometheus rules, their tests and the dashboards name only rules that exist', () => {
    const files = [
      ...readdirSync(join(ROOT, 'rules/prometheus')).map((f) => join(ROOT, 'rules/prometheus', f)),
      ...readdirSync(join(ROOT, 'dashboards/json')).map((f) => join(ROOT, 'dashboards/json', f)),
      join(ROOT, 'tests/prometheus/phonehome.rules.test.yml'),
    ];
    const named = new Set<string>();
    for (const f of files) {
      for (const m of readFileSync(f, 'utf8').matchAll(/\brule(?:=\\?"|: |=)([a-z][a-z0-9-]*[a-z0-9])/g)) named.add(m[1]);
    }
    expect(named.size).toBeGreaterThan(1);
    expect([...named].filter((n) => !ids.includes(n))).toEqual([]);
  });
});

/** A rule written as a new module would be: plain-HTTP flows to the Internet, with a port list from YAML. */
const cleartextWeb: Rule<{ ports: number[] }> = {
  id: 'cleartext-web',
  summary: 'a device talks plain HTTP to the Internet',
  defaults: { enabled: true, severity: 'low', mitre: ['T1071'], params: { ports: [80] } },
  evidence: [],
  create: ({ settings, raise }) => ({
    flow(j) {
      if (j.flow.proto !== 'tcp' || !settings.params.ports.includes(j.flow.dst_port)) return;
      raise(j, {
        key: j.flow.dst_ip,
        destination: () => destinationOf(j, j.flow.http_host, true),
        message: () => `${deviceLabel(j.device)} sent plain HTTP to ${j.flow.http_host ?? j.flow.dst_ip}`,
        reason: () => `tcp/${j.flow.dst_port} is in rules.cleartext-web.ports`,
      });
    },
  }),
};

describe('a rule added as one module', () => {
  it('is configured from YAML and raises alerts on real flows, one per destination, with evidence', async () => {
    const rules = [...RULES, cleartextWeb];
    const yaml = join(mkdtempSync(join(tmpdir(), 'phonehome-rule-')), 'detections.yaml');
    writeFileSync(yaml, `${readFileSync(DEFAULT_CONFIG_FILE, 'utf8')}  cleartext-web:\n    severity: medium\n    ports: [80, 8080]\n`);
    const config = loadDetectionConfig(yaml, rules);
    expect(config.rules['cleartext-web'].params.ports).toEqual([80, 8080]);
    expect(() => loadDetectionConfig(yaml)).toThrow(/unknown rule "cleartext-web"/);

    const geo = await GeoIp.open([]);
    const detector = new Detector({ config, profiles: [], rules });
    const http = new Map<string, number>();
    const meter = new FlowMeter({
      flow: (r, device, resolved) => {
        detector.onFlow(enrichFlow(r, device, resolved, geo));
        if (device && r.proto === 'tcp' && r.dst_port === 80 && !/^(10|192\.168|172\.(1[6-9]|2\d|3[01]))\./.test(r.dst_ip)) http.set(r.dst_ip, (http.get(r.dst_ip) ?? 0) + 1);
      },
    });
    await readCaptureFile(fixture('HueBridge'), meter.onPacket);
    meter.finish();
    const alerts = detector.finish(0, Infinity).filter((a: AlertRecord) => a.rule === 'cleartext-web');
    // The capture's own plain-HTTP destinations, counted above from the flow records, are the oracle.
    expect(http.size).toBeGreaterThan(0);
    expect(new Map(alerts.map((a) => [a.destination!.ip!, a.evidence.flows]))).toEqual(http);
    for (const a of alerts) {
      expect(a.severity).toBe('medium');
      expect(a.mitre[0].technique).toBe('T1071');
      expect(a.evidence.uids.length).toBe(a.evidence.flows);
    }
  });
});
