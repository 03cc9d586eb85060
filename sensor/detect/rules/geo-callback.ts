import { BlockList, isIP } from 'node:net';
import type { GeoInfo } from '../../enrich/geoip.js';
import { deviceLabel, destinationOf, type DetectionConfig, type Rule } from '../rule.js';

/** A connection to a watched country, autonomous system or network (the watch list of the detections file). */
export const geoCallback: Rule = {
  id: 'geo-callback',
  summary: 'a device connects to an address in a watched country, autonomous system or network',
  defaults: { enabled: true, severity: 'high', mitre: ['T1071', 'T1041'], params: {} },
  evidence: [],
  create: ({ config, raise }) => {
    const watched = watchList(config);
    return {
      flow(j) {
        const f = j.flow;
        const why = watched(f.dst_ip, j.dst);
        if (!why) return;
        const name = f.server_name;
        raise(j, {
          key: f.dst_ip,
          destination: () => destinationOf(j, name, true),
          message: () => `${deviceLabel(j.device)} connected to ${f.dst_ip}${name ? ` (${name})` : ''} in ${why}`,
          reason: () => why,
        });
      },
    };
  },
};

/** Why an address is watched, in words, or null. */
function watchList(c: DetectionConfig): (ip: string, geo: GeoInfo) => string | null {
  const countries = new Set(c.watchCountries);
  const asns = new Set(c.watchAsns);
  const nets = c.watchNetworks.length ? new BlockList() : null;
  for (const n of c.watchNetworks) {
    const [addr, len] = n.split('/');
    nets!.addSubnet(addr, Number(len), isIP(addr) === 6 ? 'ipv6' : 'ipv4');
  }
  return (ip, geo) => {
    if (geo.country && countries.has(geo.country)) return `${geo.country}, a watched country${geo.asn ? ` (AS${geo.asn} ${geo.as_org ?? ''})`.trimEnd() : ''}`;
    if (geo.asn !== null && asns.has(geo.asn)) return `AS${geo.asn} ${geo.as_org ?? ''}, a watched network`.replace('  ', ' ');
    if (nets?.check(ip, isIP(ip) === 6 ? 'ipv6' : 'ipv4')) return 'a watched network';
    return null;
  };
}
