import type { FlowRecord } from '../../contract/types.js';
import { isSpecialIp } from '../util/addr.js';
import type { GeoIp } from './geoip.js';

/** Adds the destination's country and autonomous system; local and special addresses have none. */
export function enrichFlow(r: FlowRecord, geo: GeoIp): void {
  if (isSpecialIp(r.dst_ip)) return;
  const g = geo.lookup(r.dst_ip);
  r.dst_country = g.country;
  r.dst_asn = g.asn;
}
