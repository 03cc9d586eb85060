// The embedded AS tables in a packed form, written at build time beside the
// built code so that a run maps them in a few milliseconds instead of
// parsing 30 MB of CSV. A file names the CSV it was made from (the
// package's version and the file's byte size) and the code that read it, and
// carries a checksum; one that does not match, is cut short or damaged is
// not used.

import { align8, BYTE_ORDER, checksumBut, type PackSource, VERSION_BYTES } from '../util/packed.js';

/** The arrays of one address family's table, as the CSV reader builds them. */
export interface AsnArrays {
  /** range starts and ends: one 32-bit word per IPv4 row, four per IPv6 row */
  starts: Uint32Array;
  ends: Uint32Array;
  /** AS number by row */
  asns: Uint32Array;
  /** organisation names: AS numbers (sorted), each name's place in orgBytes */
  orgAsns: Uint32Array;
  orgStarts: Uint32Array;
  orgEnds: Uint32Array;
  orgBytes: Buffer;
}

const MAGIC = 'PHASNTB\n';
/** Raised whenever the layout changes. */
export const ASN_PACK_FORMAT = 1;
/** After the magic (8 bytes), 11 words: format, byte order, family, size (low, high), reader, checksum, rows, org count, org bytes, version length; then the version. */
const WORDS = 11;
const CRC_AT = 8 + 6 * 4;
const VERSION_AT = 8 + WORDS * 4;
const HEADER = VERSION_AT + VERSION_BYTES;

/** Section sizes in bytes, each starting 8-aligned after the header. */
function layout(family: 4 | 6, rows: number, orgs: number, orgBytes: number): { sizes: number[]; total: number } {
  const w = family === 4 ? 1 : 4;
  const sizes = [rows * w * 4, rows * w * 4, rows * 4, orgs * 4, orgs * 4, orgs * 4, orgBytes];
  return { sizes, total: sizes.reduce((at, s) => align8(at) + s, HEADER) };
}

function sections(a: AsnArrays): Uint8Array[] {
  const bytes = (t: Uint32Array | Buffer) => new Uint8Array(t.buffer, t.byteOffset, t.byteLength);
  return [a.starts, a.ends, a.asns, a.orgAsns, a.orgStarts, a.orgEnds, a.orgBytes].map(bytes);
}

/** The packed form of one family's arrays. */
export function packAsnTable(family: 4 | 6, source: PackSource, a: AsnArrays): Buffer {
  const version = Buffer.from(source.version, 'utf8');
  if (version.length > VERSION_BYTES) throw new Error(`package version too long to record: ${source.version}`);
  const { total } = layout(family, a.asns.length, a.orgAsns.length, a.orgBytes.length);
  const out = Buffer.alloc(total);
  let at = HEADER;
  for (const s of sections(a)) {
    at = align8(at);
    out.set(s, at);
    at += s.length;
  }
  out.write(MAGIC, 0, 'latin1');
  const words = [ASN_PACK_FORMAT, BYTE_ORDER, family, source.size % 2 ** 32, Math.floor(source.size / 2 ** 32), source.reader, 0, a.asns.length, a.orgAsns.length, a.orgBytes.length, version.length];
  const header = new Uint32Array(out.buffer, out.byteOffset + 8, WORDS);
  header.set(words);
  version.copy(out, VERSION_AT);
  header[6] = checksumBut(out, CRC_AT) ?? 0;
  return out;
}

/**
 * The arrays in a packed table, as views on `buf` (no copy), or null when it
 * is not one made from `source` for this family by this format, or is
 * damaged. `buf` must start 8-aligned in its memory (readAligned's does).
 */
export function unpackAsnTable(buf: Buffer, family: 4 | 6, source: PackSource): AsnArrays | null {
  if (buf.length < HEADER || buf.toString('latin1', 0, 8) !== MAGIC || buf.byteOffset % 8 !== 0) return null;
  const [format, order, fam, sizeLow, sizeHigh, reader, crc, rows, orgs, orgBytes, versionLength] = new Uint32Array(buf.buffer, buf.byteOffset + 8, WORDS);
  if (format !== ASN_PACK_FORMAT || order !== BYTE_ORDER || fam !== family || sizeLow + sizeHigh * 2 ** 32 !== source.size || reader !== source.reader) return null;
  if (versionLength > VERSION_BYTES || buf.toString('utf8', VERSION_AT, VERSION_AT + versionLength) !== source.version) return null;
  const { sizes, total } = layout(family, rows, orgs, orgBytes);
  if (buf.length !== total || checksumBut(buf, CRC_AT) !== crc) return null;
  const views: Uint32Array[] = [];
  let at = HEADER;
  for (const size of sizes.slice(0, 6)) {
    at = align8(at);
    views.push(new Uint32Array(buf.buffer, buf.byteOffset + at, size / 4));
    at += size;
  }
  const [starts, ends, asns, orgAsns, orgStarts, orgEnds] = views;
  at = align8(at);
  return { starts, ends, asns, orgAsns, orgStarts, orgEnds, orgBytes: buf.subarray(at, at + orgBytes) };
}
