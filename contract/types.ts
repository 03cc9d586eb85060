// The wire contract between sensor, output files, collector and dashboards.
// Field names are snake_case because they are read by humans, jq and other
// tools (Zeek/Suricata users) as much as by our own code. Changing a name here
// is a breaking change for users.

/** One bidirectional flow, as written to flows.jsonl. */
export interface FlowRecord {
  uid: string;
  community_id: string | null;
  /** epoch seconds of the first packet */
  ts: number;
  /** seconds between first and last packet */
  duration: number;
  /** tcp, udp, icmp, icmp6, or the IP protocol number as a string */
  proto: string;
  src_ip: string;
  src_port: number;
  dst_ip: string;
  dst_port: number;
  src_mac: string | null;
  dst_mac: string | null;
  src_pkts: number;
  /** frame bytes on the wire, as tshark's conversation statistics count them */
  src_bytes: number;
  dst_pkts: number;
  dst_bytes: number;
  /** Zeek-style connection state: S0, S1, SF, REJ, RSTO, RSTR, SH, OTH */
  state: string;
  /**
   * the first packet seen was not the flow's start (a TCP flow without the
   * initiator's SYN): it began before the capture did, or continues a session
   * that was idle longer than the timeout. Never judged as hard-coded.
   */
  mid_stream: boolean;
  sni: string | null;
  alpn: string[] | null;
  /** TLS client fingerprints of the ClientHello: JA3 (MD5, hex) and FoxIO's JA4 */
  ja3: string | null;
  ja4: string | null;
  /**
   * What the server's certificate showed, when it was sent in cleartext (TLS 1.2 and
   * older); null when it was not seen. Self-signed: the leaf is issued by itself.
   * Expired: its notAfter is before the flow's first packet. Name mismatch: the SNI is
   * not among its names (subjectAltName DNS names, else the subject CN; null without SNI).
   */
  tls_self_signed: boolean | null;
  tls_cert_expired: boolean | null;
  tls_name_mismatch: boolean | null;
  http_host: string | null;
  user_agent: string | null;
  dns_name: string | null;
  /** the first of sni, http_host, dns_name that is set */
  server_name: string | null;
  /** destination country and autonomous system (GeoIP); null for local and special addresses */
  dst_country: string | null;
  dst_asn: number | null;
  /** the organisation that operates the destination's autonomous system */
  dst_as_org: string | null;
  /** why the flow was emitted: idle, closed, evicted, end */
  end_reason: 'idle' | 'closed' | 'evicted' | 'end' | 'reused';
}

export interface DnsAnswer {
  name: string;
  type: string;
  data: string;
  ttl: number;
}

/** One DNS, mDNS or LLMNR message, as written to dns.jsonl. */
export interface DnsRecord {
  ts: number;
  src_ip: string;
  src_mac: string | null;
  dst_ip: string;
  dst_port: number;
  proto: 'dns' | 'mdns' | 'llmnr';
  is_response: boolean;
  id: number;
  rcode: number;
  query: string | null;
  qtype: string | null;
  answers: DnsAnswer[];
}

export interface DeviceDestination {
  ip: string;
  name: string | null;
  /** the destination's country, autonomous system and its operator (GeoIP), as its flows have them */
  country?: string | null;
  asn?: number | null;
  as_org?: string | null;
  ports: number[];
  protos: string[];
  flows: number;
  bytes_out: number;
  bytes_in: number;
  first_seen: number;
  last_seen: number;
}

/**
 * One local host, as written to devices.json, fields in this order (the
 * sensor writes them so; new fields are added after a related one, never
 * reordered): identity (mac, vendor, vendor_country, brand, model,
 * brand_source, module_vendor, role), what it announced, then its traffic.
 */
export interface DeviceRecord {
  /** lower-case colon-separated MAC; null when the link layer carries none (raw IP captures) */
  mac: string | null;
  vendor: string | null;
  /** ISO 3166-1 alpha-2 country of the manufacturer's registered address in the IEEE OUI registry */
  vendor_country: string | null;
  /**
   * The maker whose product it is ("TP-Link", "Philips"), from its own
   * announcements, its clouds or its OUI (sensor/devices/brands.ts);
   * "<platform>-based" ("Tuya-based") when only a white-label platform is
   * known; null when only a module maker (module_vendor) or nothing is.
   * This and the next four fields are absent in records from older sensors.
   */
  brand?: string | null;
  /** the model or product line when the evidence names it ("HS110(EU)", "DCS-935L", "Hue bridge") */
  model?: string | null;
  /** which evidence named the brand: dhcp-hostname, dhcp-vendor-class, mdns, ssdp, user-agent, cloud-name or oui */
  brand_source?: string | null;
  /** the maker of its radio module or network chip (Espressif, Texas Instruments, ...) when its OUI or default host name says so */
  module_vendor?: string | null;
  /** 'gateway': a router that carries local hosts' traffic to the Internet (infrastructure, not judged); 'device' otherwise */
  role?: 'device' | 'gateway';
  ips: string[];
  hostnames: string[];
  dhcp_fingerprint: string | null;
  dhcp_vendor_class: string | null;
  mud_url: string | null;
  ssdp_server: string | null;
  user_agents: string[];
  first_seen: number;
  last_seen: number;
  /** flows this device initiated */
  flows: number;
  /** frame bytes this device sent to external (public) addresses */
  bytes_out: number;
  /** distinct external IPs this device initiated flows to */
  external_destinations: number;
  destinations: DeviceDestination[];
}

export interface FileStats {
  file: string;
  format: string | null;
  linktypes: number[];
  packets: number;
  bytes: number;
  first_ts: number | null;
  last_ts: number | null;
  truncated: boolean;
  /** set when reading stopped early; the message says where and why */
  error: string | null;
  warnings: string[];
}

/** stats.json */
export interface RunStats {
  packets: number;
  bytes: number;
  flows: number;
  dns_messages: number;
  alerts: number;
  devices: number;
  files: FileStats[];
  decode_warnings: Record<string, number>;
  truncated: boolean;
  /** files in a directory argument that were not captures and were skipped */
  skipped_files: string[];
  /** peak resident memory of the process, bytes */
  peak_rss_bytes: number;
}

/** One destination a device profile documents. Exactly one of domain, cidr, asn is set. */
export interface DocumentedDestination {
  /** "*.example.com" matches example.com and every subdomain; otherwise an exact name */
  domain?: string;
  /** an IPv4/IPv6 network or single address ("52.1.2.3", "10.0.0.0/8", "2001:db8::/32") */
  cidr?: string;
  /** autonomous systems: a flow whose dst_asn is one of them (needs an ASN database, --geoip) */
  asn?: number[];
  /** tcp, udp, icmp, icmp6 or an IP protocol number as a string; any when absent */
  proto?: string;
  /** destination ports; any when absent */
  ports?: number[];
  /** free text: where the vendor documents it */
  note?: string;
}

/** A device profile (rules/devices/*.yaml, or converted from an RFC 8520 MUD file). */
export interface DeviceProfile {
  profile: string;
  description?: string;
  /** the device matches when any of these matches */
  match: {
    mac?: string[];
    oui?: string[];
    /** case-insensitive substring of the OUI registry's manufacturer name */
    vendor?: string;
  };
  /** the device announced this MUD URL (DHCP option 161 / DHCPv6 option 112) */
  'mud-url'?: string;
  documented: DocumentedDestination[];
  /** file the profile was loaded from */
  source?: string;
}

export type Severity = 'info' | 'low' | 'medium' | 'high' | 'critical';

export interface MitreTechnique {
  technique: string;
  name: string;
  tactic: string;
}

/** One alert, as written to alerts.jsonl and sent to the collector. */
export interface AlertRecord {
  /** stable: the same input gives the same id */
  id: string;
  /** epoch seconds of the first evidence */
  ts: number;
  /** a rule id of the sensor's registry (lower-case words joined by hyphens); collectors accept ids they do not know yet */
  rule: string;
  severity: Severity;
  message: string;
  device: {
    mac: string | null;
    ip: string;
    vendor: string | null;
    vendor_country: string | null;
    profile: string | null;
  };
  destination: {
    ip: string | null;
    port: number | null;
    proto: string | null;
    name: string | null;
    country: string | null;
    asn: number | null;
    as_org: string | null;
  } | null;
  evidence: {
    first_seen: number;
    last_seen: number;
    flows: number;
    packets: number;
    bytes_out: number;
    bytes_in: number;
    /** uids of the flows (the first 100) */
    uids: string[];
    /** beaconing and strobe only */
    interval_s?: number;
    jitter_s?: number;
    /** beaconing: the RITA score; dga: the mean randomness (0 words to 1 noise) of the names counted */
    score?: number;
    subscores?: { timestamps: number; sizes: number; histogram: number; duration: number };
    connections?: number;
    /** why it fired, in words: the watched country, the profile lines missing, ... */
    reason?: string;
    /** beaconing: the device's profile documents the destination (a documented heartbeat) */
    documented?: boolean;
    /** beaconing: the profile entry that documents it, when documented */
    profile_entry?: DocumentedDestination;
    /** geo-callback: what made the destination watched (each reason seen over the alert's flows) */
    watch?: GeoWatch;
    /** geo-callback: the distinct destination addresses of the alert's flows (the first 100) */
    addresses?: string[];
    /** cleartext-credentials: the distinct credentials the alert's flows sent (the first 16); never a password */
    credentials?: CredentialEvidence[];
    /** port-mapping: the distinct mappings the alert's flows asked for (the first 16) */
    port_mappings?: PortMappingEvidence[];
    /** dns-tunnel: the registered domain (Public Suffix List) whose subdomains were asked for */
    domain?: string;
    /** dns-tunnel: distinct names asked for under it within one window (the most seen) */
    subdomains?: number;
    /** dns-tunnel, dga: names asked for (the first 10), as the DNS messages spelt them */
    names?: string[];
    /** dns-tunnel: the device's questions under the domain within the window, by record type (A, TXT, TYPE10 for NULL, ...) */
    qtypes?: Record<string, number>;
    /** dga: distinct registered domains answered NXDOMAIN that look algorithmic, the most within one window */
    nxdomains?: number;
    /** scan: what was scanned and how much (counts cover the alert, not only the window that raised it) */
    scan?: ScanEvidence;
    /** inbound-exposure: the device's port an Internet host connected to, and who did */
    inbound?: InboundEvidence;
    /** long-connection: the longest connection of the alert */
    connection?: ConnectionEvidence;
    /** new-behaviour: what is new for the device, and what its baseline held */
    novelty?: Novelty;
    /** abnormal-upload: the most unusual window of the alert, and the history it was judged against */
    upload?: UploadWindow;
    /** threat-intel: the feed indicator the alert's flows matched */
    intel?: IntelMatch;
    /** evidence capture file name, with --evidence */
    pcap?: string;
    /** what the evidence capture lacks of the flows counted above, and why; absent when it holds every packet of every flow (or no capture was cut) */
    pcap_missing?: PcapMissing;
  };
  mitre: MitreTechnique[];
}

/**
 * Why an evidence capture lacks packets its alert counts:
 * alert-flows / series-flows: the alert (or its device-destination series) keeps its first 2,000 flows;
 * run-flows / run-series-flows: the run keeps 200,000 flows over all alerts (100,000 over all series);
 * size: the capture reached its size bound (analyze 64 MiB, the sensor 5 MiB);
 * link-type: packets seen on an interface of another link type than the capture's first packet;
 * not-found: packets not in the files read again (removed or rotated since they were analysed).
 */
export type PcapMissingCause = 'alert-flows' | 'series-flows' | 'run-flows' | 'run-series-flows' | 'size' | 'link-type' | 'not-found' | 'no-space';

/** What an alert's evidence capture does not hold: `evidence.packets - packets` is what it holds. */
export interface PcapMissing {
  /** flows counted in the evidence with some or all of their packets not in the capture */
  flows: number;
  /** packets counted in the evidence that are not in the capture */
  packets: number;
  causes: PcapMissingCause[];
  /** the same, in words */
  reason: string;
  /** uids of flows kept only in part (the first 100); flows not kept at all are those counted after the kept ones */
  partial: string[];
}

/** Credentials a device sent in clear: that a password was sent and its length, never the password. */
export interface CredentialEvidence {
  protocol: 'telnet' | 'ftp' | 'http-basic' | 'http-digest' | 'mqtt';
  /** the user name as sent (non-printable bytes escaped); null when none was sent, or rules.cleartext-credentials.show_user is false */
  user: string | null;
  /** a password was sent (HTTP Digest: a hash of one) */
  password: boolean;
  /** its length in bytes (Telnet: characters typed); null when unknown or not sent in clear */
  password_length: number | null;
}

/** A port a device asked the gateway to forward to a local host. */
export interface PortMappingEvidence {
  method: 'upnp' | 'nat-pmp' | 'pcp';
  /** 'tcp', 'udp', 'all' (PCP protocol 0), or what the request named (escaped) */
  protocol: string | null;
  /** the external port asked for; 0: any the gateway chooses */
  external_port: number | null;
  /** the local host the port should reach, as the request named it */
  internal_client: string | null;
  internal_port: number | null;
  /** lifetime asked for, in seconds (UPnP: 0 asks for a mapping without expiry) */
  lease_s: number | null;
  /** UPnP's NewPortMappingDescription (escaped, at most 64 characters) */
  description: string | null;
}

/** A scan: many hosts on one port (kind hosts) or many ports of one host (kind ports). */
export interface ScanEvidence {
  kind: 'hosts' | 'ports';
  /** hosts: the port scanned and its protocol; ports: null */
  port: number | null;
  proto: string | null;
  /** ports: the host scanned; hosts: null */
  host: string | null;
  /** distinct hosts (kind hosts) or protocol/ports (kind ports) reached */
  targets: number;
  /** targets is an estimate (past the exact count's bound: a very large scan) */
  estimated: boolean;
  /** connection attempts counted, and how many of them failed (TCP S0 or REJ, UDP unanswered) */
  attempts: number;
  failed: number;
  /** the sliding window the threshold must be reached in */
  window_s: number;
  /** the threshold reached: rules.scan.min_hosts or min_ports */
  threshold: number;
  /** the first targets reached (addresses, or proto/port), at most 10 */
  sample: string[];
  /** the port scanned is Telnet's (23, 2323 by default), as Mirai-style bots scan */
  telnet: boolean;
}

/** A connection an Internet host opened to a local device, and the device accepted. */
export interface InboundEvidence {
  /** the device's port and protocol the remote hosts connected to */
  local_port: number;
  proto: string;
  /** the distinct remote hosts of the alert's connections (the first 20), with their country and AS */
  remotes: { ip: string; country: string | null; asn: number | null; as_org: string | null }[];
  /** distinct remote hosts counted (exactly up to 10,000, estimated past it) */
  remote_count: number;
}

/** One connection kept open a long time (pieces of a TCP session split by idle spells joined). */
export interface ConnectionEvidence {
  /** seconds between its first and its last packet */
  duration_s: number;
  /** epoch seconds of its first packet */
  started: number;
  /** bytes the device sent and received over the whole connection */
  bytes_out: number;
  bytes_in: number;
  /** flow records it spans: more than one when the TCP session went idle past the timeout and resumed */
  pieces: number;
}

/** What new-behaviour found new for a device. */
export interface Novelty {
  /** country, asn (AS1234), port (tcp/23, udp/49152-65535 for the dynamic range, or a protocol alone) or ja4 (the fingerprint) */
  kind: string;
  /** the new values the alert's flows used (the first 50) */
  values: string[];
  /** what the device's baseline held of that kind, sorted (the first 50) */
  baseline: string[];
  baseline_size: number;
  /** capture time the device's learning began and ended (epoch seconds) */
  learnt_from: number;
  learnt_until: number;
}

/** The upload window abnormal-upload judged. */
export interface UploadWindow {
  /** capture time (epoch seconds) */
  window_start: number;
  window_end: number;
  /** bytes the device sent to the Internet in the window (flows that began in it) */
  bytes: number;
  /** median and median absolute deviation of its earlier windows' bytes */
  median: number;
  mad: number;
  /** robust z-score: 0.6745 (bytes - median) / max(MAD, 5 % of the median) */
  z: number;
  /** the floor in bytes the window also had to reach */
  floor: number;
  /** earlier windows the median and MAD are over */
  windows: number;
}

/** Why geo-callback watched a destination. */
export interface GeoWatch {
  /**
   * what made the call: the address's country, the operator (its AS is
   * listed in watch.organisations), a watched AS, a watched network, the
   * destination's name (a watched country's ccTLD or a watched suffix)
   */
  by: ('country' | 'operator' | 'asn' | 'network' | 'name')[];
  /** the watched country it concerns: where the address is, where the operator is headquartered, or whose ccTLD the name is under */
  country: string | null;
  /** the watched operator, as watch.organisations names it */
  operator: string | null;
  /** the AS number that matched (an operator's or a watched one) */
  asn: number | null;
  /** the watched name: the SNI, HTTP Host or DNS name under a watched suffix */
  name: string | null;
}

/** An indicator of a threat-intel feed (--intel) that a flow matched. */
export interface IntelMatch {
  /** the indicator, normalised: an address, a network (its first address/prefix length), a domain (lower-case ASCII), a JA4 fingerprint */
  indicator: string;
  /** addr: one address; subnet: a network (CIDR); domain: a name and every name under it; ja4: a TLS client fingerprint */
  type: 'addr' | 'subnet' | 'domain' | 'ja4';
  /** the feed's name: its file name */
  feed: string;
  /** the source the feed gives for the indicator (Zeek meta.source, a CSV source column) */
  source: string | null;
  /** what the feed says of it (Zeek meta.desc; a CSV malware, threat or description column) */
  description: string | null;
  /** what of the flow matched: the destination address, a server name or the JA4 */
  seen: string;
  /** where in the flow it was: dst_ip, sni, http_host, dns_name (the name DNS gave for the address), ja4 */
  where: 'dst_ip' | 'sni' | 'http_host' | 'dns_name' | 'ja4';
}

/** One event a sensor sends. `key` makes delivery idempotent: the collector stores each key once per sensor. */
export type IngestEvent =
  | { kind: 'flow'; key: string; data: FlowRecord }
  | { kind: 'alert'; key: string; data: AlertRecord }
  | { kind: 'device'; key: string; data: DeviceRecord }
  | { kind: 'evidence'; key: string; data: { alert_id: string; pcap_base64: string } };

/** POST /api/v1/events body. */
export interface IngestBatch {
  /** sensor's own id for the batch (logged; events carry their own keys) */
  batch_id: string;
  sensor: {
    name: string;
    version: string;
    /** seconds the sensor is behind the packets it reads (capture time vs wall clock) */
    lag_s: number | null;
  };
  events: IngestEvent[];
}

/**
 * Request headers of POST /api/v1/events: what waits in the sensor's spool
 * as the batch is sent (that batch included), a whole number each. The body
 * was written when the batch was queued, so it cannot say this.
 */
export const SPOOL_HEADERS = { batches: 'phonehome-spool-batches', bytes: 'phonehome-spool-bytes' } as const;

/**
 * Why the collector refused one event of a batch (stable, lower_snake):
 * invalid_event (a field is missing or of the wrong type or value),
 * unknown_kind, too_deep (JSON nested beyond the bound), too_large (a
 * string, list or object beyond its bound), not_owner (an alert id, or its
 * evidence, that another sensor stored first). Collectors may add codes:
 * treat an unknown one as a refusal.
 */
export type RefusalCode = 'invalid_event' | 'unknown_kind' | 'too_deep' | 'too_large' | 'not_owner';

/** One event of a batch the collector did not store, and why. */
export interface RefusedEvent {
  /** its position in the batch's events, from 0 */
  index: number;
  /** its key, or null when it had none (or not a string) */
  key: string | null;
  code: RefusalCode | (string & {});
  /** for people: the field path and what was expected there */
  reason: string;
}

/**
 * POST /api/v1/events answer (HTTP 200): the good events of the batch are
 * stored (`accepted`, or `duplicates` when their key was stored before);
 * each refused event is listed and kept by the collector as a dead letter.
 */
export interface IngestResult {
  accepted: number;
  duplicates: number;
  refused: RefusedEvent[];
}

/** A refused event as the collector keeps it (GET /api/v1/dead-letters). */
export interface DeadLetter {
  id: string;
  /** the sensor whose token delivered it */
  sensor: string;
  key: string | null;
  kind: string | null;
  code: RefusalCode | (string & {});
  reason: string;
  /** the event as JSON text, cut after 16 KiB (then `truncated` is true) */
  event: string;
  truncated: boolean;
  /** epoch seconds */
  received_at: number;
}

/** Analyst-side state of an alert, kept by the collector. */
export interface AlertState {
  status: 'open' | 'acknowledged' | 'resolved';
  note: string | null;
  updated_by: string | null;
  updated_at: number | null;
}

export interface StoredAlert extends AlertRecord {
  sensor: string;
  state: AlertState;
  received_at: number;
  has_pcap: boolean;
}

export interface SensorStatus {
  name: string;
  version: string;
  last_seen: number;
  lag_s: number | null;
  /** what waited in its spool when its last batch came; null until a sensor reports it */
  spool_batches: number | null;
  spool_bytes: number | null;
  events: number;
}
