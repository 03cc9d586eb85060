// Frames built byte by byte from the RFCs (IPv4 791, IPv6 8200 and its
// extension headers, AH 4302, TCP 9293, UDP 768, ICMP 792/4443), the decoder
// run on them, and tshark's reading of the same frames: the decode tests
// compare the two.
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { RawPacket } from '../../../sensor/capture/packet.js';
import { newDecoded, type Decoded } from '../../../sensor/decode/decoded.js';
import { decodePacket } from '../../../sensor/decode/packet.js';
import { DecodeWarnings } from '../../../sensor/decode/warnings.js';
import { packet } from '../../helpers/build.js';
import { writePcap } from '../../helpers/pcap.js';

const run = promisify(execFile);
export const tmp = mkdtempSync(join(tmpdir(), 'phonehome-decode-'));

export const macBytes = (m: string) => Buffer.from(m.replace(/:/g, ''), 'hex');
export const macNumber = (m: string) => parseInt(m.replace(/:/g, ''), 16);
export const ip4Bytes = (ip: string) => Buffer.from(ip.split('.').map(Number));
export const ip4Number = (ip: string) => ip4Bytes(ip).readUInt32BE(0);

/** The 16 bytes of an IPv6 literal written in full or with one '::' (test-controlled inputs only). */
export function ip6Bytes(ip: string): Buffer {
  const dotted = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(ip);
  if (dotted) {
    const v4 = ip4Bytes(dotted[2]);
    ip = `${dotted[1]}${v4.readUInt16BE(0).toString(16)}:${v4.readUInt16BE(2).toString(16)}`;
  }
  const [l, r] = ip.split('::');
  const left = l ? l.split(':') : [];
  const right = r === undefined ? [] : r ? r.split(':') : [];
  const words = r === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill('0'), ...right];
  const out = Buffer.alloc(16);
  words.forEach((w, i) => out.writeUInt16BE(parseInt(w, 16), i * 2));
  return out;
}

function checksum(b: Buffer): number {
  let s = 0;
  for (let i = 0; i + 1 < b.length; i += 2) s += b.readUInt16BE(i);
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return ~s & 0xffff;
}

export const ETH_IPV4 = 0x0800;
export const ETH_IPV6 = 0x86dd;
export const ETH_ARP = 0x0806;

/** Ethernet II, optionally with VLAN tags ([TPID, VID] outermost first). */
export function ethernet(dst: string, src: string, type: number, payload: Buffer, tags: [number, number][] = []): Buffer {
  const h = Buffer.alloc(14 + tags.length * 4);
  macBytes(dst).copy(h, 0);
  macBytes(src).copy(h, 6);
  tags.forEach(([tpid, vid], i) => {
    h.writeUInt16BE(tpid, 12 + i * 4);
    h.writeUInt16BE(vid, 14 + i * 4);
  });
  h.writeUInt16BE(type, 12 + tags.length * 4);
  return Buffer.concat([h, payload]);
}

export interface Ipv4Options {
  src: string;
  dst: string;
  proto: number;
  payload: Buffer;
  /** IP options, a multiple of 4 bytes */
  options?: Buffer;
  /** more-fragments flag */
  more?: boolean;
  /** fragment offset in 8-byte units */
  fragOffset?: number;
  /** override of the total length field */
  totalLength?: number;
}

export function ipv4(o: Ipv4Options): Buffer {
  const opts = o.options ?? Buffer.alloc(0);
  const h = Buffer.alloc(20 + opts.length);
  h[0] = 0x40 | ((20 + opts.length) / 4);
  h.writeUInt16BE(o.totalLength ?? h.length + o.payload.length, 2);
  h.writeUInt16BE(0x1234, 4);
  h.writeUInt16BE((o.more ? 0x2000 : 0) | (o.fragOffset ?? 0), 6);
  h[8] = 64;
  h[9] = o.proto;
  ip4Bytes(o.src).copy(h, 12);
  ip4Bytes(o.dst).copy(h, 16);
  opts.copy(h, 20);
  h.writeUInt16BE(checksum(h), 10);
  return Buffer.concat([h, o.payload]);
}

/** IPv6 fixed header; `next` is the first next-header value, `payload` the extension headers and transport. */
export function ipv6(src: string, dst: string, next: number, payload: Buffer, payloadLength = payload.length): Buffer {
  const h = Buffer.alloc(40);
  h.writeUInt32BE(0x60000000, 0);
  h.writeUInt16BE(payloadLength, 4);
  h[6] = next;
  h[7] = 64;
  ip6Bytes(src).copy(h, 8);
  ip6Bytes(dst).copy(h, 24);
  return Buffer.concat([h, payload]);
}

/**
 * An extension header with the generic layout (Hop-by-Hop, Routing,
 * Destination Options, ...): next header, length in 8-octet units not
 * counting the first 8, then `units * 8 + 6` bytes of PadN-filled body.
 */
export function extHeader(next: number, units = 0, type = 0): Buffer {
  const h = Buffer.alloc(8 + units * 8);
  h[0] = next;
  h[1] = units;
  if (type === 43) {
    // Routing header of an experimental type (RFC 4727), segments left 0: skipped by every node
    h[2] = 253;
    h[3] = 0;
  } else {
    // one PadN option filling the body
    h[2] = 1;
    h[3] = h.length - 4;
  }
  return h;
}

/** Fragment header: offset in 8-byte units, more-fragments flag. */
export function fragmentHeader(next: number, offset: number, more: boolean, id = 0xdeadbeef): Buffer {
  const h = Buffer.alloc(8);
  h[0] = next;
  h.writeUInt16BE((offset << 3) | (more ? 1 : 0), 2);
  h.writeUInt32BE(id, 4);
  return h;
}

/** Authentication Header (RFC 4302) with a 12-byte ICV: 24 bytes, length field 24/4 - 2 = 4. */
export function authHeader(next: number): Buffer {
  const h = Buffer.alloc(24);
  h[0] = next;
  h[1] = 24 / 4 - 2;
  h.writeUInt32BE(0x1000, 4);
  h.writeUInt32BE(7, 8);
  return h;
}

export interface TcpOptions {
  sport: number;
  dport: number;
  flags: number;
  payload?: Buffer;
  /** TCP options, a multiple of 4 bytes */
  options?: Buffer;
  /** override of the data offset (in 32-bit words) */
  dataOffset?: number;
}

export function tcp(o: TcpOptions): Buffer {
  const opts = o.options ?? Buffer.alloc(0);
  const h = Buffer.alloc(20 + opts.length);
  h.writeUInt16BE(o.sport, 0);
  h.writeUInt16BE(o.dport, 2);
  h.writeUInt32BE(1000, 4);
  h[12] = (o.dataOffset ?? (20 + opts.length) / 4) << 4;
  h[13] = o.flags;
  h.writeUInt16BE(65535, 14);
  opts.copy(h, 20);
  return Buffer.concat([h, o.payload ?? Buffer.alloc(0)]);
}

export function udp(sport: number, dport: number, payload: Buffer, length = 8 + payload.length): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(sport, 0);
  h.writeUInt16BE(dport, 2);
  h.writeUInt16BE(length, 4);
  return Buffer.concat([h, payload]);
}

/** ICMP or ICMPv6 message: type, code, checksum, then `rest` (identifier/sequence for echo). */
export function icmp(type: number, code: number, rest: Buffer = Buffer.from([0, 1, 0, 1])): Buffer {
  const h = Buffer.alloc(4);
  h[0] = type;
  h[1] = code;
  return Buffer.concat([h, rest]);
}

/** TCP options MSS 1460, SACK permitted, timestamps, NOP, window scale 7: 20 bytes. */
export const SYN_OPTIONS = Buffer.from([2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7]);

export const A = { mac: '50:c7:bf:00:c7:03', ip: '192.168.1.20', ip6: 'fe80::52c7:bfff:fe00:c703' };
export const B = { mac: '00:b5:6d:06:08:ba', ip: '93.184.216.34', ip6: '2606:2800:220:1:248:1893:25c8:1946' };

export interface DecodeRun {
  ok: boolean;
  d: Decoded;
  warnings: Record<string, number>;
}

/** Where decodeFrame puts a frame in its buffer. */
export const FRAME_AT = 37;

/**
 * decodePacket on one frame placed at an offset inside a larger buffer, with
 * bytes of another frame after it, so a decoder reading outside
 * [off, off + caplen) would show.
 */
export function decodeFrame(linktype: number, frame: Buffer, caplen = frame.length): DecodeRun {
  const before = Buffer.alloc(FRAME_AT, 0xee);
  const after = Buffer.alloc(64, 0x45);
  const data = Buffer.concat([before, frame.subarray(0, caplen), after]);
  const p: RawPacket = { data, off: before.length, caplen, wirelen: frame.length, tsSec: 1_700_000_000, tsNsec: 5000, linktype, fileOffset: 0 };
  const d = newDecoded();
  const warn = new DecodeWarnings();
  const ok = decodePacket(p, d, warn);
  return { ok, d: { ...d }, warnings: { ...warn.counts } };
}

/** The payload a decode found, as bytes. */
export const payloadOf = (r: DecodeRun) => r.d.data.subarray(r.d.payOff, r.d.payOff + r.d.payLen);

let files = 0;

/** Writes frames as a pcap of that link type and returns the path. */
export function pcapOf(linktype: number, frames: Buffer[]): string {
  const f = join(tmp, `frames-${files++}.pcap`);
  writePcap(f, linktype, frames.map((fr, i) => packet(1_700_000_000 + i, fr)));
  return f;
}

/**
 * tshark's value of each field for every frame (first occurrence; '' when
 * absent). IP reassembly is off so every fragment is dissected on its own.
 */
export async function tsharkFields(file: string, fields: string[], extra: string[] = []): Promise<Record<string, string>[]> {
  const { stdout } = await run(
    'tshark',
    ['-n', '-r', file, '-o', 'ip.defragment:FALSE', '-o', 'ipv6.defragment:FALSE', ...extra, '-T', 'fields', '-E', 'separator=\t', '-E', 'occurrence=f', ...fields.flatMap((f) => ['-e', f])],
    { maxBuffer: 1 << 28 },
  );
  return stdout
    .split('\n')
    .slice(0, -1)
    .map((line) => {
      const v = line.split('\t');
      return Object.fromEntries(fields.map((f, i) => [f, v[i] ?? '']));
    });
}
