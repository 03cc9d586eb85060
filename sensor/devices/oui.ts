import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeAtomically } from '../util/files.js';
import { crc32, type PackSource, packSource, readAligned } from '../util/packed.js';
import { packOui, unpackOui } from './oui-pack.js';

export interface Manufacturer {
  vendor: string;
  /** ISO 3166-1 alpha-2, from the last line of the registered address */
  country: string | null;
}

/** The IEEE registry: the entry (name and address lines; the pack keeps the first and the last, all manufacturerIn reads) of a block, keyed by its 6, 7 or 9 upper-case hex digits. */
export interface OuiRegistry {
  /** how the registry was read: the build's pack, the file's lines indexed, or the file parsed whole */
  readonly shape: 'packed' | 'lines' | 'json';
  get(key: string): string | undefined;
  /** the country code of an entry's last line, when the registry knows it already (undefined: work it out) */
  countryOf?(name: string): string | null | undefined;
}

let registry: OuiRegistry | null = null;
// Withdrawn codes that CLDR still names like their successors (FX "France", SU "Russia", ...).
const WITHDRAWN = new Set(['AN', 'BU', 'CS', 'DD', 'DY', 'FX', 'HV', 'NH', 'RH', 'SU', 'TP', 'UK', 'VD', 'YD', 'YU', 'ZR']);
let countryCodes: Map<string, string> | null = null;

/** A hash of the key ending at s[end) and `len` long, from its last four characters (where the blocks of one prefix differ). */
function keyHash(s: string, end: number, len: number): number {
  const h = s.charCodeAt(end - 1) | (s.charCodeAt(end - 2) << 7) | (s.charCodeAt(end - 3) << 14) | (s.charCodeAt(end - 4) << 21) | (len << 28);
  return Math.imul(h, 0x9e3779b1);
}

/**
 * Where each entry lies in the file: open addressing over two typed arrays
 * (the key's offset, the end of its value), so indexing 50,000 entries
 * makes no string and no object per entry. Slots are hashed from the key's
 * text and a lookup compares the text itself; an entry is decoded when it
 * is asked for (once per device).
 */
class LineIndex implements OuiRegistry {
  readonly shape = 'lines';
  /** log2 of the slots */
  bits = 17;
  /** offset of the key's first character, by slot */
  keyAt = new Int32Array(1 << this.bits);
  /** offset just past the value's closing quote, by slot (0: empty) */
  valueEnd = new Int32Array(1 << this.bits);

  constructor(
    private readonly text: string,
    private readonly buf: Buffer,
  ) {}

  /** Twice the slots, the entries placed anew. */
  grow(): void {
    const { keyAt, valueEnd, text } = this;
    this.bits++;
    this.keyAt = new Int32Array(1 << this.bits);
    this.valueEnd = new Int32Array(1 << this.bits);
    const mask = this.valueEnd.length - 1;
    for (let j = 0; j < keyAt.length; j++) {
      if (valueEnd[j] === 0) continue;
      const k = keyAt[j];
      const len = text.indexOf('"', k) - k;
      let i = keyHash(text, k + len, len) >>> (32 - this.bits);
      while (this.valueEnd[i] !== 0) i = (i + 1) & mask;
      this.keyAt[i] = k;
      this.valueEnd[i] = valueEnd[j];
    }
  }

  get(key: string): string | undefined {
    const len = key.length;
    if (len < 4) return undefined;
    const mask = this.valueEnd.length - 1;
    let found = -1;
    for (let i = keyHash(key, len, len) >>> (32 - this.bits); this.valueEnd[i] !== 0; i = (i + 1) & mask) {
      const k = this.keyAt[i];
      // The key repeated further down the file wins, as in JSON.parse.
      if (k > (found < 0 ? -1 : this.keyAt[found]) && this.text.startsWith(key, k) && this.text.charCodeAt(k + len) === 0x22) found = i;
    }
    if (found < 0) return undefined;
    // JSON.parse of the one string keeps its escapes' meaning (\n, \", \u00fc).
    return JSON.parse(this.buf.toString('utf8', this.keyAt[found] + len + 3, this.valueEnd[found])) as string;
  }
}

/**
 * Indexes a registry written one entry a line, `"KEY": "value",` (the last
 * without the comma), between a line `{` and a line `}`, keys of 6, 7 or 9
 * characters; null when the file has another shape. The text is read as
 * latin1 so that a character's index is its byte's offset. The loop runs
 * once per entry, mostly before the compiler has optimised it: it does few
 * operations, most of them native searches (a value holding no quote but
 * its own is one indexOf).
 */
function indexLines(buf: Buffer): LineIndex | null {
  const text = buf.toString('latin1');
  let at = text.indexOf('\n') + 1;
  if (at === 0 || text.slice(0, at).trim() !== '{') return null;
  // every entry is indented as the first one
  const open = text.slice(at, text.indexOf('"', at) + 1);
  if (open.trim() !== '"') return null;
  const index = new LineIndex(text, buf);
  let { keyAt, valueEnd, bits } = index;
  let entries = 0;
  for (let last = false; ; ) {
    const end = text.indexOf('\n', at);
    if (!text.startsWith(open, at)) return last && text.slice(at).trim() === '}' ? index : null;
    if (last || end < 0) return null;
    const k = at + open.length;
    const keyEnd = text.indexOf('"', k);
    const len = keyEnd - k;
    if ((len !== 6 && len !== 7 && len !== 9) || !text.startsWith('": "', keyEnd)) return null;
    last = text.charCodeAt(end - 1) !== 0x2c;
    const close = last ? end - 1 : end - 2;
    if (close < keyEnd + 4 || text.charCodeAt(close) !== 0x22 || (text.indexOf('"', keyEnd + 4) !== close && !escapedQuotesOnly(text, keyEnd + 4, close))) return null;
    if (++entries * 2 > valueEnd.length) {
      index.grow();
      ({ keyAt, valueEnd, bits } = index);
    }
    let i = keyHash(text, keyEnd, len) >>> (32 - bits);
    while (valueEnd[i] !== 0) i = (i + 1) & (valueEnd.length - 1);
    keyAt[i] = k;
    valueEnd[i] = close + 1;
    at = end + 1;
  }
}

/** Whether every quote in text[from, to) is escaped (preceded by an odd number of backslashes). */
function escapedQuotesOnly(text: string, from: number, to: number): boolean {
  for (let q = text.indexOf('"', from); q >= 0 && q < to; q = text.indexOf('"', q + 1)) {
    let backslashes = 0;
    while (text.charCodeAt(q - 1 - backslashes) === 0x5c) backslashes++;
    if (backslashes % 2 === 0) return false;
  }
  return true;
}

/** The whole file parsed as JSON: for a registry of another shape than one entry a line. */
function parseWhole(buf: Buffer): OuiRegistry {
  const db = JSON.parse(buf.toString('utf8')) as Record<string, string>;
  return { shape: 'json', get: (key) => (Object.hasOwn(db, key) ? db[key] : undefined) };
}

/** The registry in an oui-data index.json file's bytes. */
export function readOuiRegistry(buf: Buffer): OuiRegistry {
  return indexLines(buf) ?? parseWhole(buf);
}

/** oui-data's registry file. */
const ouiFile = (): string => createRequire(import.meta.url).resolve('oui-data');

/** Where the build writes the packed registry: dist/data, beside the built code (dist/sensor/devices). */
export const OUI_PACK = fileURLToPath(new URL('../../data/oui.bin', import.meta.url));

let readerCrc: number | null | undefined;

/**
 * What a pack made from `file` now would be made from: the version of the
 * package holding it, the file's size, and the code that reads entries (this
 * module and the pack's, and the CLDR data it names countries with); null
 * when any is unreadable.
 */
export function ouiSource(file = ouiFile()): PackSource | null {
  const self = fileURLToPath(import.meta.url);
  // The pack holds country codes from this Node's CLDR names: another CLDR makes another pack.
  const code = () => Buffer.concat([readFileSync(self), readFileSync(self.replace(/oui\.(ts|js)$/, 'oui-pack.$1')), Buffer.from(process.versions.cldr ?? '')]);
  return packSource(file, () => (readerCrc ??= crc32(code())));
}

/** The registry in the pack `pack`, when it was made from `file` as it is now and by this code; else null. */
export function packedRegistry(pack = OUI_PACK, file = ouiFile()): OuiRegistry | null {
  const source = ouiSource(file);
  const buf = source && readAligned(pack);
  return source && buf && unpackOui(buf, source);
}

/** Packs oui-data's registry for runs to map (npm run build); null where this Node cannot checksum it (before 20.15). */
export function writeOuiPack(pack = OUI_PACK, file = ouiFile()): string | null {
  const source = ouiSource(file);
  if (!source) return null;
  mkdirSync(dirname(pack), { recursive: true });
  writeAtomically(pack, packOui(source, JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>, countryCode));
  return pack;
}

function load(): OuiRegistry {
  // oui-data is a 5 MB JSON file: the build's pack is mapped instead, or the file indexed once, and only when a device needs naming.
  registry ??= packedRegistry() ?? readOuiRegistry(readFileSync(ouiFile()));
  return registry;
}

/** English country name (as the IEEE registry spells it, CLDR names) to its ISO code. */
export function countryCode(name: string): string | null {
  if (!countryCodes) {
    countryCodes = new Map();
    const names = new Intl.DisplayNames(['en'], { type: 'region' });
    for (let a = 65; a <= 90; a++) {
      for (let b = 65; b <= 90; b++) {
        const code = String.fromCharCode(a, b);
        if (WITHDRAWN.has(code)) continue;
        let n: string | undefined;
        try {
          n = names.of(code);
        } catch {
          continue;
        }
        if (n && n !== code) countryCodes.set(n.toLowerCase(), code);
      }
    }
  }
  return countryCodes.get(name.trim().toLowerCase()) ?? null;
}

/** Manufacturer of a MAC (48-bit number) in `db`; null for unregistered and locally administered addresses. */
export function manufacturerIn(db: OuiRegistry, mac: number): Manufacturer | null {
  const hex = mac.toString(16).padStart(12, '0').toUpperCase();
  // Locally administered (randomised) addresses belong to no manufacturer.
  if (parseInt(hex.slice(0, 2), 16) & 0x02) return null;
  // MA-L is keyed by 24 bits; MA-M (28) and MA-S (36) blocks take precedence when present.
  const entry = db.get(hex.slice(0, 9)) ?? db.get(hex.slice(0, 7)) ?? db.get(hex.slice(0, 6));
  if (!entry) return null;
  const lines = entry.split('\n');
  if (lines.length === 1) return { vendor: lines[0].trim(), country: null };
  const last = lines[lines.length - 1];
  const known = db.countryOf?.(last);
  return { vendor: lines[0].trim(), country: known === undefined ? countryCode(last) : known };
}

/** Manufacturer of a MAC (48-bit number) from the IEEE registry; null for unregistered and locally administered addresses. */
export function lookupManufacturer(mac: number): Manufacturer | null {
  return manufacturerIn(load(), mac);
}
