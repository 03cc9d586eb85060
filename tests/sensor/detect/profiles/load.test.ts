// Loading a profile directory: the shipped profiles, which files are read
// and in what order, and how a broken or clashing file is reported.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { DeviceProfile } from '../../../../contract/types.js';
import { loadProfiles } from '../../../../sensor/detect/profiles/load.js';
import {
  MUD_FIXTURES as MUD,
  RULES_DEVICES as RULES,
  profileDocumenting as withDoc,
  profileErrorOf as errorOf,
  yamlLines as y,
} from '../../../helpers/profiles.js';

describe('loadProfiles', () => {
  const scratch = () => mkdtempSync(join(tmpdir(), 'phonehome-profiles-'));
  const ok = (name: string) => y(`profile: ${name}`, 'match: {vendor: X}', 'documented: []');

  it('loads the shipped rules/devices folder: one profile for each corpus device', () => {
    const { profiles, warnings } = loadProfiles(RULES);
    expect(warnings).toEqual([]);
    const names = profiles.map((p) => p.profile);
    expect(new Set(names).size).toBe(names.length);
    for (const p of profiles) expect(p.source).toBe(join(RULES, `${p.profile}.yaml`));
    const matches = (p: DeviceProfile, mac: string) =>
      (p.match.mac ?? []).includes(mac) || (p.match.oui ?? []).some((o) => mac.startsWith(o));
    const expected: Record<string, string> = {
      '50:c7:bf:00:c7:03': 'tplink-hs110',
      '50:c7:bf:00:fc:a3': 'tplink-hs100',
      '00:17:88:24:76:ff': 'philips-hue-bridge',
      '94:10:3e:35:01:c1': 'belkin-wemo-switch',
      '74:da:38:4a:76:49': 'edimax-sp1101w',
      '74:da:38:23:22:7b': 'edimax-sp2101w',
      '74:da:38:80:7a:08': 'edimax-ic3115w',
      'b0:c5:54:25:5b:0e': 'dlink-dcs935l',
    };
    for (const [mac, name] of Object.entries(expected)) {
      expect(profiles.filter((p) => matches(p, mac)).map((p) => p.profile)).toEqual([name]);
    }
  });

  it('documents TP-Link plugs as the vendor would, leaving the other time servers visible', () => {
    const { profiles } = loadProfiles(RULES);
    for (const name of ['tplink-hs110', 'tplink-hs100']) {
      const p = profiles.find((x) => x.profile === name);
      const domains = p?.documented.map((d) => d.domain);
      expect(domains).toContain('*.tplinkcloud.com');
      expect(domains).toContain('*.pool.ntp.org');
      expect(domains?.some((d) => /time\.edu\.cn|nist\.gov/.test(d ?? ''))).toBe(false);
    }
  });

  it('reads *.yaml, *.yml and *.json in name order and nothing else', () => {
    const dir = scratch();
    writeFileSync(join(dir, 'b.yml'), ok('b'));
    writeFileSync(join(dir, 'a.yaml'), ok('a'));
    writeFileSync(join(dir, 'c.json'), readFileSync(join(MUD, 'rfc8520-example.json')));
    writeFileSync(join(dir, 'README.md'), '# not a profile\n');
    writeFileSync(join(dir, '.hidden.yaml'), 'not: [valid');
    mkdirSync(join(dir, 'sub.yaml'));
    writeFileSync(join(dir, 'sub.yaml', 'x.yaml'), 'broken: [');
    const { profiles, warnings } = loadProfiles(dir);
    expect(profiles.map((p) => [p.profile, p.source])).toEqual([
      ['a', join(dir, 'a.yaml')],
      ['b', join(dir, 'b.yml')],
      ['example-lighting-lightbulb-2000', join(dir, 'c.json')],
    ]);
    expect(profiles[2]['mud-url']).toBe('https://lighting.example.com/lightbulb2000');
    expect(warnings).toEqual([
      `${join(dir, 'c.json')}: from-device ACE "ctl0-frdev" (controller urn:ietf:params:mud:dns): no destination address or name`,
    ]);
  });

  it('throws the first broken file with its line', () => {
    const dir = scratch();
    writeFileSync(join(dir, 'a.yaml'), ok('a'));
    writeFileSync(join(dir, 'b.yaml'), withDoc('  - cidr: 10.1.2.3/8'));
    writeFileSync(join(dir, 'c.yaml'), 'also: [broken');
    const e = errorOf(() => loadProfiles(dir));
    expect(e.message).toBe(`${join(dir, 'b.yaml')}:5: documented[0].cidr: "10.1.2.3/8" has host bits set (the network is 10.0.0.0/8)`);
  });

  it('refuses the same profile name in two files, naming both', () => {
    const dir = scratch();
    writeFileSync(join(dir, 'a.yaml'), ok('lamp'));
    writeFileSync(join(dir, 'b.yaml'), y('# second copy', ...ok('lamp').trimEnd().split('\n')));
    const e = errorOf(() => loadProfiles(dir));
    expect(e.code).toBe('PROFILE_INVALID');
    expect(e.message).toBe(`${join(dir, 'b.yaml')}:2: profile "lamp" is already defined in ${join(dir, 'a.yaml')}`);
  });

  it('refuses a MUD file whose derived name clashes with a YAML profile', () => {
    const dir = scratch();
    writeFileSync(join(dir, 'a.yaml'), ok('example-lighting-lightbulb-2000'));
    writeFileSync(join(dir, 'b.json'), readFileSync(join(MUD, 'rfc8520-example.json')));
    expect(errorOf(() => loadProfiles(dir)).message).toBe(
      `${join(dir, 'b.json')}: profile "example-lighting-lightbulb-2000" is already defined in ${join(dir, 'a.yaml')}`,
    );
  });

  it('passes MUD errors through', () => {
    const dir = scratch();
    writeFileSync(join(dir, 'lamp.json'), '{\n  "ietf-mud:mud": {\n    "mud-url": 5\n  }\n}\n');
    const e = errorOf(() => loadProfiles(dir));
    expect(e.code).toBe('MUD_INVALID');
    expect(e.message).toBe(`${join(dir, 'lamp.json')}:3: ietf-mud:mud.mud-url: expected a string, found number 5`);
  });

  it('reports a missing directory as PROFILE_IO', () => {
    const dir = join(scratch(), 'nope');
    const e = errorOf(() => loadProfiles(dir));
    expect(e.code).toBe('PROFILE_IO');
    expect(e.line).toBeNull();
    expect(e.message).toMatch(new RegExp(`^${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: cannot read the profile directory: ENOENT`));
  });
});
