import * as crypto from 'node:crypto';

// One-shot hashing (Node >= 20.12) is cheaper per flow than a Hash object; older Node falls back.
const oneShot = (crypto as { hash?: (alg: string, data: Buffer, enc: 'base64') => string }).hash;
const sha1Base64 = oneShot ? (b: Buffer) => oneShot('sha1', b, 'base64') : (b: Buffer) => crypto.createHash('sha1').update(b).digest('base64');

/** A flow's key as the flow table holds it: addresses as four 32-bit words (IPv4: the first only). */
export interface FlowKey {
  proto: number;
  v6: boolean;
  s0: number;
  s1: number;
  s2: number;
  s3: number;
  d0: number;
  d1: number;
  d2: number;
  d3: number;
  sport: number;
  dport: number;
  /** ICMP without a reply type: ordered as sent */
  icmpOneWay: boolean;
}

const scratch = Buffer.alloc(2 + 16 + 16 + 2 + 4);
/** scratch's first n bytes, by n: a view per hashed flow showed in allocation profiles */
const views: Buffer[] = Array.from({ length: scratch.length + 1 }, (_, n) => scratch.subarray(0, n));

function put(v6: boolean, w0: number, w1: number, w2: number, w3: number, at: number): number {
  let o = scratch.writeUInt32BE(w0 >>> 0, at);
  if (!v6) return o;
  o = scratch.writeUInt32BE(w1 >>> 0, o);
  o = scratch.writeUInt32BE(w2 >>> 0, o);
  return scratch.writeUInt32BE(w3 >>> 0, o);
}

/** Source before destination in the hash: comparing the unsigned words is comparing the address bytes. */
function sourceFirst(k: FlowKey, hasPorts: boolean): boolean {
  if (k.icmpOneWay) return true;
  if (k.s0 !== k.d0) return k.s0 >>> 0 < k.d0 >>> 0;
  if (k.s1 !== k.d1) return k.s1 >>> 0 < k.d1 >>> 0;
  if (k.s2 !== k.d2) return k.s2 >>> 0 < k.d2 >>> 0;
  if (k.s3 !== k.d3) return k.s3 >>> 0 < k.d3 >>> 0;
  return !hasPorts || k.sport <= k.dport;
}

/**
 * Community ID v1 (https://github.com/corelight/community-id-spec): the flow
 * hash Zeek and Suricata emit, so phonehome flows can be joined with theirs.
 * For ICMP the ports are the type and its reply type (or code), as the
 * decoder sets them.
 */
export function communityId(k: FlowKey, seed = 0): string {
  const proto = k.proto;
  const hasPorts = proto === 6 || proto === 17 || proto === 1 || proto === 58 || proto === 132;
  let o = scratch.writeUInt16BE(seed, 0);
  const srcFirst = sourceFirst(k, hasPorts);
  if (srcFirst) {
    o = put(k.v6, k.s0, k.s1, k.s2, k.s3, o);
    o = put(k.v6, k.d0, k.d1, k.d2, k.d3, o);
  } else {
    o = put(k.v6, k.d0, k.d1, k.d2, k.d3, o);
    o = put(k.v6, k.s0, k.s1, k.s2, k.s3, o);
  }
  scratch[o++] = proto;
  scratch[o++] = 0;
  if (hasPorts) {
    o = scratch.writeUInt16BE(srcFirst ? k.sport : k.dport, o);
    o = scratch.writeUInt16BE(srcFirst ? k.dport : k.sport, o);
  }
  return `1:${sha1Base64(views[o])}`;
}
