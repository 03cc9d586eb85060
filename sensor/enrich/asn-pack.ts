// The embedded AS tables in a packed form, written at build time beside the
// built code so that a run maps them in a few milliseconds instead of
// parsing 30 MB of CSV. A file names the CSV it was made from (the
// package's version and the file's byte size) and the code that read it, and
// carries a checksum; one that does not match, is cut short or damaged is
// not used.

import { closeSync, fstatSync } from 'node:fs';
import { align8, BLOCK, BlockFile, blockCrcs, BYTE_ORDER, checksumBut, crc32, nativeU32, openToRead, type PackSource, readBytes, VERSION_BYTES } from '../util/packed.js';

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
export const ASN_PACK_FORMAT = 2;
/**
 * After the magic (8 bytes), 12 words: format, byte order, family, size
 * (low, high), reader, checksum, rows, org count, org bytes, version length,
 * the block table's checksum; then the version. The sections follow, then
 * the block table: a CRC-32 of each 4 kB block of the file before it, so
 * that a run can read and check only the blocks it asks (AsnBlocks).
 */
const WORDS = 12;
const CRC_AT = 8 + 6 * 4;
const TABLE_CRC_AT = 8 + 11 * 4;
const VERSION_AT = 8 + WORDS * 4;
const HEADER = VERSION_AT + VERSION_BYTES;
/** Words a block's checksum reads as 0: they are written after the blocks' checksums. */
const ZEROED = [CRC_AT, TABLE_CRC_AT];

/** Section offsets and sizes in bytes, each section 8-aligned after the header, then the block table's offset and the file's size. */
function layout(family: 4 | 6, rows: number, orgs: number, orgBytes: number): { offsets: number[]; sizes: number[]; table: number; total: number } {
  const w = family === 4 ? 1 : 4;
  const sizes = [rows * w * 4, rows * w * 4, rows * 4, orgs * 4, orgs * 4, orgs * 4, orgBytes];
  const offsets: number[] = [];
  let at = HEADER;
  for (const size of sizes) {
    offsets.push((at = align8(at)));
    at += size;
  }
  const table = align8(at);
  return { offsets, sizes, table, total: table + Math.ceil(table / BLOCK) * 4 };
}

function sections(a: AsnArrays): Uint8Array[] {
  const bytes = (t: Uint32Array | Buffer) => new Uint8Array(t.buffer, t.byteOffset, t.byteLength);
  return [a.starts, a.ends, a.asns, a.orgAsns, a.orgStarts, a.orgEnds, a.orgBytes].map(bytes);
}

/** The packed form of one family's arrays. */
export function packAsnTable(family: 4 | 6, source: PackSource, a: AsnArrays): Buffer {
  const version = Buffer.from(source.version, 'utf8');
  if (version.length > VERSION_BYTES) throw new Error(`package version too long to record: ${source.version}`);
  const { offsets, table, total } = layout(family, a.asns.length, a.orgAsns.length, a.orgBytes.length);
  const out = Buffer.alloc(total);
  sections(a).forEach((s, i) => out.set(s, offsets[i]));
  out.write(MAGIC, 0, 'latin1');
  const words = [ASN_PACK_FORMAT, BYTE_ORDER, family, source.size % 2 ** 32, Math.floor(source.size / 2 ** 32), source.reader, 0, a.asns.length, a.orgAsns.length, a.orgBytes.length, version.length, 0];
  const header = new Uint32Array(out.buffer, out.byteOffset + 8, WORDS);
  header.set(words);
  version.copy(out, VERSION_AT);
  const crcs = blockCrcs(out, table, ZEROED);
  const tableBytes = new Uint8Array(crcs.buffer);
  out.set(tableBytes, table);
  header[11] = crc32(tableBytes) ?? 0;
  header[6] = checksumBut(out, CRC_AT) ?? 0;
  return out;
}

/** The header's words when they describe a pack made from `source` for `family` by this format; null otherwise. */
function headerOf(head: Buffer, family: 4 | 6, source: PackSource): { rows: number; orgs: number; orgBytes: number; crc: number; tableCrc: number } | null {
  if (head.length < HEADER || head.toString('latin1', 0, 8) !== MAGIC) return null;
  const w = Array.from({ length: WORDS }, (_, i) => nativeU32(head, 8 + i * 4));
  const [format, order, fam, sizeLow, sizeHigh, reader, crc, rows, orgs, orgBytes, versionLength, tableCrc] = w;
  if (format !== ASN_PACK_FORMAT || order !== BYTE_ORDER || fam !== family || sizeLow + sizeHigh * 2 ** 32 !== source.size || reader !== source.reader) return null;
  if (versionLength > VERSION_BYTES || head.toString('utf8', VERSION_AT, VERSION_AT + versionLength) !== source.version) return null;
  return { rows, orgs, orgBytes, crc, tableCrc };
}

/**
 * The arrays in a packed table, as views on `buf` (no copy), or null when it
 * is not one made from `source` for this family by this format, or is
 * damaged. `buf` must start 8-aligned in its memory (readAligned's does).
 */
export function unpackAsnTable(buf: Buffer, family: 4 | 6, source: PackSource): AsnArrays | null {
  if (buf.byteOffset % 8 !== 0) return null;
  const h = headerOf(buf, family, source);
  if (!h) return null;
  const { offsets, sizes, total } = layout(family, h.rows, h.orgs, h.orgBytes);
  if (buf.length !== total || checksumBut(buf, CRC_AT) !== h.crc) return null;
  const [starts, ends, asns, orgAsns, orgStarts, orgEnds] = offsets.slice(0, 6).map((at, i) => new Uint32Array(buf.buffer, buf.byteOffset + at, sizes[i] / 4));
  return { starts, ends, asns, orgAsns, orgStarts, orgEnds, orgBytes: buf.subarray(offsets[6], offsets[6] + h.orgBytes) };
}

/** A packed table opened to be read a block at a time: its file, its row and organisation counts, and where each section starts. */
export interface AsnBlocks {
  file: BlockFile;
  rows: number;
  orgs: number;
  at: { starts: number; ends: number; asns: number; orgAsns: number; orgStarts: number; orgEnds: number; orgBytes: number };
}

/**
 * The packed table in `file` opened to be read a block at a time, or null
 * when it is not one made from `source` for this family by this format, or
 * its header or block table is damaged. Each block is checked when first
 * read (BlockFile), the header's block now.
 */
export function openAsnBlocks(file: string, family: 4 | 6, source: PackSource): AsnBlocks | null {
  const fd = openToRead(file);
  if (fd === null) return null;
  try {
    const h = headerOf(readBytes(fd, 0, HEADER) ?? Buffer.alloc(0), family, source);
    if (!h) throw new Error('not this table');
    const { offsets, table, total } = layout(family, h.rows, h.orgs, h.orgBytes);
    if (fstatSync(fd).size !== total) throw new Error('cut short or grown');
    const raw = readBytes(fd, table, total - table);
    if (!raw || crc32(raw) !== h.tableCrc) throw new Error('block table damaged');
    const crcs = new Uint32Array(new Uint8Array(raw).buffer);
    const blocks = new BlockFile(fd, table, crcs, ZEROED);
    blocks.block(0);
    const [starts, ends, asns, orgAsns, orgStarts, orgEnds, orgBytes] = offsets;
    return { file: blocks, rows: h.rows, orgs: h.orgs, at: { starts, ends, asns, orgAsns, orgStarts, orgEnds, orgBytes } };
  } catch {
    closeSync(fd);
    return null;
  }
}
