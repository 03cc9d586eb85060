import type { FlowRecord, IntelMatch } from '../../../contract/types.js';
import type { IntelFeeds, IntelHit } from '../../enrich/intel.js';
import { deviceLabel, destinationOf, type JudgedFlow, type Rule } from '../rule.js';

/**
 * A connection to an address, network or domain (its SNI, HTTP Host or the
 * name DNS gave for the address) listed in a threat-intel feed (--intel),
 * or with a listed JA4 TLS client fingerprint. One alert per device and
 * indicator, naming the feed, the indicator and what the feed says of it.
 * Without a feed the rule does nothing.
 */
export const threatIntel: Rule = {
  id: 'threat-intel',
  summary: 'a device connects to an address, network, domain or TLS fingerprint (JA4) listed in a threat-intel feed (--intel)',
  defaults: { enabled: true, severity: 'high', mitre: ['T1071'], params: {} },
  evidence: ['intel'],
  create: ({ intel, raise }) => {
    if (intel.files.length === 0) return {};
    return {
      flow(j) {
        const m = match(intel, j.flow);
        if (m) alert(j, m);
      },
    };
    function alert(j: JudgedFlow, m: IntelMatch): void {
      const f = j.flow;
      const name = f.server_name;
      const what = `${m.type === 'subnet' ? 'network' : m.type === 'addr' ? 'address' : m.type === 'ja4' ? 'JA4 fingerprint' : 'domain'} ${m.indicator}`;
      raise(j, {
        key: `${m.type}:${m.indicator}`,
        destination: () => destinationOf(j, name, true),
        message: () => `${deviceLabel(j.device)} connected to ${name ? `${name} (${f.dst_ip})` : f.dst_ip}:${f.dst_port}/${f.proto}: ${what} is listed in threat-intel feed ${m.feed}${m.description ? ` (${m.description})` : ''}`,
        reason: () => `${WHERE[m.where]} ${m.seen} matches ${what} of feed ${m.feed}${m.source ? ` (source: ${m.source})` : ''}`,
        evidence: (e) => void (e.intel ??= m),
      });
    }
  },
};

const WHERE: Record<IntelMatch['where'], string> = { dst_ip: 'destination address', sni: 'TLS server name', http_host: 'HTTP Host', dns_name: 'DNS name', ja4: 'TLS client fingerprint (JA4)' };

const toMatch = (h: IntelHit, seen: string, where: IntelMatch['where']): IntelMatch => ({
  indicator: h.indicator, type: h.type, feed: h.feed, source: h.origin.source, description: h.origin.description, seen, where,
});

/**
 * What of the flow a feed lists, the most telling first: its exact address,
 * a listed domain its names are (or are under), a listed network its address
 * is in, its JA4.
 */
export function match(intel: IntelFeeds, f: FlowRecord): IntelMatch | null {
  const byAddress = intel.address(f.dst_ip);
  if (byAddress?.type === 'addr') return toMatch(byAddress, f.dst_ip, 'dst_ip');
  for (const where of ['sni', 'http_host', 'dns_name'] as const) {
    const n = f[where];
    const h = n === null ? null : intel.name(n);
    if (h) return toMatch(h, n!, where);
  }
  if (byAddress) return toMatch(byAddress, f.dst_ip, 'dst_ip');
  const ja4 = f.ja4;
  const h = ja4 ? intel.ja4(ja4) : null;
  return h ? toMatch(h, ja4!, 'ja4') : null;
}
