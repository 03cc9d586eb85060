import { createHash } from 'node:crypto';

/** An IPv4 address as a 32-bit number, or an IPv6 address as its 16 bytes in a latin1 string. */
export type RawAddr = number | string;

const scratch = Buffer.alloc(2 + 16 + 16 + 2 + 4);

function put(addr: RawAddr, at: number): number {
  if (typeof addr === 'number') return scratch.writeUInt32BE(addr >>> 0, at);
  return at + scratch.write(addr, at, 16, 'latin1');
}

/**
 * Community ID v1 (https://github.com/corelight/community-id-spec): the flow
 * hash Zeek and Suricata emit, so phonehome flows can be joined with theirs.
 * For ICMP the ports are the type and its reply type (or code), as the
 * decoder sets them.
 */
export function communityId(proto: number, src: RawAddr, sport: number, dst: RawAddr, dport: number, oneWay: boolean, seed = 0): string {
  const hasPorts = proto === 6 || proto === 17 || proto === 1 || proto === 58 || proto === 132;
  // Byte order of the addresses equals numeric order (IPv4) and latin1 string order (IPv6).
  const ordered = oneWay || src < dst || (src === dst && (!hasPorts || sport <= dport));
  const [a, ap, b, bp] = ordered ? [src, sport, dst, dport] : [dst, dport, src, sport];
  let o = scratch.writeUInt16BE(seed, 0);
  o = put(a, o);
  o = put(b, o);
  scratch[o++] = proto;
  scratch[o++] = 0;
  if (hasPorts) {
    o = scratch.writeUInt16BE(ap, o);
    o = scratch.writeUInt16BE(bp, o);
  }
  return `1:${createHash('sha1').update(scratch.subarray(0, o)).digest('base64')}`;
}
