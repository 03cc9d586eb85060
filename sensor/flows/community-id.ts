import * as crypto from 'node:crypto';

// One-shot hashing (Node >= 20.12) is cheaper per flow than a Hash object; older Node falls back.
const oneShot = (crypto as { hash?: (alg: string, data: Buffer, enc: 'base64') => string }).hash;
const sha1Base64 = oneShot ? (b: Buffer) => oneShot('sha1', b, 'base64') : (b: Buffer) => crypto.createHash('sha1').update(b).digest('base64');

/** An address as four 32-bit words (IPv4: the first word only). */
export interface Words {
  v6: boolean;
  w: [number, number, number, number];
}

const scratch = Buffer.alloc(2 + 16 + 16 + 2 + 4);

function put(a: Words, at: number): number {
  let o = scratch.writeUInt32BE(a.w[0] >>> 0, at);
  if (a.v6) for (let i = 1; i < 4; i++) o = scratch.writeUInt32BE(a.w[i] >>> 0, o);
  return o;
}

function compare(a: Words, b: Words): number {
  for (let i = 0; i < 4; i++) if (a.w[i] !== b.w[i]) return (a.w[i] >>> 0) - (b.w[i] >>> 0);
  return 0;
}

/**
 * Community ID v1 (https://github.com/corelight/community-id-spec): the flow
 * hash Zeek and Suricata emit, so phonehome flows can be joined with theirs.
 * For ICMP the ports are the type and its reply type (or code), as the
 * decoder sets them.
 */
export function communityId(proto: number, src: Words, sport: number, dst: Words, dport: number, oneWay: boolean, seed = 0): string {
  const hasPorts = proto === 6 || proto === 17 || proto === 1 || proto === 58 || proto === 132;
  // Comparing the unsigned words is comparing the address bytes.
  const c = compare(src, dst);
  const ordered = oneWay || c < 0 || (c === 0 && (!hasPorts || sport <= dport));
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
  return `1:${sha1Base64(scratch.subarray(0, o))}`;
}
