import { createHash } from 'node:crypto';

/**
 * Community ID v1 (https://github.com/corelight/community-id-spec): the flow
 * hash Zeek and Suricata emit, so phonehome flows can be joined with theirs.
 * Addresses are 4 or 16 raw bytes; for ICMP the ports are the type and its
 * reply type (or code) as the decoder sets them.
 */
export function communityId(proto: number, src: Buffer, sport: number, dst: Buffer, dport: number, oneWay: boolean, seed = 0): string {
  const hasPorts = proto === 6 || proto === 17 || proto === 1 || proto === 58 || proto === 132;
  let ordered = oneWay;
  if (!ordered) {
    const c = Buffer.compare(src, dst);
    ordered = c < 0 || (c === 0 && (!hasPorts || sport <= dport));
  }
  const [a, ap, b, bp] = ordered ? [src, sport, dst, dport] : [dst, dport, src, sport];
  const buf = Buffer.alloc(2 + a.length + b.length + 2 + (hasPorts ? 4 : 0));
  let o = buf.writeUInt16BE(seed, 0);
  o += a.copy(buf, o);
  o += b.copy(buf, o);
  buf[o++] = proto;
  buf[o++] = 0;
  if (hasPorts) {
    o = buf.writeUInt16BE(ap, o);
    buf.writeUInt16BE(bp, o);
  }
  return `1:${createHash('sha1').update(buf).digest('base64')}`;
}
