// Frames build.ts does not make: ICMP echo over IPv4, and TCP over IPv6.
// Real headers and checksums, so tshark dissects them like captured traffic.
import { isIP } from 'node:net';
import { checksum, eth, ipv4, packet, tcpSession, type Endpoint } from './build.js';
import type { TestPacket } from './pcap.js';

function sum16(b: Buffer, s = 0): number {
  for (let i = 0; i + 1 < b.length; i += 2) s += b.readUInt16BE(i);
  if (b.length % 2) s += b[b.length - 1] << 8;
  return s;
}

function fold(s: number): number {
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return ~s & 0xffff;
}

/** The 16 bytes of an IPv6 address written in any RFC 4291 text form. */
export function ip6Bytes(ip: string): Buffer {
  if (isIP(ip) !== 6) throw new Error(`${ip} is not an IPv6 address`);
  const [head, tail] = ip.includes('::') ? ip.split('::') : [ip, null];
  const words = (s: string) => (s === '' ? [] : s.split(':').map((w) => parseInt(w, 16)));
  const h = words(head);
  const t = tail === null ? [] : words(tail);
  const all = tail === null ? h : [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  const b = Buffer.alloc(16);
  all.forEach((w, i) => b.writeUInt16BE(w, i * 2));
  return b;
}

/** An ICMP echo request (type 8) or reply (type 0) over IPv4. */
export function icmpEchoFrame(from: Endpoint, to: Endpoint, type: 0 | 8, id: number, seq: number): Buffer {
  const icmp = Buffer.alloc(8 + 32, 0x61);
  icmp[0] = type;
  icmp[1] = 0;
  icmp.writeUInt16BE(id, 4);
  icmp.writeUInt16BE(seq, 6);
  icmp.writeUInt16BE(checksum(icmp), 2);
  return eth(from.mac, to.mac, 0x0800, ipv4(from.ip, to.ip, 1, icmp));
}

/** A ping and its answer. */
export function ping(t: number, from: Endpoint, to: Endpoint, id = 1, seq = 1): TestPacket[] {
  return [packet(t, icmpEchoFrame(from, to, 8, id, seq)), packet(t + 0.01, icmpEchoFrame(to, from, 0, id, seq))];
}

/** A TCP segment over IPv6, with a correct pseudo-header checksum. */
export function tcp6Frame(from: Endpoint, to: Endpoint, flags: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const t = Buffer.alloc(20);
  t.writeUInt16BE(from.port, 0);
  t.writeUInt16BE(to.port, 2);
  t.writeUInt32BE(1, 4);
  t[12] = 5 << 4;
  t[13] = flags;
  t.writeUInt16BE(65535, 14);
  const seg = Buffer.concat([t, payload]);
  const src = ip6Bytes(from.ip);
  const dst = ip6Bytes(to.ip);
  const pseudo = Buffer.alloc(40);
  src.copy(pseudo, 0);
  dst.copy(pseudo, 16);
  pseudo.writeUInt32BE(seg.length, 32);
  pseudo[39] = 6;
  seg.writeUInt16BE(fold(sum16(seg, sum16(pseudo))), 16);
  const ip = Buffer.alloc(40);
  ip.writeUInt32BE(0x60000000, 0);
  ip.writeUInt16BE(seg.length, 4);
  ip[6] = 6;
  ip[7] = 64;
  src.copy(ip, 8);
  dst.copy(ip, 24);
  return eth(from.mac, to.mac, 0x86dd, Buffer.concat([ip, seg]));
}

/** One complete TCP connection over IPv6: handshake, request, response, teardown. */
export function tcp6Session(t0: number, client: Endpoint, server: Endpoint, request = Buffer.from('hello'), response = Buffer.from('world')): TestPacket[] {
  return tcpSession(t0, client, server, request, response, tcp6Frame);
}
