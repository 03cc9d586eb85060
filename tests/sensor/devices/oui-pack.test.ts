// The IEEE registry as the build packs it: every block answers as a lookup
// in JSON.parse of oui-data's file does (the oracle is the package's own
// JSON, not phonehome's line index), and a pack that was made from another
// file or by other code, or that is cut short or damaged, is not used.
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { countryCode, manufacturerIn, ouiSource, packedRegistry, readOuiRegistry, writeOuiPack, type Manufacturer } from '../../../sensor/devices/oui.js';
import { entryEnds, packOui, unpackOui } from '../../../sensor/devices/oui-pack.js';
import { type PackSource, readAligned } from '../../../sensor/util/packed.js';

const FILE = createRequire(import.meta.url).resolve('oui-data');
const OUI = JSON.parse(readFileSync(FILE, 'utf8')) as Record<string, string>;
const SOURCE: PackSource = { version: '2.1.9-test', size: 5_642_072, reader: 0x12345678 };
const dir = mkdtempSync(join(tmpdir(), 'phonehome-oui-pack-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The pack's bytes as a run reads them: 8-aligned memory of their own. */
function aligned(bytes: Buffer): Buffer {
  const file = join(dir, `copy-${Math.random().toString(36).slice(2)}.bin`);
  writeFileSync(file, bytes);
  return readAligned(file)!;
}

const same = (a: Manufacturer | null, b: Manufacturer | null) => a === b || (a !== null && b !== null && a.vendor === b.vendor && a.country === b.country);

describe('the packed registry', () => {
  const packed = unpackOui(aligned(packOui(SOURCE, OUI, countryCode)), SOURCE)!;
  const whole = readOuiRegistry(Buffer.from(JSON.stringify(OUI)));

  it('names every block of oui-data as a lookup in JSON.parse of its file does: first, last and a middle address of each', () => {
    expect(packed.shape).toBe('packed');
    const keys = Object.keys(OUI);
    expect(keys.length).toBeGreaterThan(50_000);
    const macs = keys.flatMap((key) => ['0', 'F', '5'].map((fill) => parseInt(key.padEnd(12, fill), 16)));
    expect(macs.filter((m) => !same(manufacturerIn(packed, m), manufacturerIn(whole, m))).map((m) => m.toString(16))).toEqual([]);
    expect(macs.filter((m) => manufacturerIn(packed, m)?.country).length).toBeGreaterThan(100_000);
  });

  it('keeps of each entry its name and its last line, and knows no key the file lacks (other lengths, lower case)', () => {
    expect(entryEnds('Nokia Corporation\nElektroniikkatie 10\nOulu 90570\nFinland')).toBe('Nokia Corporation\nFinland');
    expect(entryEnds('Private')).toBe('Private');
    const keys = Object.keys(OUI);
    const asked = [...keys, ...keys.flatMap((k) => [k.toLowerCase(), `${k}0`, k.slice(0, 5), `${k.slice(0, 6)}F`, `${k.slice(0, 6)}FFF`]), 'FFFFFF', '000000000', 'ABC', 'GGGGGG', ''];
    const wrong = asked.filter((k) => packed.get(k) !== (Object.hasOwn(OUI, k) ? entryEnds(OUI[k]) : undefined));
    expect(wrong).toEqual([]);
    expect(asked.filter((k) => packed.get(k) === undefined).length).toBeGreaterThan(100_000);
  });

  it('keeps quotes, backslashes and non-ASCII names as JSON.parse reads them', () => {
    const registry = { '001788': 'Quote "Q" and backslash \\ Corp\nStraße 1\nMünchen\nGermany', '0055DA1': 'Café Ltd\nParis\nFrance', '70B3D5001': '東京 Co\nJapan' };
    const p = unpackOui(aligned(packOui(SOURCE, registry, countryCode)), SOURCE)!;
    expect(manufacturerIn(p, 0x001788000001)).toEqual({ vendor: 'Quote "Q" and backslash \\ Corp', country: 'DE' });
    expect(manufacturerIn(p, 0x0055da100001)).toEqual({ vendor: 'Café Ltd', country: 'FR' });
    expect(manufacturerIn(p, 0x70b3d5001001)).toEqual({ vendor: '東京 Co', country: 'JP' });
  });

  it('gives the country code the build found for each last line, without working it out again', () => {
    const registry = { '001788': 'A Corp\nBerlin\nGermany', '001789': 'B Corp\nGermany', '00178A': 'C Corp' };
    const p = unpackOui(aligned(packOui(SOURCE, registry, (name) => (name === 'Germany' ? 'ZZ' : null))), SOURCE)!;
    expect([0x001788000001, 0x001789000001, 0x00178a000001].map((m) => manufacturerIn(p, m))).toEqual([
      { vendor: 'A Corp', country: 'ZZ' },
      { vendor: 'B Corp', country: 'ZZ' },
      { vendor: 'C Corp', country: null },
    ]);
    expect([p.countryOf('Germany'), p.countryOf('France')]).toEqual(['ZZ', undefined]);
  });
});

describe('a pack that does not match is not used', () => {
  const bytes = packOui(SOURCE, OUI, countryCode);

  it('made from another version or size of the file, or by other code', () => {
    expect(unpackOui(aligned(bytes), SOURCE)).not.toBeNull();
    expect(unpackOui(aligned(bytes), { ...SOURCE, version: '2.2.0' })).toBeNull();
    expect(unpackOui(aligned(bytes), { ...SOURCE, size: SOURCE.size + 1 })).toBeNull();
    expect(unpackOui(aligned(bytes), { ...SOURCE, reader: SOURCE.reader ^ 1 })).toBeNull();
  });

  it('cut short, damaged in one byte anywhere, or not a pack at all', () => {
    expect(unpackOui(aligned(bytes.subarray(0, bytes.length - 1)), SOURCE)).toBeNull();
    for (const at of [0, 9, 40, 200, bytes.length >> 1, bytes.length - 1]) {
      const damaged = Buffer.from(bytes);
      damaged[at] ^= 0x20;
      expect(unpackOui(aligned(damaged), SOURCE), `byte ${at}`).toBeNull();
    }
    expect(unpackOui(aligned(readFileSync(FILE)), SOURCE)).toBeNull();
  });

  it('writeOuiPack packs the installed file for this code; a pack of another file is not mapped for it', () => {
    const pack = join(dir, 'oui.bin');
    expect(writeOuiPack(pack, FILE)).toBe(pack);
    const mapped = packedRegistry(pack, FILE)!;
    expect(mapped.shape).toBe('packed');
    expect(mapped.get('001788')).toBe(entryEnds(OUI['001788']));
    expect(ouiSource(FILE)).toMatchObject({ version: JSON.parse(readFileSync(join(FILE, '../package.json'), 'utf8')).version, size: readFileSync(FILE).length });
    // the same package, its registry file edited after the pack was made
    copyFileSync(join(FILE, '../package.json'), join(dir, 'package.json'));
    const edited = join(dir, 'index.json');
    writeFileSync(edited, JSON.stringify({ ...OUI, '001788': 'Someone Else\nNowhere\nFrance' }, null, 2));
    expect(packedRegistry(pack, edited)).toBeNull();
    expect(packedRegistry(join(dir, 'missing.bin'), FILE)).toBeNull();
  });
});
