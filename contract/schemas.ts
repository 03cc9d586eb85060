// JSON schemas of the wire contract, used by the collector (Ajv, without type
// coercion) to check what sensors send: the batch's envelope at the route,
// then each event on its own. A test checks them against records the sensor
// really produces, so they cannot drift from contract/types.ts unnoticed.

const str = { type: 'string', maxLength: 4096 } as const;
const nstr = { type: ['string', 'null'], maxLength: 4096 } as const;
const num = { type: 'number' } as const;
const nnum = { type: ['number', 'null'] } as const;
const nbool = { type: ['boolean', 'null'] } as const;
const port = { type: 'integer', minimum: 0, maximum: 65535 } as const;
/** Rule ids: lower-case words joined by hyphens (geo-callback, direct-ip). */
export const RULE_ID_PATTERN = '^[a-z][a-z0-9]*(-[a-z0-9]+)*$';

export const flowSchema = {
  type: 'object',
  required: ['uid', 'ts', 'duration', 'proto', 'src_ip', 'src_port', 'dst_ip', 'dst_port', 'src_pkts', 'src_bytes', 'dst_pkts', 'dst_bytes', 'state'],
  properties: {
    uid: { type: 'string', minLength: 1, maxLength: 64 },
    community_id: nstr,
    ts: num,
    duration: { type: 'number', minimum: 0 },
    proto: { type: 'string', maxLength: 8 },
    src_ip: { type: 'string', maxLength: 64 },
    src_port: port,
    dst_ip: { type: 'string', maxLength: 64 },
    dst_port: port,
    src_mac: nstr,
    dst_mac: nstr,
    src_pkts: { type: 'integer', minimum: 0 },
    src_bytes: { type: 'integer', minimum: 0 },
    dst_pkts: { type: 'integer', minimum: 0 },
    dst_bytes: { type: 'integer', minimum: 0 },
    state: { type: 'string', maxLength: 8 },
    mid_stream: { type: 'boolean' },
    sni: nstr,
    alpn: { type: ['array', 'null'], items: str, maxItems: 32 },
    ja3: { type: ['string', 'null'], maxLength: 32 },
    ja4: { type: ['string', 'null'], maxLength: 64 },
    tls_self_signed: nbool,
    tls_cert_expired: nbool,
    tls_name_mismatch: nbool,
    http_host: nstr,
    user_agent: nstr,
    dns_name: nstr,
    server_name: nstr,
    dst_country: nstr,
    dst_asn: nnum,
    dst_as_org: nstr,
    end_reason: str,
  },
} as const;

const destinationSchema = {
  type: ['object', 'null'],
  properties: { ip: nstr, port: nnum, proto: nstr, name: nstr, country: nstr, asn: nnum, as_org: nstr },
} as const;

export const alertSchema = {
  type: 'object',
  required: ['id', 'ts', 'rule', 'severity', 'message', 'device', 'destination', 'evidence', 'mitre'],
  properties: {
    id: { type: 'string', minLength: 1, maxLength: 64 },
    ts: num,
    // Any id of the form the sensor's rule registry uses: a collector takes alerts of rules newer than itself.
    rule: { type: 'string', pattern: RULE_ID_PATTERN, maxLength: 64 },
    severity: { enum: ['info', 'low', 'medium', 'high', 'critical'] },
    message: str,
    device: {
      type: 'object',
      required: ['mac', 'ip'],
      properties: { mac: nstr, ip: str, vendor: nstr, vendor_country: nstr, profile: nstr },
    },
    destination: destinationSchema,
    evidence: {
      type: 'object',
      required: ['first_seen', 'last_seen', 'flows', 'packets', 'bytes_out', 'bytes_in', 'uids'],
      properties: {
        first_seen: num, last_seen: num,
        flows: { type: 'integer', minimum: 0 }, packets: { type: 'integer', minimum: 0 },
        bytes_out: { type: 'integer', minimum: 0 }, bytes_in: { type: 'integer', minimum: 0 },
        uids: { type: 'array', items: str, maxItems: 1000 },
        interval_s: num, jitter_s: num, score: num, connections: num, reason: str, pcap: str,
        pcap_missing: {
          type: 'object',
          required: ['flows', 'packets', 'causes', 'reason'],
          properties: {
            flows: { type: 'integer', minimum: 0 }, packets: { type: 'integer', minimum: 0 },
            causes: { type: 'array', maxItems: 8, items: { enum: ['alert-flows', 'series-flows', 'run-flows', 'run-series-flows', 'size', 'link-type', 'not-found', 'no-space'] } },
            reason: { type: 'string', maxLength: 2048 },
            partial: { type: 'array', items: { type: 'string', maxLength: 64 }, maxItems: 100 },
          },
        },
        subscores: { type: 'object', additionalProperties: num },
        watch: {
          type: 'object',
          required: ['by'],
          properties: {
            by: { type: 'array', maxItems: 8, items: { enum: ['country', 'operator', 'asn', 'network', 'name'] } },
            country: nstr, operator: nstr, asn: nnum, name: nstr,
          },
        },
        addresses: { type: 'array', items: { type: 'string', maxLength: 64 }, maxItems: 1000 },
        credentials: {
          type: 'array', maxItems: 16,
          items: {
            type: 'object',
            required: ['protocol', 'password'],
            properties: { protocol: { enum: ['telnet', 'ftp', 'http-basic', 'http-digest', 'mqtt'] }, user: nstr, password: { type: 'boolean' }, password_length: nnum },
          },
        },
        port_mappings: {
          type: 'array', maxItems: 16,
          items: {
            type: 'object',
            required: ['method'],
            properties: { method: { enum: ['upnp', 'nat-pmp', 'pcp'] }, protocol: nstr, external_port: nnum, internal_client: nstr, internal_port: nnum, lease_s: nnum, description: nstr },
          },
        },
        domain: { type: 'string', maxLength: 255 },
        subdomains: { type: 'integer', minimum: 0 },
        names: { type: 'array', items: { type: 'string', maxLength: 255 }, maxItems: 100 },
        qtypes: { type: 'object', maxProperties: 64, additionalProperties: { type: 'integer', minimum: 0 } },
        nxdomains: { type: 'integer', minimum: 0 },
        scan: {
          type: 'object',
          required: ['kind', 'targets', 'attempts'],
          properties: {
            kind: { enum: ['hosts', 'ports'] }, port: { type: ['integer', 'null'], minimum: 0, maximum: 65535 }, proto: nstr, host: nstr,
            targets: { type: 'integer', minimum: 0 }, estimated: { type: 'boolean' }, attempts: { type: 'integer', minimum: 0 }, failed: { type: 'integer', minimum: 0 },
            window_s: num, threshold: num, sample: { type: 'array', items: { type: 'string', maxLength: 64 }, maxItems: 100 }, telnet: { type: 'boolean' },
          },
        },
        inbound: {
          type: 'object',
          required: ['local_port', 'proto', 'remotes'],
          properties: {
            local_port: port, proto: str, remote_count: { type: 'integer', minimum: 0 },
            remotes: {
              type: 'array', maxItems: 100,
              items: { type: 'object', required: ['ip'], properties: { ip: { type: 'string', maxLength: 64 }, country: nstr, asn: nnum, as_org: nstr } },
            },
          },
        },
        connection: {
          type: 'object',
          required: ['duration_s', 'started'],
          properties: { duration_s: { type: 'number', minimum: 0 }, started: num, bytes_out: { type: 'integer', minimum: 0 }, bytes_in: { type: 'integer', minimum: 0 }, pieces: { type: 'integer', minimum: 1 } },
        },
        novelty: {
          type: 'object',
          required: ['kind', 'values', 'baseline'],
          properties: {
            kind: { type: 'string', maxLength: 32 },
            values: { type: 'array', items: { type: 'string', maxLength: 128 }, maxItems: 100 },
            baseline: { type: 'array', items: { type: 'string', maxLength: 128 }, maxItems: 100 },
            baseline_size: { type: 'integer', minimum: 0 }, learnt_from: num, learnt_until: num,
          },
        },
        upload: {
          type: 'object',
          required: ['window_start', 'window_end', 'bytes', 'median', 'mad', 'z'],
          properties: { window_start: num, window_end: num, bytes: { type: 'number', minimum: 0 }, median: num, mad: num, z: num, floor: num, windows: { type: 'integer', minimum: 0 } },
        },
        intel: {
          type: 'object',
          required: ['indicator', 'type', 'feed', 'seen', 'where'],
          properties: {
            indicator: { type: 'string', maxLength: 512 },
            type: { enum: ['addr', 'subnet', 'domain', 'ja4'] },
            feed: { type: 'string', maxLength: 512 },
            source: { type: ['string', 'null'], maxLength: 512 },
            description: { type: ['string', 'null'], maxLength: 1024 },
            seen: { type: 'string', maxLength: 512 },
            where: { enum: ['dst_ip', 'sni', 'http_host', 'dns_name', 'ja4'] },
          },
        },
      },
    },
    mitre: {
      type: 'array', maxItems: 16,
      items: { type: 'object', required: ['technique'], properties: { technique: str, name: str, tactic: str } },
    },
  },
} as const;

export const deviceSchema = {
  type: 'object',
  required: ['mac', 'ips', 'first_seen', 'last_seen'],
  properties: {
    mac: nstr,
    vendor: nstr,
    vendor_country: nstr,
    brand: nstr,
    model: nstr,
    brand_source: nstr,
    module_vendor: nstr,
    role: { enum: ['device', 'gateway'] },
    ips: { type: 'array', items: str, maxItems: 64 },
    hostnames: { type: 'array', items: str, maxItems: 64 },
    dhcp_fingerprint: nstr,
    dhcp_vendor_class: nstr,
    mud_url: nstr,
    ssdp_server: nstr,
    user_agents: { type: 'array', items: str, maxItems: 64 },
    first_seen: num,
    last_seen: num,
    flows: { type: 'integer', minimum: 0 },
    bytes_out: { type: 'integer', minimum: 0 },
    external_destinations: { type: 'integer', minimum: 0 },
    destinations: { type: 'array', maxItems: 10000, items: { type: 'object' } },
  },
} as const;

const event = (kind: string, data: object) => ({
  type: 'object',
  required: ['kind', 'key', 'data'],
  additionalProperties: false,
  properties: { kind: { const: kind }, key: { type: 'string', minLength: 1, maxLength: 200 }, data },
});

/** One event of each kind, as the collector checks it on its own (a bad event does not refuse its batch). */
export const eventSchemas = {
  flow: event('flow', flowSchema),
  alert: event('alert', alertSchema),
  device: event('device', deviceSchema),
  evidence: event('evidence', {
    type: 'object',
    required: ['alert_id', 'pcap_base64'],
    properties: { alert_id: { type: 'string', minLength: 1, maxLength: 64 }, pcap_base64: { type: 'string', maxLength: 16 * 1024 * 1024 } },
  }),
} as const;

const envelopeProperties = {
  batch_id: { type: 'string', minLength: 1, maxLength: 200 },
  sensor: {
    type: 'object',
    required: ['name', 'version'],
    properties: { name: { type: 'string', minLength: 1, maxLength: 200 }, version: { type: 'string', maxLength: 100 }, lag_s: nnum },
  },
} as const;

/**
 * What the collector's route checks before anything is stored: the batch
 * itself (a batch id, the sensor, a list of at most 10,000 events). Each
 * event is then checked against eventSchemas by the store, and refused on
 * its own.
 */
export const ingestEnvelopeSchema = {
  type: 'object',
  required: ['batch_id', 'sensor', 'events'],
  additionalProperties: false,
  properties: { ...envelopeProperties, events: { type: 'array', maxItems: 10000 } },
} as const;

/** A batch every event of which the collector stores: the envelope, and each event of one of the kinds. */
export const ingestBatchSchema = {
  ...ingestEnvelopeSchema,
  properties: { ...envelopeProperties, events: { type: 'array', maxItems: 10000, items: { oneOf: Object.values(eventSchemas) } } },
} as const;
