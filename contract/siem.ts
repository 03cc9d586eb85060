// What phonehome's alerts look like to a SIEM: the same alert as a Suricata
// EVE `alert` record or as an Elastic Common Schema (ECS) document, so the
// rules, dashboards and Community ID joins analysts already have for Suricata
// and Zeek work on phonehome too. One mapping, used by `phonehome analyze
// --format` and by the collector's forwarder alike.
//
// Every string here may have come off the wire (names a device sent, the
// operator of an address, a feed's description): each is cut to a bound, and
// lists and nesting are bounded, so one hostile alert cannot make a record a
// receiver refuses or a line no one can read.
import type { AlertRecord, FlowRecord, Severity, StoredAlert } from './types.js';

export const SIEM_FORMATS = ['eve', 'ecs'] as const;
export type SiemFormat = (typeof SIEM_FORMATS)[number];

/** The ECS release the documents follow. */
export const ECS_VERSION = '8.11.0';

/** Bounds on what one record carries. */
export const SIEM_BOUNDS = { string: 1024, message: 2048, list: 100, depth: 8 } as const;

/** An alert as alerts.jsonl holds it, or as the collector stores it (with its sensor and analyst state). */
export type SiemAlert = AlertRecord & Partial<Pick<StoredAlert, 'sensor' | 'state' | 'received_at' | 'has_pcap'>>;

export interface SiemSource {
  /** who observed the alert: the sensor's name (the collector: the sensor that sent it; analyze: the host) */
  observer: string;
  /** phonehome's version */
  version: string;
  /** the flow of the alert's first evidence uid, when known: its 5-tuple and Community ID */
  flow?: FlowRecord | null;
}

/** Suricata's severity: 1 high, 2 medium, 3 low. */
const EVE_SEVERITY: Record<Severity, number> = { critical: 1, high: 1, medium: 2, low: 3, info: 3 };

/** ECS event.severity: the scale Elastic Security gives rules (21 low, 47 medium, 73 high, 99 critical). */
const ECS_SEVERITY: Record<Severity, number> = { info: 1, low: 21, medium: 47, high: 73, critical: 99 };

const PRIVACY = 'Potential Corporate Privacy Violation';
const BAD = 'Potentially Bad Traffic';
const LEAK = 'Attempted Information Leak';

/** Suricata classtype descriptions by rule; rules not listed are "Potentially Bad Traffic". */
const CATEGORY: Record<string, string> = {
  'undocumented-destination': PRIVACY,
  'geo-callback': PRIVACY,
  'unprofiled-device': PRIVACY,
  'new-behaviour': PRIVACY,
  'direct-ip': PRIVACY,
  'long-connection': PRIVACY,
  'cleartext-credentials': PRIVACY,
  'port-mapping': PRIVACY,
  'inbound-exposure': PRIVACY,
  'abnormal-upload': LEAK,
  'dns-tunnel': LEAK,
  scan: 'Detection of a Network Scan',
  beaconing: BAD,
  strobe: BAD,
  dga: BAD,
  'threat-intel': BAD,
};

/** A string cut to at most `max` UTF-16 units, never inside a surrogate pair. */
export function bound(s: string, max: number = SIEM_BOUNDS.string): string {
  if (s.length <= max) return s;
  // one unit is left for the ellipsis that says the text was cut
  let end = max - 1;
  if (/[\ud800-\udbff]/.test(s[end - 1])) end--;
  return `${s.slice(0, end)}…`;
}

/** A JSON value with every string, list and nesting level bounded. */
export function boundDeep(v: unknown, depth = 0): unknown {
  if (typeof v === 'string') return bound(v);
  if (v === null || typeof v !== 'object') return typeof v === 'number' && !Number.isFinite(v) ? null : v;
  if (depth >= SIEM_BOUNDS.depth) return null;
  if (Array.isArray(v)) return v.slice(0, SIEM_BOUNDS.list).map((x) => boundDeep(x, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v).slice(0, SIEM_BOUNDS.list)) out[bound(k, 128)] = boundDeep(x, depth + 1);
  return out;
}

/** FNV-1a, 32 bits: a stable number from a rule id. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/**
 * The Suricata signature id of a rule: stable for a rule id, in the range
 * Suricata leaves for local rules (1,000,000 to 1,999,999), so it never
 * collides with Emerging Threats or Snort rules.
 */
export function signatureId(rule: string): number {
  return 1_000_000 + (fnv1a(rule) % 1_000_000);
}

/** The signature text of a rule, as EVE's alert.signature and ECS's rule.name give it. */
export const signature = (rule: string): string => `PHONEHOME ${bound(rule, 128)}`;

export const ruleCategory = (rule: string): string => CATEGORY[rule] ?? BAD;

/** Suricata's timestamp: microseconds, UTC written as +0000. */
export function eveTime(ts: number): string {
  const us = Math.round(ts * 1e6);
  const secs = Math.floor(us / 1e6);
  const micros = String(us - secs * 1e6).padStart(6, '0');
  return `${new Date(secs * 1000).toISOString().slice(0, 19)}.${micros}+0000`;
}

const isoTime = (ts: number): string => new Date(Math.round(ts * 1000)).toISOString();

/** EVE's proto: TCP, UDP, ICMP, IPv6-ICMP, else the protocol as given. */
function eveProto(proto: string | null): string | undefined {
  if (proto === null) return undefined;
  if (proto === 'icmp6') return 'IPv6-ICMP';
  return bound(proto.toUpperCase(), 16);
}

/** ECS network.transport: lower case, IANA keywords. */
function ecsTransport(proto: string | null): string | undefined {
  if (proto === null) return undefined;
  return proto === 'icmp6' ? 'ipv6-icmp' : bound(proto.toLowerCase(), 16);
}

/** ECS writes MAC addresses in upper case, separated by hyphens. */
export const ecsMac = (mac: string): string => bound(mac, 64).toUpperCase().replace(/:/g, '-');

/** Source and destination of the records: the flow's own, else the device and the alert's destination. */
interface Tuple {
  srcIp: string;
  srcPort: number | null;
  dstIp: string | null;
  dstPort: number | null;
  proto: string | null;
  communityId: string | null;
}

function tupleOf(a: SiemAlert, flow: FlowRecord | null | undefined): Tuple {
  if (flow) {
    return { srcIp: flow.src_ip, srcPort: flow.src_port, dstIp: flow.dst_ip, dstPort: flow.dst_port, proto: flow.proto, communityId: flow.community_id };
  }
  const d = a.destination;
  return { srcIp: a.device.ip, srcPort: null, dstIp: d?.ip ?? null, dstPort: d?.port ?? null, proto: d?.proto ?? null, communityId: null };
}

/** Techniques and tactics of the alert's ATT&CK tags, each listed once. */
function attack(a: SiemAlert): { ids: string[]; names: string[]; tactics: string[] } {
  const uniq = (xs: string[]) => [...new Set(xs.filter(Boolean).map((x) => bound(x, 128)))].slice(0, SIEM_BOUNDS.list);
  const m = a.mitre ?? [];
  return { ids: uniq(m.map((t) => t.technique)), names: uniq(m.map((t) => t.name)), tactics: uniq(m.map((t) => t.tactic)) };
}

/** The alert itself, bounded: phonehome's own fields in either format. */
const phonehomeFields = (a: SiemAlert): unknown => boundDeep(a);

/** The alert as a Suricata EVE `alert` record, plus its phonehome fields under `phonehome`. */
export function toEve(a: SiemAlert, src: SiemSource): Record<string, unknown> {
  const t = tupleOf(a, src.flow);
  const { ids, tactics } = attack(a);
  const metadata: Record<string, string[]> = {};
  if (ids.length) metadata.mitre_technique_id = ids;
  if (tactics.length) metadata.mitre_tactic_name = tactics;
  return {
    timestamp: eveTime(a.ts),
    event_type: 'alert',
    host: bound(src.observer, 255),
    src_ip: bound(t.srcIp, 64),
    ...(t.srcPort !== null && { src_port: t.srcPort }),
    ...(t.dstIp !== null && { dest_ip: bound(t.dstIp, 64) }),
    ...(t.dstPort !== null && { dest_port: t.dstPort }),
    ...(t.proto !== null && { proto: eveProto(t.proto) }),
    ...(t.communityId && { community_id: bound(t.communityId, 64) }),
    alert: {
      action: 'allowed',
      gid: 1,
      signature_id: signatureId(a.rule),
      rev: 1,
      signature: signature(a.rule),
      category: ruleCategory(a.rule),
      severity: EVE_SEVERITY[a.severity] ?? 3,
      ...(Object.keys(metadata).length && { metadata }),
    },
    phonehome: phonehomeFields(a),
  };
}

/** One side of the connection in ECS, with what the alert knows of it: the device's MAC, the destination's name, AS and country. */
function ecsEndpoint(a: SiemAlert, ip: string | null, port: number | null, mac: string | null): Record<string, unknown> | undefined {
  if (ip === null) return undefined;
  const out: Record<string, unknown> = { ip: bound(ip, 64), ...(port !== null && { port }) };
  if (ip === a.device.ip && (mac ?? a.device.mac)) out.mac = ecsMac((mac ?? a.device.mac)!);
  const d = a.destination;
  if (d && d.ip === ip) {
    if (d.name) out.domain = bound(d.name);
    if (d.asn !== null) out.as = { number: d.asn, ...(d.as_org && { organization: { name: bound(d.as_org) } }) };
    if (d.country) out.geo = { country_iso_code: bound(d.country, 8) };
  }
  return out;
}

function ecsEvent(a: SiemAlert): Record<string, unknown> {
  return {
    kind: 'alert',
    category: ['network', 'intrusion_detection'],
    type: ['info'],
    severity: ECS_SEVERITY[a.severity] ?? 1,
    id: bound(a.id, 256),
    dataset: 'phonehome.alert',
    module: 'phonehome',
    start: isoTime(a.evidence.first_seen),
    end: isoTime(a.evidence.last_seen),
    ...(a.received_at !== undefined && { ingested: isoTime(a.received_at) }),
  };
}

/** The alert as an ECS document, plus its phonehome fields under `phonehome`. */
export function toEcs(a: SiemAlert, src: SiemSource): Record<string, unknown> {
  const t = tupleOf(a, src.flow);
  const { ids, names, tactics } = attack(a);
  const direction = t.srcIp === a.device.ip ? 'outbound' : t.dstIp === a.device.ip ? 'inbound' : undefined;
  const source = ecsEndpoint(a, t.srcIp, t.srcPort, src.flow?.src_mac ?? null);
  const destination = ecsEndpoint(a, t.dstIp, t.dstPort, src.flow?.dst_mac ?? null);
  return {
    '@timestamp': isoTime(a.ts),
    message: bound(a.message, SIEM_BOUNDS.message),
    event: ecsEvent(a),
    rule: { id: bound(a.rule, 128), name: signature(a.rule), category: ruleCategory(a.rule), ruleset: 'phonehome' },
    ...(source && { source }),
    ...(destination && { destination }),
    network: {
      ...(t.communityId && { community_id: bound(t.communityId, 64) }),
      ...(t.proto !== null && { transport: ecsTransport(t.proto) }),
      ...(direction && { direction }),
    },
    observer: { name: bound(src.observer, 255), type: 'sensor', vendor: 'phonehome', product: 'phonehome', version: bound(src.version, 64) },
    ...(ids.length && { threat: { framework: 'MITRE ATT&CK', technique: { id: ids, name: names }, tactic: { name: tactics } } }),
    ecs: { version: ECS_VERSION },
    phonehome: phonehomeFields(a),
  };
}

/** The alert in the format asked for. */
export function toSiem(format: SiemFormat, a: SiemAlert, src: SiemSource): Record<string, unknown> {
  return format === 'eve' ? toEve(a, src) : toEcs(a, src);
}
