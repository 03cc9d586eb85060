// The search tree of a MaxMind DB file, read by hand: the maxmind reader
// takes addresses as strings and parses each one, which under a scan of
// distinct addresses was an eighth of the run. Data records are still
// decoded by the library.

import { u32 } from '../util/bytes.js';

/** Node `node`'s left (bit 0) or right (bit 1) record in a tree of the given record size (24, 28 or 32 bits). */
export function treeRecord(b: Buffer, node: number, bit: number, recordSize: number): number {
  if (recordSize === 24) {
    const o = node * 6 + bit * 3;
    return (b[o] << 16) | (b[o + 1] << 8) | b[o + 2];
  }
  if (recordSize === 28) {
    const o = node * 7;
    const middle = b[o + 3];
    return bit ? ((middle & 0x0f) << 24) | (b[o + 4] << 16) | (b[o + 5] << 8) | b[o + 6] : ((middle & 0xf0) << 20) | (b[o] << 16) | (b[o + 1] << 8) | b[o + 2];
  }
  if (recordSize === 32) return u32(b, node * 8 + bit * 4);
  throw new RangeError(`unsupported record size ${recordSize}`);
}

/** The IPv4 part of a database's search tree, walked on 32-bit numbers. */
export class Ip4Tree {
  private readonly start: number;

  constructor(
    private readonly buf: Buffer,
    private readonly nodeCount: number,
    private readonly recordSize: number,
    ipVersion: number,
  ) {
    // An IPv6 tree holds IPv4 at ::a.b.c.d, under 96 zero bits.
    let node = 0;
    if (ipVersion === 6) for (let i = 0; i < 96 && node < nodeCount; i++) node = treeRecord(buf, node, 0, recordSize);
    this.start = node;
  }

  /** The record `ip` ends at: a data pointer (greater than the node count), or 0 when the database does not know it. */
  find(ip: number): number {
    const n = this.nodeCount;
    let node = this.start;
    for (let depth = 0; depth < 32 && node < n; depth++) node = treeRecord(this.buf, node, (ip >>> (31 - depth)) & 1, this.recordSize);
    return node > n ? node : 0;
  }
}
