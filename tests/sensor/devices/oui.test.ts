// lookupManufacturer: the manufacturer the IEEE registry (the oui-data
// package) names for a MAC, and the ISO 3166-1 code of the country its
// registered address ends with. MA-M and MA-S blocks name their own owner,
// not the IEEE's; locally administered (randomised) and unregistered
// addresses have no manufacturer. Vendors are cross-checked with Wireshark's
// own OUI table where present. The registry file is indexed line by line,
// not parsed whole; its answers are JSON.parse's, for every block, and a
// file of another shape is parsed whole.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { lookupManufacturer, manufacturerIn, readOuiRegistry, type Manufacturer, type OuiRegistry } from '../../../sensor/devices/oui.js';

const OUI_FILE = readFileSync(createRequire(import.meta.url).resolve('oui-data'));
const OUI = JSON.parse(OUI_FILE.toString('utf8')) as Record<string, string>;
const MANUF = '/usr/share/wireshark/manuf';

const mac = (text: string) => parseInt(text.replace(/[:-]/g, ''), 16);
const norm = (s: string) => s.toLowerCase().replace(/[^a-z0-9]/g, '');
const lines = (key: string) => OUI[key].split('\n').map((l) => l.trim());

/** A MAC inside the block `key` (6, 7 or 9 hex digits) and inside no smaller block registered under it; null when smaller blocks fill it. */
function freeMacIn(key: string): number | null {
  for (let i = 0; i < 256; i++) {
    const hex = `${key}${i.toString(16).toUpperCase().padStart(2, '0')}`.padEnd(12, '0');
    if ([7, 9].filter((len) => len > key.length).every((len) => !(hex.slice(0, len) in OUI))) return parseInt(hex, 16);
  }
  return null;
}

function macIn(key: string): number {
  const m = freeMacIn(key);
  if (m === null) throw new Error(`smaller blocks fill ${key}`);
  return m;
}

/** Wireshark's long vendor name for a MAC prefix line like 00:17:88 or 00:55:DA:10:00:00/28. */
function wiresharkVendor(prefix: string): string | null {
  if (!existsSync(MANUF)) return null;
  const line = readFileSync(MANUF, 'utf8').split('\n').find((l) => l.startsWith(`${prefix}\t`));
  return line ? (line.split('\t')[2] ?? line.split('\t')[1]).trim() : null;
}

// Devices of the IoT Sentinel corpus: the country of each manufacturer's address as registered with the IEEE.
const REGISTERED: [string, string][] = [
  ['00:17:88', 'NL'], // Philips Lighting
  ['5c:cf:7f', 'VG'], // Espressif: a British Virgin Islands address
  ['50:c7:bf', 'CN'], // TP-LINK
  ['94:10:3e', 'US'], // Belkin
  ['00:24:e4', 'FR'], // Withings
  ['74:da:38', 'TW'], // Edimax
  ['b0:c5:54', 'SG'], // D-Link International
  ['00:1a:22', 'DE'], // eQ-3
  ['84:18:26', 'DE'], // Osram
  ['ac:cf:23', 'CN'], // Hi-flying
  ['20:f8:5e', 'TW'], // Delta Electronics
  ['3c:49:37', 'DE'], // ASSMANN Electronic
];

// Country names as the registry spells them (CLDR English, or upper case in old entries) and their ISO 3166-1 alpha-2 codes.
const COUNTRIES: [string, string][] = [
  ['United States', 'US'], ['China', 'CN'], ['South Korea', 'KR'], ['Taiwan', 'TW'], ['Germany', 'DE'], ['Japan', 'JP'],
  ['United Kingdom', 'GB'], ['France', 'FR'], ['Canada', 'CA'], ['Italy', 'IT'], ['Malaysia', 'MY'], ['India', 'IN'],
  ['Hong Kong SAR China', 'HK'], ['Macao SAR China', 'MO'], ['Israel', 'IL'], ['Switzerland', 'CH'], ['Sweden', 'SE'], ['Russia', 'RU'],
  ['Australia', 'AU'], ['Netherlands', 'NL'], ['Denmark', 'DK'], ['Finland', 'FI'], ['Spain', 'ES'], ['Brazil', 'BR'],
  ['Singapore', 'SG'], ['British Virgin Islands', 'VG'], ['Austria', 'AT'], ['Poland', 'PL'], ['Belgium', 'BE'], ['Norway', 'NO'],
  ['Czechia', 'CZ'], ['Türkiye', 'TR'], ['Hungary', 'HU'], ['South Africa', 'ZA'], ['New Zealand', 'NZ'], ['Vietnam', 'VN'],
  ['Thailand', 'TH'], ['Ireland', 'IE'], ['United Arab Emirates', 'AE'], ['Mexico', 'MX'], ['Bulgaria', 'BG'], ['Iran', 'IR'],
  ['North Korea', 'KP'], ['Myanmar (Burma)', 'MM'], ['Bosnia & Herzegovina', 'BA'], ['North Macedonia', 'MK'], ['Eswatini', 'SZ'],
  ['U.S. Virgin Islands', 'VI'], ['Cayman Islands', 'KY'], ['Puerto Rico', 'PR'], ['JAPAN', 'JP'], ['GERMANY', 'DE'], ['ITALY', 'IT'],
];

describe('lookupManufacturer', () => {
  it('names the manufacturers of the corpus devices as the registry and Wireshark do, with their registered country', () => {
    for (const [prefix, country] of REGISTERED) {
      const m = lookupManufacturer(mac(`${prefix}:12:34:56`));
      expect(m, prefix).toEqual({ vendor: lines(prefix.replace(/:/g, '').toUpperCase())[0], country });
      const ws = wiresharkVendor(prefix.toUpperCase());
      if (ws) expect(norm(m!.vendor), prefix).toBe(norm(ws));
    }
  });

  it('an MA-M (28-bit) or MA-S (36-bit) block names its owner, not the IEEE that holds the MA-L around it', () => {
    const blocks = [['00:55:DA:1', '00:55:DA:10:00:00/28', 28], ['00:55:DA:2', '00:55:DA:20:00:00/28', 28], ['00:1B:C5:00:0', '00:1B:C5:00:00:00/36', 36], ['00:1B:C5:00:1', '00:1B:C5:00:10:00/36', 36]] as const;
    const owners = new Set<string>();
    for (const [block, prefix, len] of blocks) {
      const m = lookupManufacturer(mac(block.replace(/:/g, '').padEnd(12, '0')) + 0x42);
      const ws = wiresharkVendor(prefix);
      expect(ws, `${prefix} in Wireshark's table`).not.toBeNull();
      expect(norm(m!.vendor), `${len}-bit block ${prefix}`).toBe(norm(ws!));
      expect(m!.vendor).not.toMatch(/IEEE Registration Authority/);
      owners.add(m!.vendor);
    }
    // Neighbouring blocks, neighbouring owners: the lookup reads all 28 or 36 bits.
    expect(owners.size).toBe(blocks.length);
    expect(lines('0055DA')[0]).toBe('IEEE Registration Authority');
  });

  it('every block of the registry, MA-L, MA-M and MA-S, names the first line of its own entry', () => {
    const keys = Object.keys(OUI);
    expect(keys.length).toBeGreaterThan(50_000);
    let checked = 0;
    for (const key of keys) {
      const m = freeMacIn(key);
      // Locally administered bits (below), and MA-Ls the IEEE has wholly split into smaller blocks, name no one of their own.
      if (m === null || parseInt(key.slice(0, 2), 16) & 0x02) continue;
      expect(lookupManufacturer(m)?.vendor, key).toBe(lines(key)[0]);
      checked++;
    }
    expect(checked).toBeGreaterThan(50_000);
  });

  it('gives the ISO 3166-1 code of the country the registered address ends with; none for a street line or a private entry', () => {
    const keys = Object.keys(OUI);
    const withLast = (last: string) => keys.find((k) => lines(k).at(-1) === last && !(parseInt(k.slice(0, 2), 16) & 0x02));
    for (const [name, code] of COUNTRIES) {
      const key = withLast(name);
      expect(key, `an entry ending in ${name}`).toBeDefined();
      expect(lookupManufacturer(macIn(key!))?.country, `${name} (${key})`).toBe(code);
    }
    for (const last of ['Private', 'Sunnyvale CA 94089']) {
      const key = withLast(last);
      expect(key, last).toBeDefined();
      expect(lookupManufacturer(macIn(key!))!.country, last).toBeNull();
    }
  });

  it('a locally administered address has no manufacturer, even where the registry lists the same bits; an unregistered one neither', () => {
    // 50:c7:bf is TP-LINK's; 52:c7:bf is the same with the local bit set (a randomised address).
    expect(lookupManufacturer(mac('50:c7:bf:00:c7:03'))).not.toBeNull();
    expect(lookupManufacturer(mac('52:c7:bf:00:c7:03'))).toBeNull();
    expect(lookupManufacturer(mac('02:00:00:00:00:01'))).toBeNull();
    expect(lookupManufacturer(mac('da:a1:19:12:34:56'))).toBeNull();
    // 02:60:8C is in the registry (3Com, from before the bit's meaning), yet the bit says local.
    expect(OUI['02608C']).toMatch(/3COM/i);
    expect(lookupManufacturer(mac('02:60:8c:12:34:56'))).toBeNull();
    const unregistered = Array.from({ length: 4096 }, (_, i) => `0${i.toString(16).toUpperCase().padStart(3, '0')}00`).find((k) => !(k in OUI) && !(parseInt(k.slice(0, 2), 16) & 0x02));
    expect(unregistered).toBeDefined();
    expect(lookupManufacturer(parseInt(`${unregistered}123456`, 16))).toBeNull();
  });
});

/** What JSON.parse of `text` gives for each key: every one of its keys, their neighbours of other lengths and case, and keys it lacks. */
function expectAnswersOf(registry: OuiRegistry, text: string): void {
  const db = JSON.parse(text) as Record<string, string>;
  const keys = Object.keys(db);
  const asked = [...keys, ...keys.flatMap((k) => [k.toLowerCase(), `${k}0`, k.slice(0, 6), `${k.slice(0, 6)}F`, `${k.slice(0, 6)}FFF`]), 'FFFFFF', '000000000', 'ABC'];
  const wrong = asked.filter((key) => registry.get(key) !== (Object.hasOwn(db, key) ? db[key] : undefined));
  expect(wrong).toEqual([]);
  expect(asked.filter((key) => registry.get(key) !== undefined).length).toBeGreaterThanOrEqual(new Set(keys).size);
}

describe('the registry file, indexed by line', () => {
  it('for every block of the registry, gives the entry JSON.parse of the file gives, and lookupManufacturer answers as a lookup in it does', () => {
    const lines = readOuiRegistry(OUI_FILE);
    const whole = readOuiRegistry(Buffer.from(JSON.stringify(OUI)));
    expect([lines.shape, whole.shape]).toEqual(['lines', 'json']);
    const keys = Object.keys(OUI);
    expect(keys.length).toBeGreaterThan(50_000);
    expect(keys.filter((key) => lines.get(key) !== OUI[key])).toEqual([]);
    // the block's first and last address, and one inside
    const macs = keys.flatMap((key) => ['0', 'F', '5'].map((fill) => parseInt(key.padEnd(12, fill), 16)));
    const same = (a: Manufacturer | null, b: Manufacturer | null) => a === b || (a !== null && b !== null && a.vendor === b.vendor && a.country === b.country);
    expect(macs.filter((m) => !same(lookupManufacturer(m), manufacturerIn(whole, m))).map((m) => m.toString(16))).toEqual([]);
    let named = 0;
    for (const key of keys) if (manufacturerIn(whole, parseInt(key.padEnd(12, '0'), 16))?.country) named++;
    expect(named).toBeGreaterThan(40_000);
  });

  it('keeps the escapes of a value, and a key repeated further down wins, as in JSON.parse', () => {
    const text = [
      '{',
      ' "001788": "Quote \\"Q\\" and backslash \\\\ Corp\\nStra\\u00dfe 1\\nM\\u00fcnchen\\nGermany",',
      ' "001789": "Caf\u00e9 Ltd\\nParis\\nFrance",',
      ' "0055DA1": "First\\nUnited States",',
      ' "00AABB": "",',
      ' "001BC5000": "Tab\\tand slash\\/\\nJapan",',
      ' "0055DA1": "Second\\nCanada"',
      '}',
      '',
    ].join('\n');
    const registry = readOuiRegistry(Buffer.from(text, 'utf8'));
    expect(registry.shape).toBe('lines');
    expectAnswersOf(registry, text);
    expect(registry.get('0055DA1')).toBe('Second\nCanada');
    expect(registry.get('001788')).toBe('Quote "Q" and backslash \\ Corp\nStraße 1\nMünchen\nGermany');
    expect(manufacturerIn(registry, 0x001788000001)).toEqual({ vendor: 'Quote "Q" and backslash \\ Corp', country: 'DE' });
  });

  it('a registry larger than the index first makes room for (70,000 entries) is indexed whole', () => {
    const entries = Array.from({ length: 70_000 }, (_, i) => [(i * 0x9e37 + 0x100000).toString(16).toUpperCase().padStart(7, '0').slice(-7), `Maker ${i}\nCity\nGermany`] as const);
    const text = `{\n${entries.map(([k, v]) => ` ${JSON.stringify(k)}: ${JSON.stringify(v)}`).join(',\n')}\n}\n`;
    const registry = readOuiRegistry(Buffer.from(text));
    expect(registry.shape).toBe('lines');
    expect(new Set(entries.map(([k]) => k)).size).toBeGreaterThan(65_536);
    expectAnswersOf(registry, text);
  });

  it('a file of another shape is parsed whole and gives the same answers', () => {
    const some = Object.fromEntries(Object.entries(OUI).filter((_, i) => i % 500 === 0));
    const shapes: [string, string, 'lines' | 'json'][] = [
      ['one line', JSON.stringify(some), 'json'],
      ['indented by two', JSON.stringify(some, null, 2), 'lines'],
      ['indented by a tab', JSON.stringify(some, null, '\t'), 'lines'],
      ['CRLF line ends', JSON.stringify(some, null, 1).replace(/\n/g, '\r\n'), 'json'],
      ['two entries on a line', JSON.stringify(some, null, 1).replace('",\n "', '", "'), 'json'],
      ['a number for a value', JSON.stringify({ ...some, '001788': 7 }, null, 1), 'json'],
      ['a key of 8 digits', JSON.stringify({ ...some, '0017881A': 'Eight\nGermany' }, null, 1), 'json'],
      ['a nested object', JSON.stringify({ ...some, '001788': { vendor: 'x' } }, null, 1), 'json'],
      ['a blank line', JSON.stringify(some, null, 1).replace('",\n', '",\n\n'), 'json'],
    ];
    for (const [what, text, shape] of shapes) {
      const registry = readOuiRegistry(Buffer.from(text, 'utf8'));
      expect(registry.shape, what).toBe(shape);
      const db = JSON.parse(text) as Record<string, unknown>;
      for (const key of [...Object.keys(db), 'FFFFFF']) expect(registry.get(key), `${what}: ${key}`).toEqual(Object.hasOwn(db, key) ? db[key] : undefined);
      if (shape === 'lines') expectAnswersOf(registry, text);
    }
  });
});
