// lookupManufacturer: the manufacturer the IEEE registry (the oui-data
// package) names for a MAC, and the ISO 3166-1 code of the country its
// registered address ends with. MA-M and MA-S blocks name their own owner,
// not the IEEE's; locally administered (randomised) and unregistered
// addresses have no manufacturer. Vendors are cross-checked with Wireshark's
// own OUI table where present.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { lookupManufacturer } from '../../../sensor/devices/oui.js';

const OUI = JSON.parse(readFileSync(createRequire(import.meta.url).resolve('oui-data'), 'utf8')) as Record<string, string>;
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
