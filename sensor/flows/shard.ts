import { ICMP6, TCP, UDP, type Decoded } from '../decode/decoded.js';
import { isDhcp, isDhcp6, isSsdp } from '../protocols/ports.js';
import { u32 } from '../util/bytes.js';

/**
 * Which of `count` shards owns an IP packet: a symmetric hash of protocol,
 * addresses and ports, so both directions of a flow meet in one shard and a
 * device's flows spread over all of them (one busy device does not load one
 * shard). Non-first fragments carry no ports and may land elsewhere; they are
 * only counted, never flows.
 */
export function shardOf(d: Decoded, count: number): number {
  if (count === 1) return 0;
  const lo = d.sport < d.dport ? d.sport : d.dport;
  const hi = d.sport < d.dport ? d.dport : d.sport;
  let key = mix(((lo << 16) | hi) ^ (d.proto << 24));
  if (d.ipVersion === 4) {
    key ^= mix(d.src4) + mix(d.dst4);
  } else {
    key ^= hash6(d.data, d.src6Off) + hash6(d.data, d.dst6Off);
  }
  return (mix(key) >>> 0) % count;
}

/**
 * Packets whose payload every shard reads, whoever owns their flow: DNS and
 * LLMNR answers (a flow is named, and judged resolved or hard-coded, by the
 * answers its client got, which travelled in another flow), DHCP, DHCPv6 and
 * SSDP (device facts such as the MUD URL, which picks a device's profile,
 * and values that the last report sets), and IPv6 neighbour discovery
 * (which addresses are on the link). The owner also accounts them to their
 * flow. ARP is handled the same way by the caller. mDNS is not shared:
 * the host names in it only add to a set, which merges.
 */
export function isSharedFact(d: Decoded): boolean {
  if (d.payLen === 0) return false;
  const s = d.sport;
  const t = d.dport;
  if (d.proto === UDP) {
    if (s === 53 || s === 5355) return d.payLen > 2 && (d.data[d.payOff + 2] & 0x80) !== 0;
    if (s === 5353 || t === 5353) return false;
    return isDhcp(s, t) || isDhcp6(s, t) || isSsdp(s, t);
  }
  // Neighbour discovery: every shard learns which IPv6 addresses are on the link.
  if (d.proto === ICMP6) return s === 135 || s === 136;
  return d.proto === TCP && s === 53;
}

function mix(x: number): number {
  let h = Math.imul(x ^ 0x9e3779b9, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}

function hash6(b: Buffer, off: number): number {
  return mix(u32(b, off) ^ mix(u32(b, off + 4) ^ mix(u32(b, off + 8) ^ mix(u32(b, off + 12)))));
}
