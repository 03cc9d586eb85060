// Detections on the real corpus: TP-Link plugs calling servers in China, and
// profiles that document all or part of what a device really did.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { AlertRecord, FlowRecord } from '../../../contract/types.js';
import { parseProfileYaml, profileToYaml } from '../../../sensor/detect/profiles/yaml.js';
import { loadDetectionConfig } from '../../../sensor/detect/config.js';
import { isSpecialIp } from '../../../sensor/util/addr.js';
import { phonehome } from '../../helpers/cli.js';
import { corpusAvailable, corpusDevices } from '../../helpers/corpus.js';
import { mmdbCountry, COMBINED_COUNTRY_MMDB } from '../../helpers/mmdblookup.js';

const tmp = mkdtempSync(join(tmpdir(), 'phonehome-corpus-detect-'));
const jsonl = <T>(f: string): T[] => readFileSync(f, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as T);

describe.skipIf(!corpusAvailable())('detections on the corpus', () => {
  it('TP-Link plugs: every server the default database places in China (or another watched country) is a geo-callback, and nothing else is', () => {
    const watched = new Set(loadDetectionConfig().watchCountries);
    expect(watched.has('CN')).toBe(true);
    for (const dev of corpusDevices().filter((d) => d.name.startsWith('TP-Link'))) {
      const out = join(tmp, dev.name);
      const r = phonehome(['analyze', dev.dir, '--out', out, '--no-profiles']);
      expect(r.code, r.stderr).toBe(0);
      const flows = jsonl<FlowRecord>(join(out, 'flows.jsonl')).filter((f) => f.src_mac === dev.mac && !isSpecialIp(f.dst_ip));
      const countries = new Map(flows.map((f) => [f.dst_ip, mmdbCountry(COMBINED_COUNTRY_MMDB, f.dst_ip)]));
      const inChina = [...countries].filter(([, c]) => c === 'CN').map(([ip]) => ip);
      const inWatched = [...countries].filter(([, c]) => c !== null && watched.has(c)).map(([ip]) => ip);
      const alerted = new Set(jsonl<AlertRecord>(join(out, 'alerts.jsonl')).filter((a) => a.rule === 'geo-callback' && a.device.mac === dev.mac).flatMap((a) => a.evidence.addresses ?? [a.destination!.ip!]));
      expect(inChina.length, `${dev.name} contacts no server in China`).toBeGreaterThan(0);
      expect([...alerted].sort()).toEqual(inWatched.sort());
    }
  }, 120_000);

  it('a profile documenting everything a device did gives no undocumented-destination; dropping entries reports exactly those', () => {
    const dev = corpusDevices().find((d) => d.name === 'TP-LinkPlugHS110')!;
    const drafts = join(tmp, 'drafts');
    const s = phonehome(['profiles', 'suggest', '--out', drafts, dev.dir]);
    expect(s.code, s.stderr).toBe(0);
    const draftFile = readdirSync(drafts).map((f) => join(drafts, f)).find((f) => readFileSync(f, 'utf8').includes(dev.mac))!;
    const full = parseProfileYaml(readFileSync(draftFile, 'utf8'), draftFile);
    expect(full.documented.length).toBeGreaterThan(2);

    const run = (profileText: string, name: string) => {
      const dir = join(tmp, `profiles-${name}`);
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir);
      writeFileSync(join(dir, 'device.yaml'), profileText);
      const out = join(tmp, `out-${name}`);
      const r = phonehome(['analyze', dev.dir, '--out', out, '--profiles', dir]);
      expect(r.code, r.stderr).toBe(0);
      return jsonl<AlertRecord>(join(out, 'alerts.jsonl')).filter((a) => a.rule === 'undocumented-destination' && a.device.mac === dev.mac);
    };
    expect(run(readFileSync(draftFile, 'utf8'), 'full')).toEqual([]);

    const dropped = full.documented.filter((_, i) => i % 2 === 1);
    const partial = { ...full, documented: full.documented.filter((_, i) => i % 2 === 0) };
    const alerts = run(profileToYaml(partial), 'partial');
    const key = (target: string, proto: string, port: number) => `${target} ${proto}/${port}`;
    const expected = new Set(dropped.flatMap((e) => (e.ports ?? []).map((p) => key(e.domain ?? e.cidr!, e.proto!, p))));
    const reported = new Set(alerts.map((a) => key(a.destination!.name ?? a.destination!.ip!, a.destination!.proto!, a.destination!.port!)));
    expect([...reported].sort()).toEqual([...expected].sort());
  }, 120_000);
});
