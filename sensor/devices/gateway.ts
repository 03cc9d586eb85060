import type { Flow } from '../flows/flow.js';
import { EarliestSet } from '../util/bounded.js';

/**
 * A MAC is a gateway (a router: infrastructure, not a device) once it has
 * carried traffic between local hosts and this many distinct Internet
 * addresses. One is not enough: a host that has a public address on the LAN
 * sends from that one address.
 */
export const GATEWAY_MIN_PEERS = 2;
/** MACs followed as next hops; a LAN has a router or a few (bounded memory under spoofed floods). */
const MAX_NEXT_HOPS = 4096;

const isGroup = (mac: number) => (Math.floor(mac / 2 ** 40) & 1) === 1;

/**
 * The next hops toward the Internet, learned from flows: the destination
 * MAC of a flow a local host opened to an Internet address, and the source
 * MAC of a flow an Internet address opened to a local host (IPv4 only there:
 * an IPv6 host with a global address is itself "an Internet address" that
 * talks to local ones). Each MAC keeps the first GATEWAY_MIN_PEERS Internet
 * addresses it carried, the earliest seen, so shards merge to what one
 * thread would have kept.
 */
export class NextHops {
  private readonly byMac = new Map<number, EarliestSet>();

  /** A flow ended. */
  flow(f: Flow): void {
    if (f.srcLocal && !f.dstLocal) this.add(f.dstMac, f.dstIp, f.first);
    else if (!f.srcLocal && f.dstLocal && !f.v6 && f.dstMac >= 0 && !isGroup(f.dstMac)) this.add(f.srcMac, f.srcIp, f.first);
  }

  add(mac: number, internetIp: string, ts: number): void {
    if (mac < 0 || isGroup(mac)) return;
    let s = this.byMac.get(mac);
    if (!s) {
      if (this.byMac.size >= MAX_NEXT_HOPS) return;
      this.byMac.set(mac, (s = new EarliestSet(GATEWAY_MIN_PEERS)));
    }
    s.add(internetIp, ts);
  }

  isGateway(mac: number): boolean {
    return (this.byMac.get(mac)?.size ?? 0) >= GATEWAY_MIN_PEERS;
  }

  /** Internet addresses carried by a MAC (at most GATEWAY_MIN_PEERS), with the time each was first seen. */
  entries(mac: number): [string, number][] {
    return this.byMac.get(mac)?.entries() ?? [];
  }

  macs(): number[] {
    return [...this.byMac.keys()];
  }
}
