import type { DeviceRecord, FlowRecord } from '../../contract/types.js';
import type { DeviceFacts } from '../devices/inventory.js';
import type { AppFacts } from '../flows/app.js';
import type { FlowExtras } from '../flows/extras.js';
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
  /** what its payloads showed for detection (DNS questions, ...) */
  app: AppFacts | null;
  /** an Internet host opened it to a local one: that local device */
  responder: DeviceFacts | null;
  /** an Internet host opened it to a local one: that host's country, AS and operator */
  src: GeoInfo | null;
}

const NO_EXTRAS: FlowExtras = { app: null, responder: null };

/** Adds the destination's country, autonomous system and its operator to the record; local addresses have none. */
export function enrichFlow(rec: FlowRecord, device: DeviceFacts | null, resolved: boolean, geo: GeoIp, ends: FlowEnds = endsOf(rec), more: FlowExtras = NO_EXTRAS): EnrichedFlow {
  const { app, responder } = more;
  // Only an inbound flow's source is looked up: the rules judging inbound sessions name where they came from.
  const src = ends.dstLocal && !ends.srcLocal ? geo.lookup(rec.src_ip) : null;
  if (ends.dstLocal) return { rec, device, resolved, dst: null, ends, app, responder, src };
  const dst = geo.lookup(rec.dst_ip);
  rec.dst_country = dst.country;
  rec.dst_asn = dst.asn;
  rec.dst_as_org = dst.as_org;
  return { rec, device, resolved, dst, ends, app, responder, src };
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
