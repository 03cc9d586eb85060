// A TCP conversation of several segments each way, with running sequence
// and acknowledgement numbers and checksums, so tshark reassembles and
// dissects it like captured traffic (Telnet logins, FTP sessions, SOAP
// requests cut over segments).
import { checksum, eth, packet, TCP_FLAGS, type Endpoint } from './build.js';
import type { TestPacket } from './pcap.js';

/** One segment: who sends it ('c' client, 's' server) and its payload. */
export type Turn = ['c' | 's', Buffer | string];

const ipBytes = (ip: string) => Buffer.from(ip.split('.').map(Number));

function segment(from: Endpoint, to: Endpoint, flags: number, seq: number, ack: number, payload: Buffer): Buffer {
  const t = Buffer.alloc(20);
  t.writeUInt16BE(from.port, 0);
  t.writeUInt16BE(to.port, 2);
  t.writeUInt32BE(seq >>> 0, 4);
  t.writeUInt32BE(ack >>> 0, 8);
  t[12] = 5 << 4;
  t[13] = flags;
  t.writeUInt16BE(65535, 14);
  const seg = Buffer.concat([t, payload]);
  const pseudo = Buffer.concat([ipBytes(from.ip), ipBytes(to.ip), Buffer.from([0, 6, seg.length >> 8, seg.length & 255])]);
  seg.writeUInt16BE(checksum(Buffer.concat([pseudo, seg])), 16);
  const h = Buffer.alloc(20);
  h[0] = 0x45;
  h.writeUInt16BE(20 + seg.length, 2);
  h[8] = 64;
  h[9] = 6;
  ipBytes(from.ip).copy(h, 12);
  ipBytes(to.ip).copy(h, 16);
  h.writeUInt16BE(checksum(h), 10);
  return eth(from.mac, to.mac, 0x0800, Buffer.concat([h, seg]));
}

/** Handshake, the turns in order (10 ms apart), teardown. */
export function tcpConversation(t0: number, client: Endpoint, server: Endpoint, turns: Turn[]): TestPacket[] {
  const { SYN, ACK, PSH, FIN } = TCP_FLAGS;
  let cs = 1000;
  let ss = 5000;
  let t = t0;
  const out: TestPacket[] = [];
  const push = (from: 'c' | 's', flags: number, payload = Buffer.alloc(0)) => {
    const [a, b, seq, ack] = from === 'c' ? [client, server, cs, ss] : [server, client, ss, cs];
    out.push(packet((t += 0.01), segment(a, b, flags, seq, flags & ACK ? ack : 0, payload)));
    const n = payload.length + (flags & (SYN | FIN) ? 1 : 0);
    if (from === 'c') cs += n;
    else ss += n;
  };
  push('c', SYN);
  push('s', SYN | ACK);
  push('c', ACK);
  for (const [who, data] of turns) push(who, PSH | ACK, typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
  push('c', FIN | ACK);
  push('s', FIN | ACK);
  push('c', ACK);
  return out;
}
