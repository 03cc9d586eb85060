// Helpers of the tables the build packs beside the built code (the AS tables,
// the IEEE registry): a checksum, and a file read into memory of its own.

import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import * as zlib from 'node:zlib';

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
