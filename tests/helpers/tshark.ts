import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TsharkConversation {
  proto: 'tcp' | 'udp';
  a: string;
  b: string;
  /** frames and bytes sent by a to b, and by b to a; bytes null when tshark printed a rounded unit */
  aFrames: number;
  bFrames: number;
  aBytes: number | null;
  bBytes: number | null;
}

export interface TsharkView {
  conversations: TsharkConversation[];
  /** first dns.qry.name of every frame that has one */
  dnsQueries: string[];
  sni: string[];
  httpHosts: string[];
  /** distinct Community ID v1 values tshark computed */
  communityIds: Set<string>;
}

function bytes(n: string, unit: string): number | null {
  return unit === 'bytes' ? Number(n.replace(/,/g, '')) : null;
}

/** What Debian's tshark sees in a capture: the independent reader phonehome is checked against. */
export async function tsharkView(file: string): Promise<TsharkView> {
  const { stdout } = await run(
    'tshark',
    ['-n', '--enable-protocol', 'communityid', '-r', file, '-T', 'fields', '-E', 'separator=\t', '-e', 'dns.qry.name', '-e', 'tls.handshake.extensions_server_name', '-e', 'http.host', '-e', 'communityid', '-z', 'conv,tcp', '-z', 'conv,udp'],
    { maxBuffer: 1 << 28 },
  );
  const view: TsharkView = { conversations: [], dnsQueries: [], sni: [], httpHosts: [], communityIds: new Set() };
  let proto: 'tcp' | 'udp' | null = null;
  for (const line of stdout.split('\n')) {
    if (line.startsWith('====')) continue;
    if (line === 'TCP Conversations') proto = 'tcp';
    else if (line === 'UDP Conversations') proto = 'udp';
    if (proto) {
      const m = /^(\S+)\s+<->\s+(\S+)\s+(\d+)\s+([\d,]+) (\w+)\s+(\d+)\s+([\d,]+) (\w+)/.exec(line);
      if (m) {
        view.conversations.push({
          proto, a: m[1], b: m[2],
          bFrames: Number(m[3]), bBytes: bytes(m[4], m[5]),
          aFrames: Number(m[6]), aBytes: bytes(m[7], m[8]),
        });
      }
      continue;
    }
    const [dns, sni, host, cid] = line.split('\t');
    if (cid) view.communityIds.add(cid.split(',')[0]);
    if (dns) view.dnsQueries.push(dns.split(',')[0]);
    if (sni) view.sni.push(sni);
    if (host) view.httpHosts.push(host.split(',')[0]);
  }
  return view;
}

/** Runs fn over items with at most `limit` running at once. */
export async function pool<T, R>(items: T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/**
 * tshark's display filter for the frames every shard of `--workers` reads
 * whoever owns their flow: a DNS or LLMNR answer (from the server port), or
 * a DHCP, DHCPv6 or SSDP message that is not mDNS, or IPv6 neighbour
 * discovery; not the copies inside ICMP errors. Use with IP reassembly off,
 * so every fragment stands on its own.
 */
export const SHARED_FACTS_FILTER =
  '(icmpv6.type == 135 || icmpv6.type == 136) || (!icmp && !icmpv6 && ((dns.flags.response == 1 && (udp.srcport == 53 || udp.srcport == 5355 || tcp.srcport == 53)) || ((dhcp || dhcpv6 || ssdp) && !(udp.port == 5353))))';
