// One event as it came off the wire, checked and turned into the rows that
// store it, before anything is written: a refused event (Refusal) never
// reaches the database, so the rest of its batch can be stored.
import type { AlertRecord, DeviceRecord, FlowRecord } from '../../contract/types.js';
import { base64, checkEvent, int, Invalid, num, obj, optStr, str } from './checks.js';

/** A device is known by its MAC, or by its IP when the capture carries no link layer (alerts and flows likewise). */
export function deviceKey(d: DeviceRecord): string | null {
  return d.mac ?? d.ips[0] ?? null;
}

/** A flow event checked and turned into its row. */
export interface FlowRow {
  uid: string;
  /** the flow's first packet time: its day's partition on PostgreSQL */
  ts: number;
  device: string;
  country: string | null;
  dstIp: string;
  srcBytes: number;
  params: unknown[];
}

function flowRow(sensor: string, f: FlowRecord): FlowRow {
  obj(f, 'data');
  const country = optStr(f.dst_country, 'data.dst_country');
  const srcBytes = int(f.src_bytes, 'data.src_bytes');
  const uid = str(f.uid, 'data.uid');
  const dstIp = str(f.dst_ip, 'data.dst_ip');
  const srcMac = optStr(f.src_mac, 'data.src_mac');
  const srcIp = str(f.src_ip, 'data.src_ip');
  const ts = num(f.ts, 'data.ts');
  const params = [sensor, uid, ts, srcMac, srcIp, dstIp, int(f.dst_port, 'data.dst_port'),
    str(f.proto, 'data.proto'), optStr(f.server_name, 'data.server_name'), country, srcBytes, int(f.dst_bytes, 'data.dst_bytes'), JSON.stringify(f)];
  return { uid, ts, device: srcMac ?? srcIp, country, dstIp, srcBytes, params };
}

/** The alerts columns of an alert event, checked. */
export interface AlertColumns {
  id: string;
  ts: number;
  rule: string;
  severity: string;
  device_mac: string | null;
  device_ip: string;
  device_key: string;
  device_profile: string | null;
  dst_country: string | null;
  /** the destination's address and name, which mutes match */
  dst_ip: string | null;
  dst_name: string | null;
  /** the destination's autonomous system and its operator, which the queue filters by */
  dst_asn: number | null;
  dst_as_org: string | null;
  evidence_flows: number;
  record: string;
}

function alertColumns(a: AlertRecord): AlertColumns {
  obj(a, 'data');
  const device = obj(a.device, 'data.device');
  const destination = a.destination === null ? null : obj(a.destination, 'data.destination');
  const evidence = obj(a.evidence, 'data.evidence');
  const deviceMac = optStr(device.mac, 'data.device.mac');
  const deviceIp = str(device.ip, 'data.device.ip');
  return {
    id: str(a.id, 'data.id'),
    ts: num(a.ts, 'data.ts'),
    rule: str(a.rule, 'data.rule'),
    severity: str(a.severity, 'data.severity'),
    device_mac: deviceMac,
    device_ip: deviceIp,
    device_key: deviceMac ?? deviceIp,
    device_profile: optStr(device.profile, 'data.device.profile'),
    dst_country: alertCountry(evidence, destination),
    dst_ip: destination ? optStr(destination.ip, 'data.destination.ip') : null,
    dst_name: destination ? optStr(destination.name, 'data.destination.name') : null,
    dst_asn: destination && destination.asn !== null && destination.asn !== undefined ? int(destination.asn, 'data.destination.asn') : null,
    dst_as_org: destination ? optStr(destination.as_org, 'data.destination.as_org') : null,
    evidence_flows: int(evidence.flows, 'data.evidence.flows'),
    record: JSON.stringify(a),
  };
}

/**
 * The country an alert is filed under (the API's `country` filter, the
 * metrics' label): for a watched-country callback the watched country that
 * made the call, which for an operator or a name is not where the address is
 * hosted; else the destination's country.
 */
function alertCountry(evidence: Record<string, unknown>, destination: Record<string, unknown> | null): string | null {
  const watch = evidence.watch;
  if (watch !== null && typeof watch === 'object' && !Array.isArray(watch)) {
    const country = (watch as Record<string, unknown>).country;
    if (country !== undefined && country !== null) return str(country, 'data.evidence.watch.country');
  }
  return destination ? optStr(destination.country, 'data.destination.country') : null;
}

/** The devices row of a device event, checked: [key, mac, last_seen, vendor_country, record]. */
function deviceParams(d: DeviceRecord): unknown[] {
  obj(d, 'data');
  if (!Array.isArray(d.ips)) throw new Invalid('data.ips must be an array');
  const key = deviceKey(d);
  if (key === null) throw new Invalid('data.mac or data.ips[0] is required: a device needs a MAC or at least one IP');
  return [str(key, 'data.mac'), optStr(d.mac, 'data.mac'), num(d.last_seen, 'data.last_seen'), optStr(d.vendor_country, 'data.vendor_country'), JSON.stringify(d)];
}

/** One event, checked, with what storing it takes. */
export type Prepared = { key: string } & (
  | { kind: 'flow'; flow: FlowRow }
  | { kind: 'alert'; alert: AlertColumns }
  | { kind: 'device'; device: unknown[] }
  | { kind: 'evidence'; evidence: { alertId: string; pcap: Buffer } }
);

/** Checks an event of `sensor`'s batch; throws Refusal (with its code and reason) when the event cannot be stored. */
export function prepare(sensor: string, ev: unknown): Prepared {
  const { kind, key } = checkEvent(ev);
  const data = (ev as { data: unknown }).data;
  switch (kind) {
    case 'flow':
      return { kind, key, flow: flowRow(sensor, data as FlowRecord) };
    case 'alert':
      return { kind, key, alert: alertColumns(data as AlertRecord) };
    case 'device':
      return { kind, key, device: deviceParams(data as DeviceRecord) };
    case 'evidence': {
      const e = obj(data, 'data');
      return { kind, key, evidence: { alertId: str(e.alert_id, 'data.alert_id'), pcap: base64(e.pcap_base64, 'data.pcap_base64') } };
    }
  }
}
