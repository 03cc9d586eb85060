// The build's pack of the shipped detection settings and device profiles:
// it holds exactly what the YAML loaders read from the shipped files (they
// are the oracle), it is used only while those files and the code are
// unchanged, and a run that uses it loads no YAML library and writes what a
// run reading the files writes.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadDetectionConfig } from '../../../sensor/detect/config.js';
import { loadProfiles } from '../../../sensor/detect/profiles/load.js';
import { shippedSettings, writeSettingsPack } from '../../../sensor/detect/settings-pack.js';
import { DEFAULT_PROFILES_DIR, RULES_DIR } from '../../../sensor/util/paths.js';
import { fixture } from '../../helpers/corpus.js';
import { phonehome } from '../../helpers/cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'phonehome-settings-pack-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A copy of the shipped rules/ folder to change. */
function rulesCopy(name: string): string {
  const dir = join(tmp, name);
  for (const p of ['detections.yaml', 'watch', 'devices']) cpSync(join(RULES_DIR, p), join(dir, p), { recursive: true });
  return dir;
}

describe('settings pack', () => {
  it('holds exactly what the YAML loaders read from the shipped rules', async () => {
    const pack = join(tmp, 'shipped.json');
    expect(await writeSettingsPack(pack)).toBe(true);
    const { profiles, warnings } = loadProfiles(DEFAULT_PROFILES_DIR);
    expect(shippedSettings(pack)).toStrictEqual({ config: loadDetectionConfig(), profiles, warnings });
    expect(profiles.length).toBeGreaterThan(0);
  });

  it('is not used once a settings file is changed, added or removed, and is again once it is back', async () => {
    const rules = rulesCopy('edited');
    const pack = join(tmp, 'edited.json');
    await writeSettingsPack(pack, rules);
    expect(shippedSettings(pack, rules)).not.toBeNull();
    const detections = join(rules, 'detections.yaml');
    const original = readFileSync(detections);
    writeFileSync(detections, `${original}\n# one comment more\n`);
    expect(shippedSettings(pack, rules)).toBeNull();
    writeFileSync(detections, original);
    expect(shippedSettings(pack, rules)).not.toBeNull();
    const extra = join(rules, 'devices', 'another.yaml');
    writeFileSync(extra, readFileSync(join(DEFAULT_PROFILES_DIR, 'tplink-hs110.yaml')));
    expect(shippedSettings(pack, rules)).toBeNull();
    rmSync(extra);
    expect(shippedSettings(pack, rules)).not.toBeNull();
    rmSync(join(rules, 'watch'), { recursive: true });
    expect(shippedSettings(pack, rules)).toBeNull();
  });

  it('a missing, cut or foreign pack is not used', async () => {
    const pack = join(tmp, 'damaged.json');
    expect(shippedSettings(pack)).toBeNull();
    await writeSettingsPack(pack);
    const whole = readFileSync(pack, 'utf8');
    writeFileSync(pack, whole.slice(0, whole.length / 2));
    expect(shippedSettings(pack)).toBeNull();
    writeFileSync(pack, whole.replace('"format":1', '"format":2'));
    expect(shippedSettings(pack)).toBeNull();
    writeFileSync(pack, '[]');
    expect(shippedSettings(pack)).toBeNull();
  });

  it('the built command with the shipped settings loads no YAML library and writes what it writes when told to read the files', () => {
    const capture = fixture('WeMoSwitch');
    const packed = join(tmp, 'out-packed');
    const read = join(tmp, 'out-read');
    const env = { ...process.env, NODE_DEBUG: 'module,esm' };
    const a = phonehome(['analyze', capture, '--out', packed], undefined, env);
    const b = phonehome(['analyze', capture, '--out', read, '--detections', join(RULES_DIR, 'detections.yaml'), '--profiles', DEFAULT_PROFILES_DIR], undefined, env);
    expect(a.code).toBe(0);
    expect(b.code).toBe(0);
    expect(a.stderr).not.toMatch(/node_modules\/yaml\//);
    expect(b.stderr).toMatch(/node_modules\/yaml\//);
    for (const f of ['flows.jsonl', 'alerts.jsonl', 'devices.json', 'dns.jsonl']) {
      expect(readFileSync(join(packed, f), 'utf8'), f).toBe(readFileSync(join(read, f), 'utf8'));
    }
    expect(readFileSync(join(packed, 'alerts.jsonl'), 'utf8').length).toBeGreaterThan(0);
  });
});
