// The IEEE registry packed by the build beside the built code: each block's
// key as a number, sorted, the part of its entry a lookup reads (the first
// line and the last), and the country code of each last line. Naming a run's
// first device then maps 1.7 MB instead of reading and indexing the 5.6 MB
// JSON file and naming every region to find a code (about 100 ms of the
// 0.44 s a small capture took). As with the AS tables' pack, a file names the
// JSON it was made from (the package's version and the file's size) and the
// code that reads it, and carries a checksum; one that does not match, is cut
// short or damaged is not used.

import { align8, BYTE_ORDER, checksumBut, type PackSource, VERSION_BYTES } from '../util/packed.js';

const MAGIC = 'PHOUIPK\n';
/** Raised whenever the layout changes. */
export const OUI_PACK_FORMAT = 1;
/** After the magic, 13 words: format, byte order, size (low, high), reader, checksum, keys of 6, 7 and 9 digits, entries, entry bytes, country bytes, version length. */
const WORDS = 13;
const CRC_AT = 8 + 5 * 4;
const VERSION_AT = 8 + WORDS * 4;
const HEADER = VERSION_AT + VERSION_BYTES;
/** The lengths of the registry's keys: MA-L (24 bits), MA-M (28), MA-S (36). */
const KEY_LENGTHS = [6, 7, 9] as const;

/**
 * What of an entry a lookup reads: its first line (the name) and, when it
 * has more, its last (the country).
 */
export function entryEnds(entry: string): string {
  const first = entry.indexOf('\n');
  return first < 0 ? entry : `${entry.slice(0, first)}\n${entry.slice(entry.lastIndexOf('\n') + 1)}`;
}

/** Section sizes in bytes: keys (float64) by length, their entries' numbers by length, entry ends, entry bytes, the countries' JSON. */
function layout(counts: number[], entries: number, entryBytes: number, countryBytes: number): { sizes: number[]; total: number } {
  const sizes = [...counts.map((n) => n * 8), ...counts.map((n) => n * 4), entries * 4, entryBytes, countryBytes];
  return { sizes, total: sizes.reduce((at, s) => align8(at) + s, HEADER) };
}

/** The last line of an entry that has more than one: the country of the registered address. */
const lastLine = (entry: string): string | null => (entry.includes('\n') ? entry.slice(entry.lastIndexOf('\n') + 1) : null);

/**
 * The packed form of a registry's entries (key: 6, 7 or 9 upper-case hex
 * digits), with countryCode's answer for each distinct last line.
 */
export function packOui(source: PackSource, registry: Record<string, string>, countryCode: (name: string) => string | null): Buffer {
  const version = Buffer.from(source.version, 'utf8');
  if (version.length > VERSION_BYTES) throw new Error(`package version too long to record: ${source.version}`);
  // Entries are kept once: many blocks share a manufacturer's name and country.
  const texts = new Map<string, number>();
  const idOf = (text: string): number => {
    let id = texts.get(text);
    if (id === undefined) texts.set(text, (id = texts.size));
    return id;
  };
  const byLength = KEY_LENGTHS.map((len) =>
    Object.keys(registry)
      .filter((k) => k.length === len && /^[0-9A-F]+$/.test(k))
      .map((k) => [parseInt(k, 16), idOf(entryEnds(registry[k]))] as const)
      .sort((a, b) => a[0] - b[0]),
  );
  const bytes = [...texts.keys()].map((t) => Buffer.from(t, 'utf8'));
  const names = new Set([...texts.keys()].map(lastLine).filter((n) => n !== null));
  const countries = Buffer.from(JSON.stringify([...names].map((n) => [n, countryCode(n)])), 'utf8');
  const ends = new Uint32Array(bytes.length);
  bytes.reduce((at, b, i) => (ends[i] = at + b.length), 0);
  const sections = [
    ...byLength.map((rows) => Float64Array.from(rows, (r) => r[0])),
    ...byLength.map((rows) => Uint32Array.from(rows, (r) => r[1])),
    ends,
    Buffer.concat(bytes),
    countries,
  ].map((t) => new Uint8Array(t.buffer, t.byteOffset, t.byteLength));
  const counts = byLength.map((rows) => rows.length);
  const out = Buffer.alloc(layout(counts, bytes.length, sections[7].length, countries.length).total);
  sections.reduce((at, s) => (out.set(s, align8(at)), align8(at) + s.length), HEADER);
  out.write(MAGIC, 0, 'latin1');
  const header = new Uint32Array(out.buffer, out.byteOffset + 8, WORDS);
  header.set([OUI_PACK_FORMAT, BYTE_ORDER, source.size % 2 ** 32, Math.floor(source.size / 2 ** 32), source.reader, 0, ...counts, bytes.length, sections[7].length, countries.length, version.length]);
  version.copy(out, VERSION_AT);
  header[5] = checksumBut(out, CRC_AT) ?? 0;
  return out;
}

/** A packed registry: `get` gives entryEnds of the entry, enough for manufacturerIn, and countryOf the code of its last line. */
export class PackedOui {
  readonly shape = 'packed';
  private countries: Map<string, string | null> | null = null;

  constructor(
    private readonly keys: Float64Array[],
    private readonly entryOf: Uint32Array[],
    private readonly ends: Uint32Array,
    private readonly bytes: Buffer,
    private readonly countryJson: Buffer,
  ) {}

  /** The country code the build found for an entry's last line; undefined for a line no entry ends with. */
  countryOf(name: string): string | null | undefined {
    this.countries ??= new Map(JSON.parse(this.countryJson.toString('utf8')) as [string, string | null][]);
    return this.countries.get(name);
  }

  get(key: string): string | undefined {
    const c = KEY_LENGTHS.indexOf(key.length as 6 | 7 | 9);
    if (c < 0 || !/^[0-9A-F]+$/.test(key)) return undefined;
    const keys = this.keys[c];
    const k = parseInt(key, 16);
    let lo = 0;
    let hi = keys.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (keys[mid] < k) lo = mid + 1;
      else if (keys[mid] > k) hi = mid - 1;
      else {
        const e = this.entryOf[c][mid];
        return this.bytes.toString('utf8', e === 0 ? 0 : this.ends[e - 1], this.ends[e]);
      }
    }
    return undefined;
  }
}

/**
 * The registry in a pack, as views on `buf` (no copy), or null when it is
 * not one made from `source` by this format, or is damaged. `buf` must start
 * 8-aligned in its memory (readAligned's does).
 */
export function unpackOui(buf: Buffer, source: PackSource): PackedOui | null {
  if (buf.length < HEADER || buf.toString('latin1', 0, 8) !== MAGIC || buf.byteOffset % 8 !== 0) return null;
  const [format, order, sizeLow, sizeHigh, reader, crc, n6, n7, n9, entries, entryBytes, countryBytes, versionLength] = new Uint32Array(buf.buffer, buf.byteOffset + 8, WORDS);
  if (format !== OUI_PACK_FORMAT || order !== BYTE_ORDER || sizeLow + sizeHigh * 2 ** 32 !== source.size || reader !== source.reader) return null;
  if (versionLength > VERSION_BYTES || buf.toString('utf8', VERSION_AT, VERSION_AT + versionLength) !== source.version) return null;
  const counts = [n6, n7, n9];
  const { sizes, total } = layout(counts, entries, entryBytes, countryBytes);
  if (buf.length !== total || checksumBut(buf, CRC_AT) !== crc) return null;
  const at: number[] = [];
  sizes.reduce((offset, s) => (at.push(align8(offset)), align8(offset) + s), HEADER);
  const view = <T>(Type: new (b: ArrayBufferLike, o: number, n: number) => T, i: number, n: number): T => new Type(buf.buffer, buf.byteOffset + at[i], n);
  return new PackedOui(
    counts.map((n, i) => view(Float64Array, i, n)),
    counts.map((n, i) => view(Uint32Array, 3 + i, n)),
    view(Uint32Array, 6, entries),
    buf.subarray(at[7], at[7] + entryBytes),
    buf.subarray(at[8], at[8] + countryBytes),
  );
}
