// The embedded AS database: the CSV files of the npm package
// @ip-location-db/asn (RouteViews, the five RIRs and DB-IP, CC BY 4.0), read
// once into sorted typed arrays and searched by halving. A family is read on
// its first lookup, so a run that looks nothing up never pays for it; the
// build writes the arrays packed beside the code (asn-pack.ts), and a run
// maps those when they were made from the installed CSV. A run's first IPv4
// lookups read only the checked blocks of the pack they need (Ip4Blocks).

import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeAtomically } from '../util/files.js';
import { crc32, DamagedBlock, type PackSource, packSource, readAligned } from '../util/packed.js';
import { type AsnBlocks, openAsnBlocks, packAsnTable, unpackAsnTable, type AsnArrays } from './asn-pack.js';

/** The package's files: IPv4 ranges as numbers, IPv6 ranges as addresses (both inclusive). */
export function embeddedAsnFiles(): { ip4: string; ip6: string } {
  const req = createRequire(import.meta.url);
  return { ip4: req.resolve('@ip-location-db/asn/asn-ipv4-num.csv'), ip6: req.resolve('@ip-location-db/asn/asn-ipv6.csv') };
}

/** Where the build writes the packed tables: dist/data, beside the built code (dist/sensor/enrich). */
export function packedAsnFiles(dir = fileURLToPath(new URL('../../data', import.meta.url))): { ip4: string; ip6: string } {
  return { ip4: join(dir, 'asn-ipv4.bin'), ip6: join(dir, 'asn-ipv6.bin') };
}

let readerCrc: number | null | undefined;

/**
 * What a table read from `csv` now would be made from: the version of the
 * package holding it (its package.json), the file's size, and this module's
 * own code (so that a build's tables are not used by code whose reader
 * changed since); null when any is unreadable.
 */
export function asnSource(csv: string): PackSource | null {
  return packSource(csv, () => (readerCrc ??= crc32(readFileSync(fileURLToPath(import.meta.url)))));
}

/**
 * AS numbers that name no operator: 0, AS_TRANS (23456), documentation,
 * private use and reserved (64496-131071, RFC 5398, 6996, 7300), 32-bit
 * private use and the last one (4200000000-4294967295). Rows carrying them
 * are leaks of someone's internal routing, not an answer.
 */
export function isReservedAsn(asn: number): boolean {
  return asn === 0 || asn === 23456 || (asn >= 64496 && asn <= 131071) || asn >= 4200000000;
}

/** Organisation names by AS number: a sorted number list, each with its name's place in one UTF-8 buffer. */
class OrgNames {
  /** names decoded so far, by AS number (at most one per AS) */
  private readonly decoded = new Map<number, string | null>();

  constructor(
    readonly asns: Uint32Array,
    readonly starts: Uint32Array,
    readonly ends: Uint32Array,
    readonly bytes: Buffer,
  ) {}

  get size(): number {
    return this.asns.length;
  }

  get byteLength(): number {
    return this.asns.byteLength * 3 + this.bytes.length;
  }

  /** The name, or null when there is none or it only repeats the number ("AS12345"). */
  of(asn: number): string | null {
    let name = this.decoded.get(asn);
    if (name === undefined) this.decoded.set(asn, (name = this.decode(asn)));
    return name;
  }

  private decode(asn: number): string | null {
    const a = this.asns;
    let lo = 0;
    let hi = a.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = a[mid];
      if (v === asn) {
        const name = this.bytes.toString('utf8', this.starts[mid], this.ends[mid]);
        return name === '' || name === `AS${asn}` ? null : name;
      }
      if (v < asn) lo = mid + 1;
      else hi = mid - 1;
    }
    return null;
  }
}

const INDEX = 2 ** 20;

/** Collects each AS number's name once, in first-seen order; sorted by number when done. */
class OrgNamesBuilder {
  /** open addressing: AS number + 1 by slot (0: empty) */
  private slots = new Float64Array(1 << 17);
  private count = 0;
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];
  private readonly asns: number[] = [];
  private buf = Buffer.allocUnsafe(1 << 20);
  private used = 0;

  /** Records asn; false when it was already there. */
  private insert(asn: number): boolean {
    const mask = this.slots.length - 1;
    for (let i = Math.imul(asn, 0x9e3779b1) & mask; ; i = (i + 1) & mask) {
      const v = this.slots[i];
      if (v === 0) {
        this.slots[i] = asn + 1;
        if (++this.count * 2 > this.slots.length) this.grow();
        return true;
      }
      if (v === asn + 1) return false;
    }
  }

  private grow(): void {
    const old = this.slots;
    this.slots = new Float64Array(old.length * 2);
    this.count = 0;
    for (const v of old) if (v !== 0) this.insert(v - 1);
  }

  /** Adds the CSV field at src[from, to) (quoted or not) as asn's name, unless asn has one. */
  add(asn: number, src: Buffer, from: number, to: number): void {
    if (!this.insert(asn)) return;
    if (this.used + (to - from) > this.buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.used + (to - from)));
      this.buf.copy(bigger, 0, 0, this.used);
      this.buf = bigger;
    }
    const b = this.buf;
    const start = this.used;
    let o = start;
    if (src[from] === 0x22) {
      // "..." with "" for a quote inside
      for (let i = from + 1; i < to - 1; i++) {
        const c = src[i];
        b[o++] = c;
        if (c === 0x22) i++;
      }
    } else for (let i = from; i < to; i++) b[o++] = src[i];
    this.used = o;
    this.asns.push(asn);
    this.starts.push(start);
    this.ends.push(o);
  }

  build(): OrgNames {
    const n = this.asns.length;
    // sorted by AS number, carrying each one's place in first-seen order
    const order = new Float64Array(n);
    for (let k = 0; k < n; k++) order[k] = this.asns[k] * INDEX + k;
    order.sort();
    const asns = new Uint32Array(n);
    const starts = new Uint32Array(n);
    const ends = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      const k = order[i] % INDEX;
      asns[i] = this.asns[k];
      starts[i] = this.starts[k];
      ends[i] = this.ends[k];
    }
    return new OrgNames(asns, starts, ends, Buffer.from(this.buf.subarray(0, this.used)));
  }
}

/**
 * A pass over one CSV file, line by line, field by field, without a string
 * or an array per line: the IPv4 file has 400,000 lines and is read while a
 * capture waits for its first flow.
 */
class Csv {
  /** where the next field starts */
  at = 0;
  line = 1;
  /** the organisation field read last: buf[orgFrom, orgTo), quotes included */
  orgFrom = 0;
  orgTo = 0;

  constructor(
    readonly buf: Buffer,
    private readonly file: string,
  ) {}

  get more(): boolean {
    return this.at < this.buf.length;
  }

  fail(what: string): never {
    throw new Error(`${this.file}:${this.line}: ${what} (the package @ip-location-db/asn is damaged)`);
  }

  /** A decimal number up to the next comma. */
  number(): number {
    const b = this.buf;
    let i = this.at;
    let v = 0;
    const from = i;
    for (let c = b[i]; c !== 0x2c; c = b[++i]) {
      const d = c - 48;
      if (!(d >= 0 && d <= 9) || i - from >= 10) this.fail('expected a number');
      v = v * 10 + d;
    }
    if (i === from) this.fail('expected a number');
    this.at = i + 1;
    return v;
  }

  /** The end of the text field here (the next comma); the cursor moves past it. */
  text(): number {
    const i = this.buf.indexOf(0x2c, this.at);
    if (i < 0) this.fail('expected start,end,asn,organisation');
    this.at = i + 1;
    return i;
  }

  /** The organisation, quoted ("" for a quote inside) or not, to the end of the line; moves to the next line. */
  organisation(): void {
    const b = this.buf;
    const n = b.length;
    let i = this.at;
    this.orgFrom = i;
    if (b[i] === 0x22) {
      for (i++; i < n; i++) {
        if (b[i] !== 0x22) continue;
        if (b[i + 1] === 0x22) i++;
        else break;
      }
      if (i >= n) this.fail('unterminated quote');
      i++;
      this.orgTo = i;
      if (b[i] === 0x0d) i++;
      if (i < n && b[i] !== 0x0a) this.fail('text after the quoted organisation');
    } else {
      i = b.indexOf(0x0a, i);
      if (i < 0) i = n;
      this.orgTo = i > this.at && b[i - 1] === 0x0d ? i - 1 : i;
    }
    this.at = i + 1;
    this.line++;
  }
}

const hextets = new Uint16Array(8);
const words16 = new Uint16Array(8);

/** Parses the IPv6 address text at buf[from, to) into out[at..at+4) as four 32-bit words. */
function ip6Words(buf: Buffer, from: number, to: number, out: Uint32Array, at: number): boolean {
  const h = hextets;
  let count = 0;
  let gap = -1;
  let i = from;
  if (buf[i] === 0x3a && buf[i + 1] === 0x3a) {
    gap = 0;
    i += 2;
  }
  while (i < to) {
    let v = 0;
    let digits = 0;
    while (i < to) {
      const c = buf[i] | 0x20;
      const d = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : -1;
      if (d < 0) break;
      v = v * 16 + d;
      i++;
      if (++digits > 4) return false;
    }
    if (digits === 0 || count === 8) return false;
    h[count++] = v;
    if (i === to) break;
    if (buf[i] !== 0x3a) return false;
    i++;
    if (buf[i] === 0x3a) {
      if (gap >= 0) return false;
      gap = count;
      i++;
    }
  }
  if (gap < 0 && count !== 8) return false;
  const words = words16.fill(0);
  if (gap < 0) for (let k = 0; k < 8; k++) words[k] = h[k];
  else {
    for (let k = 0; k < gap; k++) words[k] = h[k];
    const tail = count - gap;
    for (let k = 0; k < tail; k++) words[8 - tail + k] = h[gap + k];
  }
  for (let k = 0; k < 4; k++) out[at + k] = ((words[2 * k] << 16) | words[2 * k + 1]) >>> 0;
  return true;
}

/** A typed array twice as long, holding a's values. */
function grown(a: Uint32Array<ArrayBuffer>): Uint32Array<ArrayBuffer> {
  const b = new Uint32Array(a.length * 2);
  b.set(a);
  return b;
}

/** Address ranges, sorted and disjoint, with the AS number of each row and the AS names. */
abstract class Ranges {
  constructor(
    readonly starts: Uint32Array,
    readonly ends: Uint32Array,
    readonly asns: Uint32Array,
    readonly orgs: OrgNames,
    /** whether the arrays came from the packed file rather than the CSV */
    readonly packed = false,
  ) {}

  /** The arrays, as packAsnTable takes them. */
  arrays(): AsnArrays {
    const o = this.orgs;
    return { starts: this.starts, ends: this.ends, asns: this.asns, orgAsns: o.asns, orgStarts: o.starts, orgEnds: o.ends, orgBytes: o.bytes };
  }

  get rows(): number {
    return this.asns.length;
  }

  asnAt(row: number): number {
    return this.asns[row];
  }

  orgOf(asn: number): string | null {
    return this.orgs.of(asn);
  }

  get byteLength(): number {
    return this.starts.byteLength + this.ends.byteLength + this.asns.byteLength + this.orgs.byteLength;
  }
}

/** What an IPv4 lookup asks of the table: the row of an address, its AS number, the AS's name. */
export interface Ip4Lookup {
  readonly rows: number;
  /** the row holding `ip` (an unsigned 32-bit number), or -1 */
  find(ip: number): number;
  asnAt(row: number): number;
  /** the name, or null when there is none or it only repeats the number */
  orgOf(asn: number): string | null;
}

/** IPv4 ranges: start and end (inclusive) per row. */
export class Ip4Ranges extends Ranges implements Ip4Lookup {

  /** The row holding `ip` (an unsigned 32-bit number), or -1. */
  find(ip: number): number {
    const s = this.starts;
    let lo = 0;
    let hi = s.length - 1;
    // the last row starting at or before ip
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (s[mid] <= ip) lo = mid + 1;
      else hi = mid - 1;
    }
    return hi >= 0 && ip <= this.ends[hi] ? hi : -1;
  }

  /** The table packed in `packed` when it was made from `csv` as installed, else read from the CSV. */
  static open(csv: string, packed?: string): Ip4Ranges {
    const a = packedArrays(packed, csv, 4);
    return a ? new Ip4Ranges(a.starts, a.ends, a.asns, orgNamesOf(a), true) : Ip4Ranges.load(csv);
  }

  static load(file: string): Ip4Ranges {
    const csv = new Csv(readFileSync(file), file);
    let starts = new Uint32Array(1 << 19);
    let ends = new Uint32Array(1 << 19);
    let asns = new Uint32Array(1 << 19);
    const orgs = new OrgNamesBuilder();
    let rows = 0;
    while (csv.more) {
      const start = csv.number();
      const end = csv.number();
      const asn = csv.number();
      csv.organisation();
      if (end < start || end > 0xffffffff) csv.fail('the range ends before it starts, or past 255.255.255.255');
      if (isReservedAsn(asn)) continue;
      if (rows > 0 && start <= ends[rows - 1]) {
        // Overlapping rows (the data has one): the later, narrower one wins where they meet.
        if (start <= starts[rows - 1]) csv.fail('rows are not sorted by address');
        ends[rows - 1] = start - 1;
      }
      if (rows === asns.length) {
        starts = grown(starts);
        ends = grown(ends);
        asns = grown(asns);
      }
      starts[rows] = start;
      ends[rows] = end;
      asns[rows] = asn;
      rows++;
      orgs.add(asn, csv.buf, csv.orgFrom, csv.orgTo);
    }
    return new Ip4Ranges(starts.slice(0, rows), ends.slice(0, rows), asns.slice(0, rows), orgs.build());
  }
}

/** IPv6 ranges: four 32-bit words per start and end. */
export class Ip6Ranges extends Ranges {
  /** The row holding the address whose 128 bits are w0..w3 (most significant first), or -1. */
  find(w0: number, w1: number, w2: number, w3: number): number {
    const s = this.starts;
    let lo = 0;
    let hi = this.asns.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (cmp(s, mid * 4, w0, w1, w2, w3) <= 0) lo = mid + 1;
      else hi = mid - 1;
    }
    return hi >= 0 && cmp(this.ends, hi * 4, w0, w1, w2, w3) >= 0 ? hi : -1;
  }

  /** The table packed in `packed` when it was made from `csv` as installed, else read from the CSV. */
  static open(csv: string, packed?: string): Ip6Ranges {
    const a = packedArrays(packed, csv, 6);
    return a ? new Ip6Ranges(a.starts, a.ends, a.asns, orgNamesOf(a), true) : Ip6Ranges.load(csv);
  }

  static load(file: string): Ip6Ranges {
    const csv = new Csv(readFileSync(file), file);
    const buf = csv.buf;
    let starts = new Uint32Array(1 << 19);
    let ends = new Uint32Array(1 << 19);
    let asns = new Uint32Array(1 << 17);
    const orgs = new OrgNamesBuilder();
    let rows = 0;
    while (csv.more) {
      if (rows === asns.length) {
        starts = grown(starts);
        ends = grown(ends);
        asns = grown(asns);
      }
      const at = rows * 4;
      const from = csv.at;
      const c1 = csv.text();
      const c2 = csv.text();
      if (!ip6Words(buf, from, c1, starts, at) || !ip6Words(buf, c1 + 1, c2, ends, at)) csv.fail('expected IPv6 addresses');
      const asn = csv.number();
      csv.organisation();
      const s0 = starts[at];
      const s1 = starts[at + 1];
      const s2 = starts[at + 2];
      const s3 = starts[at + 3];
      if (cmp(ends, at, s0, s1, s2, s3) < 0) csv.fail('the range ends before it starts');
      if (isReservedAsn(asn)) continue;
      if (rows > 0 && cmp(ends, at - 4, s0, s1, s2, s3) >= 0) {
        if (cmp(starts, at - 4, s0, s1, s2, s3) >= 0) csv.fail('rows are not sorted by address');
        // the later, narrower row wins where they meet: the previous one ends just before it
        minusOne(starts, at, ends, at - 4);
      }
      asns[rows] = asn;
      rows++;
      orgs.add(asn, buf, csv.orgFrom, csv.orgTo);
    }
    return new Ip6Ranges(starts.slice(0, rows * 4), ends.slice(0, rows * 4), asns.slice(0, rows), orgs.build());
  }
}

/** The arrays packed in `file` when it was made from `csv` as installed now; null when it is missing, stale or damaged. */
function packedArrays(file: string | undefined, csv: string, family: 4 | 6): AsnArrays | null {
  if (file === undefined) return null;
  try {
    const source = asnSource(csv);
    const buf = source && readAligned(file);
    return source && buf && unpackAsnTable(buf, family, source);
  } catch {
    return null;
  }
}

function orgNamesOf(a: AsnArrays): OrgNames {
  return new OrgNames(a.orgAsns, a.orgStarts, a.orgEnds, a.orgBytes);
}

/** Compares the 128-bit value at a[at..at+4) with w0..w3: negative, zero or positive. */
function cmp(a: Uint32Array, at: number, w0: number, w1: number, w2: number, w3: number): number {
  return a[at] - w0 || a[at + 1] - w1 || a[at + 2] - w2 || a[at + 3] - w3;
}

/** out[o..o+4) = a[at..at+4) - 1 (a is not zero: a row starts after another). */
function minusOne(a: Uint32Array, at: number, out: Uint32Array, o: number): void {
  let borrow = true;
  for (let k = 3; k >= 0; k--) {
    const v = a[at + k];
    out[o + k] = borrow ? (v - 1) >>> 0 : v;
    borrow = borrow && v === 0;
  }
}

/**
 * Blocks read from the pack before the whole table is read instead (1 MB of
 * 8): a lookup of an address in a new part of the table reads about eight
 * (starts, ends, AS numbers, names), so this serves a capture's first few
 * dozen destinations, and a capture of many costs at most this more than
 * reading the whole table at once.
 */
const BLOCKS_BEFORE_WHOLE = 256;

/**
 * IPv4 lookups answered from the packed table a 4 kB block at a time (each
 * block checked when first read), then, once BLOCKS_BEFORE_WHOLE were read
 * or at a damaged block, from the whole table (`whole`, which reads the pack
 * whole or, when it is damaged, the CSV). The rows are the same either way.
 * A small capture reads a few dozen blocks instead of 8 MB.
 */
class Ip4Blocks implements Ip4Lookup {
  private table: Ip4Ranges | null = null;
  private readonly names = new Map<number, string | null>();

  constructor(
    private readonly pack: AsnBlocks,
    private readonly whole: () => Ip4Ranges,
  ) {}

  get rows(): number {
    return this.pack.rows;
  }

  find(ip: number): number {
    if (this.table || this.pack.file.read >= BLOCKS_BEFORE_WHOLE) return this.full().find(ip);
    return this.orWhole(() => {
      const { file, at } = this.pack;
      let lo = 0;
      let hi = this.pack.rows - 1;
      while (lo <= hi) {
        const mid = (lo + hi) >>> 1;
        if (file.u32(at.starts + mid * 4) <= ip) lo = mid + 1;
        else hi = mid - 1;
      }
      return hi >= 0 && ip <= file.u32(at.ends + hi * 4) ? hi : -1;
    }, (t) => t.find(ip));
  }

  asnAt(row: number): number {
    if (this.table) return this.table.asnAt(row);
    return this.orWhole(() => this.pack.file.u32(this.pack.at.asns + row * 4), (t) => t.asnAt(row));
  }

  orgOf(asn: number): string | null {
    if (this.table) return this.table.orgOf(asn);
    let name = this.names.get(asn);
    if (name === undefined) this.names.set(asn, (name = this.orWhole(() => this.decode(asn), (t) => t.orgOf(asn))));
    return name;
  }

  private decode(asn: number): string | null {
    const { file, at, orgs } = this.pack;
    let lo = 0;
    let hi = orgs - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = file.u32(at.orgAsns + mid * 4);
      if (v === asn) {
        const name = file.text(at.orgBytes + file.u32(at.orgStarts + mid * 4), at.orgBytes + file.u32(at.orgEnds + mid * 4));
        return name === '' || name === `AS${asn}` ? null : name;
      }
      if (v < asn) lo = mid + 1;
      else hi = mid - 1;
    }
    return null;
  }

  /** fromBlocks(), or fromWhole(the whole table) once a block was found damaged. */
  private orWhole<T>(fromBlocks: () => T, fromWhole: (t: Ip4Ranges) => T): T {
    try {
      return fromBlocks();
    } catch (e) {
      if (!(e instanceof DamagedBlock)) throw e;
      return fromWhole(this.full());
    }
  }

  private full(): Ip4Ranges {
    if (!this.table) {
      this.table = this.whole();
      this.pack.file.close();
    }
    return this.table;
  }
}

/**
 * AS number and organisation of an address from the embedded data; each
 * family is read on its first lookup. One per process (the shards of
 * --workers each read their own).
 */
export class AsnTable {
  private v4: Ip4Ranges | null = null;
  private v6: Ip6Ranges | null = null;
  /** the packed IPv4 table opened for block reads; null when it cannot be */
  private blocks4: Ip4Blocks | null | undefined;

  constructor(
    private readonly files = embeddedAsnFiles(),
    /** the packed tables, used when they were made from these files as installed; null: the CSV only */
    private readonly packed: { ip4: string; ip6: string } | null = packedAsnFiles(),
  ) {}

  get ip4(): Ip4Ranges {
    return (this.v4 ??= Ip4Ranges.open(this.files.ip4, this.packed?.ip4));
  }

  /** IPv4 lookups: from the packed table's blocks while there are few (Ip4Blocks), else from the whole table. */
  lookup4(): Ip4Lookup {
    if (this.v4) return this.v4;
    if (this.blocks4 === undefined) {
      const source = this.packed ? asnSource(this.files.ip4) : null;
      const pack = source && openAsnBlocks(this.packed!.ip4, 4, source);
      this.blocks4 = pack ? new Ip4Blocks(pack, () => this.ip4) : null;
    }
    return this.blocks4 ?? this.ip4;
  }

  get ip6(): Ip6Ranges {
    return (this.v6 ??= Ip6Ranges.open(this.files.ip6, this.packed?.ip6));
  }

  /** Whether a family was read already (start-up costs nothing until a lookup). */
  loaded(): { ip4: boolean; ip6: boolean } {
    return { ip4: this.v4 !== null, ip6: this.v6 !== null };
  }
}

/**
 * Packs both families' tables, read from the CSV files, into `dir` (the
 * build's step); returns the files written, or null on a Node without
 * zlib.crc32 (before 20.15), where packed tables could not be checked.
 */
export function writeAsnPacks(dir?: string, files = embeddedAsnFiles()): { ip4: string; ip6: string } | null {
  if (crc32(new Uint8Array(0)) === null) return null;
  const out = packedAsnFiles(dir);
  mkdirSync(dirname(out.ip4), { recursive: true });
  for (const [family, csv, file] of [[4, files.ip4, out.ip4], [6, files.ip6, out.ip6]] as const) {
    const source = asnSource(csv);
    if (!source) throw new Error(`${csv}: the version of its package or the file's size cannot be read`);
    const table = family === 4 ? Ip4Ranges.load(csv) : Ip6Ranges.load(csv);
    writeAtomically(file, packAsnTable(family, source, table.arrays()));
  }
  return out;
}

let shared: AsnTable | null = null;

/** The embedded table every GeoIp of this process shares. */
export function embeddedAsnTable(): AsnTable {
  return (shared ??= new AsnTable());
}
