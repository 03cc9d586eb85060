import type { DeviceRecord, FlowRecord } from '../../contract/types.js';
import type { DeviceFacts } from '../devices/inventory.js';
import { endsOf, type FlowEnds } from '../flows/locality.js';
import type { GeoIp, GeoInfo } from './geoip.js';

/**
 * An ended flow as detection sees it: the record, the local host that opened
 * it, and what enrichment learnt of its destination, looked up once here.
 */
export interface EnrichedFlow {
  rec: FlowRecord;
  /** the local host that initiated the flow; null when none did */
  device: DeviceFacts | null;
  /** DNS gave that host the destination before the flow began */
  resolved: boolean;
  /** country, AS and operator of the destination; null for local and special addresses */
  dst: GeoInfo | null;
  /** which ends are on the monitored network */
  ends: FlowEnds;
}

/** Adds the destination's country, autonomous system and its operator to the record; local addresses have none. */
export function enrichFlow(rec: FlowRecord, device: DeviceFacts | null, resolved: boolean, geo: GeoIp, ends: FlowEnds = endsOf(rec)): EnrichedFlow {
  if (ends.dstLocal) return { rec, device, resolved, dst: null, ends };
  const dst = geo.lookup(rec.dst_ip);
  rec.dst_country = dst.country;
  rec.dst_asn = dst.asn;
  rec.dst_as_org = dst.as_org;
  return { rec, device, resolved, dst, ends };
}

/** Each device's destinations (devices.json) with the country, AS and operator their flows have. */
export function enrichDevices(devices: DeviceRecord[], geo: GeoIp): DeviceRecord[] {
  for (const d of devices) {
    d.destinations = d.destinations.map(({ ip, name, ...rest }) => {
      const g = geo.lookup(ip);
      return { ip, name, country: g.country, asn: g.asn, as_org: g.as_org, ...rest };
    });
  }
  return devices;
}
