// What the tables the build packs beside the built code (the AS tables, the
// IEEE registry) share: a pack starts with an 8-byte magic, header words in
// the machine's byte order (a format number, the byte order, a CRC-32 of the
// rest of the file), the version of the package the data came from, then
// sections of typed arrays, each 8-aligned; a pack read on demand ends with
// a CRC-32 of each 4 kB block before it (BlockFile).

import { closeSync, fstatSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as zlib from 'node:zlib';

/**
 * What a pack was made from: the data package's version, the data file's
 * size in bytes, and a CRC-32 of the code that reads it (a pack made by other
 * code, an older build, is not used).
 */
export interface PackSource {
  version: string;
  size: number;
  reader: number;
}

/**
 * What a pack made from `file` now would be made from: the version of the
 * package holding it (its package.json), the file's size, and `reader()`, a
 * CRC-32 of the code that reads it; null when any is unreadable.
 */
export function packSource(file: string, reader: () => number | null): PackSource | null {
  try {
    const code = reader();
    const { version } = JSON.parse(readFileSync(join(dirname(file), 'package.json'), 'utf8')) as { version?: unknown };
    return typeof version === 'string' && code !== null ? { version, size: statSync(file).size, reader: code } : null;
  } catch {
    return null;
  }
}

/** Written in the machine's byte order: a file from a machine of the other order reads back as another number. */
export const BYTE_ORDER = 0x01020304;
/** Room for the package's version after the header words. */
export const VERSION_BYTES = 64;

export const align8 = (n: number): number => (n + 7) & ~7;

/** zlib's CRC-32 of `data` continued from `value`; null where this Node has none (before 20.15). */
export function crc32(data: Uint8Array, value = 0): number | null {
  const f = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;
  return f ? f(data, value) >>> 0 : null;
}

/** Fills `buf` with the bytes of an open file from offset `at`; false when the file ends first. */
export function readAt(fd: number, buf: Uint8Array, at: number): boolean {
  for (let got = 0; got < buf.length; ) {
    const n = readSync(fd, buf, got, buf.length - got, at + got);
    if (n === 0) return false;
    got += n;
  }
  return true;
}

/** `count` bytes of an open file from offset `at`; null when the file ends first. */
export function readBytes(fd: number, at: number, count: number): Buffer | null {
  const b = Buffer.alloc(count);
  return readAt(fd, b, at) ? b : null;
}

/** A descriptor of `file` open for reading, or null when it cannot be opened. */
export function openToRead(file: string): number | null {
  try {
    return openSync(file, 'r');
  } catch {
    return null;
  }
}

/** A file's bytes in memory of its own, 8-aligned (typed arrays can view it in place), or null when it cannot be read. */
export function readAligned(file: string): Buffer | null {
  const fd = openToRead(file);
  if (fd === null) return null;
  try {
    const size = fstatSync(fd).size;
    // allocUnsafeSlow: never a slice of the shared pool, so the typed arrays' offsets stay aligned
    const buf = Buffer.allocUnsafeSlow(size);
    return readAt(fd, buf, 0) ? buf : null;
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

/** CRC-32 of a whole pack but its checksum, the word at byte `at`. */
export function checksumBut(buf: Buffer, at: number): number | null {
  const head = crc32(buf.subarray(0, at));
  return head === null ? null : crc32(buf.subarray(at + 4), head);
}

/** Bytes per block of a pack read on demand: a memory page. */
export const BLOCK = 4096;

/** The machine's byte order, which packs are written in. */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** The 32-bit word at byte `at` of `b` in the machine's byte order, as a Uint32Array on the bytes would read it. */
export function nativeU32(b: Buffer, at: number): number {
  return LITTLE_ENDIAN ? b.readUInt32LE(at) : b.readUInt32BE(at);
}

/** CRC-32 of `block`, the bytes of a pack from offset `at`, with the 4-byte words at the offsets `zeroed` read as 0 (checksums written after the blocks'). */
function blockCrc(block: Uint8Array, at: number, zeroed: readonly number[]): number {
  let b = block;
  for (const z of zeroed) {
    if (z < at || z >= at + block.length) continue;
    if (b === block) b = Buffer.from(block);
    b.fill(0, z - at, z - at + 4);
  }
  return crc32(b) ?? 0;
}

/** The CRC-32 of each BLOCK bytes of buf[0, end), as blockCrc reads them. */
export function blockCrcs(buf: Uint8Array, end: number, zeroed: readonly number[]): Uint32Array {
  const out = new Uint32Array(Math.ceil(end / BLOCK));
  for (let i = 0; i < out.length; i++) out[i] = blockCrc(buf.subarray(i * BLOCK, Math.min(end, (i + 1) * BLOCK)), i * BLOCK, zeroed);
  return out;
}

/** A block of a pack that cannot be read or does not match its checksum. */
export class DamagedBlock extends Error {}

/**
 * A pack read a block at a time, each block checked against its CRC-32 when
 * first read and kept: a run that asks a few values reads a few pages
 * instead of the whole file (on some VMs, filling fresh memory costs 4 ms a
 * megabyte), and the check still covers every byte it answers from.
 */
export class BlockFile {
  private readonly blocks = new Map<number, Buffer>();

  /** `crcs`: one per block of [0, end); `zeroed`: as for blockCrcs. */
  constructor(
    private fd: number | null,
    private readonly end: number,
    private readonly crcs: Uint32Array,
    private readonly zeroed: readonly number[],
  ) {}

  /** How many blocks were read so far. */
  get read(): number {
    return this.blocks.size;
  }

  /** Block i, read and checked on first use; DamagedBlock when it cannot be. */
  block(i: number): Buffer {
    const kept = this.blocks.get(i);
    if (kept) return kept;
    const at = i * BLOCK;
    const length = Math.min(BLOCK, this.end - at);
    if (this.fd === null || i >= this.crcs.length || length <= 0) throw new DamagedBlock(`block ${i} is past the checked part of the file`);
    let b: Buffer | null;
    try {
      b = readBytes(this.fd, at, length);
    } catch (e) {
      throw new DamagedBlock(`block ${i} cannot be read: ${(e as Error).message}`);
    }
    if (!b || blockCrc(b, at, this.zeroed) !== this.crcs[i]) throw new DamagedBlock(`block ${i} does not match its checksum`);
    this.blocks.set(i, b);
    return b;
  }

  /** The 32-bit word at byte `at` (4-aligned, so never across blocks), in the machine's byte order. */
  u32(at: number): number {
    return nativeU32(this.block(Math.floor(at / BLOCK)), at % BLOCK);
  }

  /** The UTF-8 text of bytes [from, to). */
  text(from: number, to: number): string {
    const parts: Buffer[] = [];
    for (let at = from; at < to; ) {
      const b = this.block(Math.floor(at / BLOCK));
      const o = at % BLOCK;
      const n = Math.min(b.length - o, to - at);
      parts.push(b.subarray(o, o + n));
      at += n;
    }
    return (parts.length === 1 ? parts[0] : Buffer.concat(parts)).toString('utf8');
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}
