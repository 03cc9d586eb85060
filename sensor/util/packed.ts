// What the tables the build packs beside the built code (the AS tables, the
// IEEE registry) share: a pack starts with an 8-byte magic, header words in
// the machine's byte order (a format number, the byte order, a CRC-32 of the
// rest of the file), the version of the package the data came from, then
// sections of typed arrays, each 8-aligned.

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

/** A file's bytes in memory of its own, 8-aligned (typed arrays can view it in place), or null when it cannot be read. */
export function readAligned(file: string): Buffer | null {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return null;
  }
  try {
    const size = fstatSync(fd).size;
    // allocUnsafeSlow: never a slice of the shared pool, so the typed arrays' offsets stay aligned
    const buf = Buffer.allocUnsafeSlow(size);
    let got = 0;
    while (got < size) {
      const n = readSync(fd, buf, got, size - got, got);
      if (n === 0) return null;
      got += n;
    }
    return buf;
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
