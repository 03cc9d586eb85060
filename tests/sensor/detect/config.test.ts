// A bad detections file is refused with the file, the line and what was expected.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG_FILE, loadDetectionConfig } from '../../../sensor/detect/config.js';
import { RULE_IDS } from '../../../sensor/detect/rules/index.js';
import { ConfigError } from '../../../sensor/errors.js';
import { phonehome } from '../../helpers/cli.js';
import { fixture } from '../../helpers/corpus.js';

const tmp = mkdtempSync(join(tmpdir(), 'phonehome-config-'));

function write(name: string, text: string): string {
  const f = join(tmp, name);
  writeFileSync(f, text);
  return f;
}

describe('rules/detections.yaml', () => {
  it('the shipped file loads, configures every rule and tags each with ATT&CK techniques', () => {
    const c = loadDetectionConfig(DEFAULT_CONFIG_FILE);
    expect(Object.keys(c.rules).sort()).toEqual([...RULE_IDS].sort());
    for (const id of RULE_IDS) expect(c.rules[id].mitre.length, id).toBeGreaterThan(0);
    expect(c.watchCountries).toContain('CN');
  });

  const cases: [string, string, number, RegExp][] = [
    ['unknown rule', 'rules:\n  beaconing:\n    enabled: true\n  beconing:\n    enabled: false\n', 4, /unknown rule "beconing"/],
    ['bad severity', 'rules:\n  geo-callback:\n    severity: urgent\n', 3, /severity must be one of info, low, medium, high, critical, got "urgent"/],
    ['bad country', 'watch:\n  countries: [CN, China]\n', 2, /"China" is not an ISO 3166-1 alpha-2 code/],
    ['bad threshold', 'rules:\n  beaconing:\n    min_score: high\n', 3, /rules.beaconing.min_score must be a number/],
    ['unknown setting', 'rules:\n  direct-ip:\n    ignore_port: [53]\n', 3, /unknown setting rules.direct-ip.ignore_port/],
    ['bad technique', 'rules:\n  strobe:\n    mitre: [C2]\n', 3, /"C2" is not an ATT&CK technique id/],
    ['syntax', 'rules:\n  beaconing: [unclosed\n', 3, /YAML syntax/],
    // Settings are read node by node: an alias would be read as an empty value, so it is refused where it stands.
    ['alias', 'suppression_window_s: &w 3600\nwatch:\n  countries: [CN, *w]\n', 3, /YAML alias \*w: aliases are not supported in detection settings/],
  ];
  for (const [what, text, line, message] of cases) {
    it(`${what}: error names file and line ${line}`, () => {
      const f = write(`${what.replace(/ /g, '-')}.yaml`, text);
      let err: unknown;
      try {
        loadDetectionConfig(f);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).message).toMatch(message);
      expect((err as ConfigError).message.startsWith(`${f}:${line}: `), (err as Error).message).toBe(true);
    });
  }

  it('the CLI reports a bad detections file in one line with exit 2', () => {
    const f = write('cli.yaml', 'rules:\n  geo-callback:\n    severity: urgent\n');
    const r = phonehome(['analyze', fixture('Withings'), '--detections', f]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(`phonehome: ${f}:3: rules.geo-callback.severity must be one of info, low, medium, high, critical, got "urgent"`);
  });

  it('a file of 20,000 aliases is refused at the first, at once, in one line with exit 2', () => {
    const f = write('aliases.yaml', `suppression_window_s: &w 3600\nwatch:\n  countries: [CN${', *w'.repeat(20_000)}]\n`);
    const started = Date.now();
    const r = phonehome(['analyze', fixture('Withings'), '--detections', f]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(`phonehome: ${f}:3: YAML alias *w: aliases are not supported in detection settings; write the value out`);
    expect(Date.now() - started).toBeLessThan(10_000); // a sanity bound only: it takes well under a second
  });

  it('a disabled rule does not fire; --watch-countries replaces the list', () => {
    const off = write('off.yaml', 'rules:\n  unprofiled-device:\n    enabled: false\n');
    const out = join(tmp, 'off-out');
    expect(phonehome(['analyze', fixture('TP-LinkPlugHS110'), '--no-profiles', '--detections', off, '--out', out, '--json']).code).toBe(0);
    const onlyUs = JSON.parse(phonehome(['analyze', fixture('TP-LinkPlugHS110'), '--no-profiles', '--watch-countries', 'US', '--json']).stdout);
    expect(onlyUs.alerts.some((a: { rule: string }) => a.rule === 'unprofiled-device')).toBe(true);
    const geo = onlyUs.alerts.filter((a: { rule: string }) => a.rule === 'geo-callback');
    expect(geo.length).toBeGreaterThan(0);
    expect(geo.every((a: { destination: { country: string } }) => a.destination.country === 'US')).toBe(true);
    const disabled = JSON.parse(phonehome(['analyze', fixture('TP-LinkPlugHS110'), '--no-profiles', '--detections', off, '--json']).stdout);
    expect(disabled.alerts.some((a: { rule: string }) => a.rule === 'unprofiled-device')).toBe(false);
  });
});
