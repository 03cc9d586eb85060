// MaxMind DB files for the mmdb-tree and mmdb-verify tests: the layout read
// from the format specification (https://maxmind.github.io/MaxMind-DB/), a
// database's tree rewritten in another record size, and libmaxminddb's
// readers (mmdbresolve, mmdblookup) as the reference.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GEOIP_DIR } from '../../helpers/corpus.js';

export const METADATA_MARKER = Buffer.from('abcdef4d61784d696e642e636f6d', 'hex');

export interface Layout {
  nodeCount: number;
  recordSize: 24 | 28 | 32;
  /** bytes of the search tree */
  treeSize: number;
  /** where the data section starts (after the 16-byte separator) and ends (the metadata marker) */
  dataStart: number;
  dataEnd: number;
}

/** The record_size value in the metadata map: the key, then a uint16 of one byte (control byte 0xa1). */
function recordSizeAt(buf: Buffer): number {
  const marker = buf.lastIndexOf(METADATA_MARKER);
  const key = buf.indexOf(Buffer.concat([Buffer.from([0x40 | 11]), Buffer.from('record_size')]), marker);
  if (key < 0 || buf[key + 12] !== 0xa1) throw new Error('record_size not found as a one-byte uint16');
  return key + 13;
}

export function layout(buf: Buffer, nodeCount: number): Layout {
  const recordSize = buf[recordSizeAt(buf)] as 24 | 28 | 32;
  const treeSize = (recordSize * 2 * nodeCount) / 8;
  return { nodeCount, recordSize, treeSize, dataStart: treeSize + 16, dataEnd: buf.lastIndexOf(METADATA_MARKER) };
}

/** Node `n`'s left (0) or right (1) record, per the specification's layout of each record size. */
export function readRecord(buf: Buffer, l: Layout, n: number, bit: number): number {
  if (l.recordSize === 24) return buf.readUIntBE(n * 6 + bit * 3, 3);
  if (l.recordSize === 32) return buf.readUInt32BE(n * 8 + bit * 4);
  const o = n * 7;
  // 28 bits: the middle byte's high nibble leads the left record, its low nibble the right one.
  return bit === 0 ? ((buf[o + 3] >> 4) << 24) | buf.readUIntBE(o, 3) : ((buf[o + 3] & 0x0f) << 24) | buf.readUIntBE(o + 4, 3);
}

function writeRecord(buf: Buffer, size: 24 | 28 | 32, n: number, bit: number, v: number): void {
  if (size === 24) buf.writeUIntBE(v, n * 6 + bit * 3, 3);
  else if (size === 32) buf.writeUInt32BE(v >>> 0, n * 8 + bit * 4);
  else {
    const o = n * 7;
    buf.writeUIntBE(v & 0xffffff, bit === 0 ? o : o + 4, 3);
    buf[o + 3] = bit === 0 ? (buf[o + 3] & 0x0f) | ((v >>> 24) << 4) : (buf[o + 3] & 0xf0) | (v >>> 24);
  }
}

/**
 * The same database with its search tree in `size`-bit records. Record
 * values (node numbers, data pointers relative to the data section) do not
 * change, nor does the data section: only the tree and record_size.
 */
export function withRecordSize(buf: Buffer, nodeCount: number, size: 24 | 28 | 32): Buffer {
  const l = layout(buf, nodeCount);
  const tree = Buffer.alloc((size * 2 * nodeCount) / 8);
  for (let n = 0; n < nodeCount; n++) for (const bit of [0, 1]) writeRecord(tree, size, n, bit, readRecord(buf, l, n, bit));
  const out = Buffer.concat([tree, buf.subarray(l.treeSize)]);
  out[recordSizeAt(out)] = size;
  return out;
}

/** A MaxMind test database and the source it was built from. */
export function testDb(name: 'GeoLite2-Country-Test' | 'GeoLite2-City-Test' | 'GeoLite2-ASN-Test'): { file: string; networks: string[] } {
  const source = JSON.parse(readFileSync(join(GEOIP_DIR, `${name}.source.json`), 'utf8')) as Record<string, unknown>[];
  return { file: join(GEOIP_DIR, `${name}.mmdb`), networks: source.flatMap((e) => Object.keys(e)) };
}

/** What mmdbresolve (Wireshark's libmaxminddb reader) prints for each address: field -> value, empty when nothing. */
export function mmdbresolve(file: string, ips: string[]): Map<string, Record<string, string>> {
  const out = execFileSync('mmdbresolve', ['-f', file], { input: `${ips.join('\n')}\n`, maxBuffer: 1 << 26 }).toString();
  const result = new Map<string, Record<string, string>>();
  let current: Record<string, string> | null = null;
  for (const line of out.split('\n')) {
    const open = /^\[(.+)\]$/.exec(line);
    if (open) {
      current = open[1] === 'init' ? null : {};
      if (current) result.set(open[1], current);
    } else if (current && !line.startsWith('#')) {
      const m = /^([\w.]+): (.*)$/.exec(line);
      if (m) current[m[1]] = m[2];
    }
  }
  return result;
}

/** mmdblookup's output for an address (stdout and stderr), and whether it found a record without error. */
export function mmdblookup(file: string, ip: string): { ok: boolean; text: string } {
  try {
    return { ok: true, text: execFileSync('mmdblookup', ['--file', file, '--ip', ip], { stdio: ['ignore', 'pipe', 'pipe'] }).toString() };
  } catch (e) {
    const x = e as { stdout: Buffer; stderr: Buffer };
    return { ok: false, text: `${x.stdout}${x.stderr}` };
  }
}

export const dotted = (n: number) => [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');
export const ip4Number = (ip: string) => ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);
