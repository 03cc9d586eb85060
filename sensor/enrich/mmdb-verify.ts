// Walks a MaxMind DB data section value by value, as MaxMind's own verifier
// does, so a damaged database is refused at start-up. The maxmind reader
// decodes lazily and would hand back garbage (or throw) in the middle of a capture.

import { treeRecord } from './mmdb-tree.js';

const METADATA_MARKER = Buffer.from('abcdef4d61784d696e642e636f6d', 'hex');

class Bad extends Error {}

const TYPE_NAMES = ['extended', 'pointer', 'string', 'double', 'bytes', 'uint16', 'uint32', 'map', 'int32', 'uint64', 'uint128', 'array', 'container', 'end marker', 'boolean', 'float'];

/** Returns what is wrong with the file, or null when every value in its data section is well formed. */
export function verifyMmdb(buf: Buffer, nodeCount: number, recordSize: number): string | null {
  const markerAt = buf.lastIndexOf(METADATA_MARKER);
  if (markerAt < 0) return 'no metadata section';
  const treeSize = ((recordSize * 2) / 8) * nodeCount;
  const start = treeSize + 16;
  const end = markerAt;
  if (start > end) return `search tree of ${nodeCount} nodes (${treeSize} bytes) is larger than the file`;
  // Tree records pointing past the data section are as damaging as bad data.
  const dataSize = end - start;
  if (recordSize !== 24 && recordSize !== 28 && recordSize !== 32) return `unsupported record size ${recordSize}`;
  try {
    for (let n = 0; n < nodeCount; n++) {
      for (let bit = 0; bit < 2; bit++) {
        const r = treeRecord(buf, n, bit, recordSize);
        if (r > nodeCount && r - nodeCount - 16 >= dataSize) {
          throw new Bad(`search tree node ${n} points at data offset ${r - nodeCount - 16}, beyond the ${dataSize}-byte data section`);
        }
      }
    }
    let o = start;
    while (o < end) o = skipValue(buf, o, start, end);
  } catch (e) {
    if (e instanceof Bad) return e.message;
    if (e instanceof RangeError) return 'a value runs past the end of the data section';
    throw e;
  }
  return null;
}

function skipValue(b: Buffer, o: number, start: number, end: number, depth = 0): number {
  if (depth > 64) throw new Bad(`data section at byte ${o - start}: values nested deeper than 64`);
  if (o >= end) throw new Bad(`data section at byte ${o - start}: value runs past the end`);
  const at = o;
  const ctrl = b[o++];
  let type = ctrl >> 5;
  if (type === 1) {
    const ss = (ctrl >> 3) & 3;
    let ptr: number;
    if (ss === 0) ptr = ((ctrl & 7) << 8) | b[o];
    else if (ss === 1) ptr = (((ctrl & 7) << 16) | b.readUInt16BE(o)) + 2048;
    else if (ss === 2) ptr = (((ctrl & 7) << 24) | b.readUIntBE(o, 3)) + 526336;
    else ptr = b.readUInt32BE(o);
    if (ptr >= end - start) throw new Bad(`data section at byte ${at - start}: pointer to ${ptr}, beyond the data section`);
    return o + ss + 1;
  }
  if (type === 0) type = 7 + b[o++];
  let size = ctrl & 0x1f;
  if (size === 29) size = 29 + b[o++];
  else if (size === 30) {
    size = 285 + b.readUInt16BE(o);
    o += 2;
  } else if (size === 31) {
    size = 65821 + b.readUIntBE(o, 3);
    o += 3;
  }
  const name = TYPE_NAMES[type] ?? `type ${type}`;
  const fixed: Record<number, number> = { 3: 8, 15: 4 };
  const max: Record<number, number> = { 5: 2, 6: 4, 8: 4, 9: 8, 10: 16 };
  if (fixed[type] !== undefined && size !== fixed[type]) throw new Bad(`data section at byte ${at - start}: a ${name} of ${size} bytes (a ${name} is ${fixed[type]})`);
  if (max[type] !== undefined && size > max[type]) throw new Bad(`data section at byte ${at - start}: a ${name} of ${size} bytes (at most ${max[type]})`);
  switch (type) {
    case 7:
      for (let i = 0; i < size * 2; i++) o = skipValue(b, o, start, end, depth + 1);
      return o;
    case 11:
      for (let i = 0; i < size; i++) o = skipValue(b, o, start, end, depth + 1);
      return o;
    case 14:
      if (size > 1) throw new Bad(`data section at byte ${at - start}: a boolean with value ${size}`);
      return o;
    case 12:
    case 13:
      return o;
    case 2:
    case 3:
    case 4:
    case 5:
    case 6:
    case 8:
    case 9:
    case 10:
    case 15:
      if (o + size > end) throw new Bad(`data section at byte ${at - start}: a ${name} runs past the end`);
      return o + size;
    default:
      throw new Bad(`data section at byte ${at - start}: unknown value type ${type}`);
  }
}
