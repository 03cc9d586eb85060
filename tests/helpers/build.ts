// Builds real Ethernet/IPv4 frames for scenario tests: correct headers and
// lengths, so tshark reads them like captured traffic.
import type { TestPacket } from './pcap.js';

export interface Endpoint {
  mac: string;
  ip: string;
  port: number;
}

const macBytes = (m: string) => Buffer.from(m.replace(/:/g, ''), 'hex');
const ipBytes = (ip: string) => Buffer.from(ip.split('.').map(Number));

/** The Internet checksum (RFC 1071) of `b`. */
export function checksum(b: Buffer): number {
  let s = 0;
  for (let i = 0; i + 1 < b.length; i += 2) s += b.readUInt16BE(i);
  if (b.length % 2) s += b[b.length - 1] << 8;
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return ~s & 0xffff;
}

/** An IPv4 header with its checksum, then `payload`. */
export function ipv4(src: string, dst: string, proto: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(20);
  h[0] = 0x45;
  h.writeUInt16BE(20 + payload.length, 2);
  h[8] = 64;
  h[9] = proto;
  ipBytes(src).copy(h, 12);
  ipBytes(dst).copy(h, 16);
  h.writeUInt16BE(checksum(h), 10);
  return Buffer.concat([h, payload]);
}

/** An Ethernet II header, then `payload`. */
export function eth(src: string, dst: string, type: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(14);
  macBytes(dst).copy(h, 0);
  macBytes(src).copy(h, 6);
  h.writeUInt16BE(type, 12);
  return Buffer.concat([h, payload]);
}

export const TCP_FLAGS = { FIN: 1, SYN: 2, RST: 4, PSH: 8, ACK: 16 };

export function tcpFrame(from: Endpoint, to: Endpoint, flags: number, payload: Buffer = Buffer.alloc(0), seq = 1): Buffer {
  const t = Buffer.alloc(20);
  t.writeUInt16BE(from.port, 0);
  t.writeUInt16BE(to.port, 2);
  t.writeUInt32BE(seq >>> 0, 4);
  t[12] = 5 << 4;
  t[13] = flags;
  t.writeUInt16BE(65535, 14);
  return eth(from.mac, to.mac, 0x0800, ipv4(from.ip, to.ip, 6, Buffer.concat([t, payload])));
}

export function udpFrame(from: Endpoint, to: Endpoint, payload: Buffer): Buffer {
  const u = Buffer.alloc(8);
  u.writeUInt16BE(from.port, 0);
  u.writeUInt16BE(to.port, 2);
  u.writeUInt16BE(8 + payload.length, 4);
  return eth(from.mac, to.mac, 0x0800, ipv4(from.ip, to.ip, 17, Buffer.concat([u, payload])));
}

/** A DNS response for `name` with A records, as a resolver sends it. */
export function dnsResponse(id: number, name: string, addresses: string[], ttl = 300): Buffer {
  const qname = Buffer.concat([...name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])), Buffer.from([0])]);
  const h = Buffer.alloc(12);
  h.writeUInt16BE(id, 0);
  h.writeUInt16BE(0x8180, 2);
  h.writeUInt16BE(1, 4);
  h.writeUInt16BE(addresses.length, 6);
  const q = Buffer.concat([qname, Buffer.from([0, 1, 0, 1])]);
  const answers = addresses.map((a) => {
    const rr = Buffer.alloc(16);
    rr.writeUInt16BE(0xc00c, 0);
    rr.writeUInt16BE(1, 2);
    rr.writeUInt16BE(1, 4);
    rr.writeUInt32BE(ttl, 6);
    rr.writeUInt16BE(4, 10);
    ipBytes(a).copy(rr, 12);
    return rr;
  });
  return Buffer.concat([h, q, ...answers]);
}

export function packet(ts: number, data: Buffer): TestPacket {
  const sec = Math.floor(ts);
  return { tsSec: sec, tsUsec: Math.round((ts - sec) * 1e6), data, wirelen: data.length };
}

/** How a TCP segment is framed: over IPv4 (tcpFrame) or IPv6 (frames.ts tcp6Frame). */
export type TcpFramer = (from: Endpoint, to: Endpoint, flags: number, payload?: Buffer) => Buffer;

/** One complete TCP connection: handshake, a request and a response, teardown. */
export function tcpSession(t0: number, client: Endpoint, server: Endpoint, request = Buffer.from('hello'), response = Buffer.from('world'), frame: TcpFramer = tcpFrame): TestPacket[] {
  const { SYN, ACK, PSH, FIN } = TCP_FLAGS;
  return [
    packet(t0, frame(client, server, SYN)),
    packet(t0 + 0.01, frame(server, client, SYN | ACK)),
    packet(t0 + 0.02, frame(client, server, ACK)),
    packet(t0 + 0.03, frame(client, server, PSH | ACK, request)),
    packet(t0 + 0.04, frame(server, client, PSH | ACK, response)),
    packet(t0 + 0.05, frame(client, server, FIN | ACK)),
    packet(t0 + 0.06, frame(server, client, FIN | ACK)),
    packet(t0 + 0.07, frame(client, server, ACK)),
  ];
}
