// The wire contract's JSON schemas, checked with Ajv (the validator the
// collector's Fastify uses), against what the sensor really writes: every
// flow, alert and device of `phonehome analyze` on the bundled captures is
// accepted, and records broken in one way each (wrong type, bad rule id,
// oversize string or list, missing field) are refused at that field.
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import { beforeAll, describe, expect, it } from 'vitest';
import { alertSchema, deviceSchema, eventSchemas, flowSchema, ingestBatchSchema, ingestEnvelopeSchema, RULE_ID_PATTERN } from '../../contract/schemas.js';
import type { AlertRecord, DeviceRecord, FlowRecord, IngestEvent } from '../../contract/types.js';
import { phonehome } from '../helpers/cli.js';
import { FIXTURES } from '../helpers/corpus.js';
import { ROOT } from '../helpers/repo.js';

const tmp = mkdtempSync(join(tmpdir(), 'phonehome-schemas-'));
const ajv = new Ajv({ strict: true, allErrors: true });
const validate: Record<'flow' | 'alert' | 'device' | 'batch' | 'envelope' | 'event', ValidateFunction> = {
  flow: ajv.compile(flowSchema),
  alert: ajv.compile(alertSchema),
  device: ajv.compile(deviceSchema),
  batch: ajv.compile(ingestBatchSchema),
  envelope: ajv.compile(ingestEnvelopeSchema),
  // The collector checks each event against the schema of its kind.
  event: ajv.compile({ oneOf: Object.values(eventSchemas) }),
};

let flows: FlowRecord[] = [];
let alerts: AlertRecord[] = [];
let devices: DeviceRecord[] = [];
let evidence: { alert_id: string; pcap_base64: string }[] = [];

const lines = (f: string) => readFileSync(f, 'utf8').split('\n').filter(Boolean);

beforeAll(() => {
  const out = join(tmp, 'out');
  const ev = join(out, 'evidence');
  const r = phonehome(['analyze', FIXTURES, '--out', out, '--evidence', ev, '--watch-countries', 'US,IE,DE,NL,GB,CN']);
  expect(r.code, r.stderr).toBe(0);
  flows = lines(join(out, 'flows.jsonl')).map((l) => JSON.parse(l));
  alerts = lines(join(out, 'alerts.jsonl')).map((l) => JSON.parse(l));
  devices = JSON.parse(readFileSync(join(out, 'devices.json'), 'utf8'));
  evidence = readdirSync(ev).map((f) => ({ alert_id: f.replace(/\.pcap$/, ''), pcap_base64: readFileSync(join(ev, f)).toString('base64') }));
}, 120_000);

/** Whether `v` refuses `x` (a plain boolean: no type narrowing of the records). */
const fails = (v: ValidateFunction, x: unknown): boolean => !v(x);

/** Ajv's complaints as "path: message", for failure messages. */
const why = (v: ValidateFunction) => (v.errors ?? []).map((e) => `${e.instancePath || '/'}: ${e.message}`);

/** A deep copy of `rec` changed by `edit`. */
function broken<T>(rec: T, edit: (r: Record<string, any>) => void): T {
  const c = structuredClone(rec) as Record<string, any>;
  edit(c);
  return c as T;
}

/** `v` refuses `rec`, and names `path` among its reasons. */
function refuses(v: ValidateFunction, rec: unknown, path: string, what: string) {
  expect(v(rec), what).toBe(false);
  expect(v.errors!.map((e) => e.instancePath), `${what}: ${why(v).join('; ')}`).toContain(path);
}

describe('the validator', () => {
  it('ajv resolves from node_modules (as Fastify loads it) and every schema is valid draft-07 in strict mode', () => {
    expect(createRequire(join(ROOT, 'package.json')).resolve('ajv')).toContain(join(ROOT, 'node_modules'));
    for (const s of [flowSchema, alertSchema, deviceSchema, ingestBatchSchema, ingestEnvelopeSchema, ...Object.values(eventSchemas)]) expect(ajv.validateSchema(s), JSON.stringify(ajv.errors)).toBe(true);
  });
});

describe('real records are accepted', () => {
  it('every flow line of a run over the bundled captures', () => {
    expect(flows.length).toBeGreaterThan(400);
    // the records cover nullable and optional fields both ways
    expect(flows.some((f) => f.sni !== null) && flows.some((f) => f.sni === null)).toBe(true);
    expect(flows.some((f) => f.dst_country !== null) && flows.some((f) => f.http_host !== null)).toBe(true);
    expect(flows.some((f) => f.ja4 !== null && f.tls_self_signed !== null) && flows.some((f) => f.ja3 === null)).toBe(true);
    expect(new Set(flows.map((f) => f.proto))).toEqual(new Set(['tcp', 'udp', 'icmp', '2', 'icmp6']));
    const bad = flows.filter((f) => fails(validate.flow, f)).map((f) => `${f.uid}: ${why(validate.flow).join('; ')}`);
    expect(bad.slice(0, 5)).toEqual([]);
  });

  it('every alert line, of several rules, with evidence captures', () => {
    expect(new Set(alerts.map((a) => a.rule)).size).toBeGreaterThanOrEqual(3);
    expect(alerts.some((a) => a.evidence.pcap)).toBe(true);
    const bad = alerts.filter((a) => fails(validate.alert, a)).map((a) => `${a.id}: ${why(validate.alert).join('; ')}`);
    expect(bad.slice(0, 5)).toEqual([]);
  });

  it('every device', () => {
    expect(devices.length).toBeGreaterThanOrEqual(7);
    const bad = devices.filter((d) => fails(validate.device, d)).map((d) => `${d.mac}: ${why(validate.device).join('; ')}`);
    expect(bad).toEqual([]);
  });

  it('a batch carrying all of them, evidence included, as a sensor sends it', () => {
    const events: IngestEvent[] = [
      ...flows.map((f): IngestEvent => ({ kind: 'flow', key: `flow:${f.uid}`, data: f })),
      ...alerts.map((a): IngestEvent => ({ kind: 'alert', key: `alert:${a.id}:${a.evidence.flows}`, data: a })),
      ...devices.map((d): IngestEvent => ({ kind: 'device', key: `device:${d.mac ?? d.ips[0]}:${d.last_seen}`, data: d })),
      ...evidence.map((e): IngestEvent => ({ kind: 'evidence', key: `evidence:${e.alert_id}`, data: e })),
    ];
    expect(events.length).toBeLessThanOrEqual(10000);
    expect(evidence.length).toBeGreaterThan(0);
    const ok = validate.batch({ batch_id: 'b-1', sensor: { name: 'lab', version: '0.1.0', lag_s: null }, events });
    expect(ok, why(validate.batch).slice(0, 5).join('; ')).toBe(true);
  });
});

describe('broken records are refused at the broken field', () => {
  it('flows: wrong types, out-of-range ports and counts, oversize strings, missing fields', () => {
    const f = flows.find((x) => x.proto === 'tcp' && x.sni !== null)!;
    const cases: [string, (r: Record<string, any>) => void, string][] = [
      ['port as text', (r) => (r.src_port = String(r.src_port)), '/src_port'],
      ['port 65536', (r) => (r.dst_port = 65536), '/dst_port'],
      ['port -1', (r) => (r.src_port = -1), '/src_port'],
      ['port 1.5', (r) => (r.src_port = 1.5), '/src_port'],
      ['time as text', (r) => (r.ts = '2024-01-01'), '/ts'],
      ['negative duration', (r) => (r.duration = -0.1), '/duration'],
      ['negative packets', (r) => (r.src_pkts = -1), '/src_pkts'],
      ['fractional bytes', (r) => (r.dst_bytes = 10.5), '/dst_bytes'],
      ['empty uid', (r) => (r.uid = ''), '/uid'],
      ['uid of 65 characters', (r) => (r.uid = 'C'.repeat(65)), '/uid'],
      ['address of 65 characters', (r) => (r.src_ip = '1'.repeat(65)), '/src_ip'],
      ['protocol of 9 characters', (r) => (r.proto = 'tcp-extra'), '/proto'],
      ['SNI of 4097 characters', (r) => (r.sni = 'a'.repeat(4097)), '/sni'],
      ['state as a number', (r) => (r.state = 3), '/state'],
      ['33 ALPN values', (r) => (r.alpn = Array(33).fill('h2')), '/alpn'],
      ['an ALPN value that is not text', (r) => (r.alpn = ['h2', 11]), '/alpn/1'],
      ['null where a number is required', (r) => (r.src_bytes = null), '/src_bytes'],
      ['ASN as text', (r) => (r.dst_asn = 'AS15169'), '/dst_asn'],
      ['JA3 as a number', (r) => (r.ja3 = 771), '/ja3'],
      ['JA4 of 65 characters', (r) => (r.ja4 = 't'.repeat(65)), '/ja4'],
      ['a certificate fact as text', (r) => (r.tls_self_signed = 'yes'), '/tls_self_signed'],
      ['a certificate fact as a number', (r) => (r.tls_name_mismatch = 0), '/tls_name_mismatch'],
      ['no uid', (r) => delete r.uid, ''],
    ];
    expect(validate.flow(f)).toBe(true);
    for (const [what, edit, path] of cases) refuses(validate.flow, broken(f, edit), path, what);
    refuses(validate.flow, [f], '', 'an array of flows');
    // the limits themselves are allowed
    expect(validate.flow(broken(f, (r) => Object.assign(r, { sni: 'a'.repeat(4096), uid: 'C'.repeat(64), src_port: 0, dst_port: 65535, alpn: Array(32).fill('h2') })))).toBe(true);
  });

  it('alert rule ids must be lower-case words joined by single hyphens, at most 64 characters', () => {
    const a = alerts[0];
    const good = ['geo-callback', 'direct-ip', 'beaconing', 'a', 'x9', 'a1-b2-c3', `a${'-b'.repeat(31)}`];
    const bad = ['Geo-Callback', 'geo_callback', 'geo--callback', '-geo', 'geo-', '1geo', 'geo callback', '', 'geo.callback', 'géo-callback', 'GEO', `a${'-b'.repeat(32)}`];
    for (const rule of good) expect(validate.alert(broken(a, (r) => (r.rule = rule))), rule).toBe(true);
    for (const rule of bad) refuses(validate.alert, broken(a, (r) => (r.rule = rule)), '/rule', JSON.stringify(rule));
    // the pattern, on its own, as an independent engine reads it
    for (const rule of good) expect(new RegExp(RULE_ID_PATTERN, 'u').test(rule), rule).toBe(true);
  });

  it('alerts: severity, oversize message and lists, device and evidence fields', () => {
    const a = alerts.find((x) => x.destination !== null)!;
    const cases: [string, (r: Record<string, any>) => void, string][] = [
      ['severity not in the list', (r) => (r.severity = 'urgent'), '/severity'],
      ['message of 4097 characters', (r) => (r.message = 'm'.repeat(4097)), '/message'],
      ['device without an IP', (r) => (r.device.ip = null), '/device/ip'],
      ['device without its mac key', (r) => delete r.device.mac, '/device'],
      ['1001 flow uids', (r) => (r.evidence.uids = Array(1001).fill('C1')), '/evidence/uids'],
      ['negative flow count', (r) => (r.evidence.flows = -2), '/evidence/flows'],
      ['17 ATT&CK techniques', (r) => (r.mitre = Array(17).fill({ technique: 'T1071' })), '/mitre'],
      ['a technique without its id', (r) => (r.mitre = [{ name: 'x' }]), '/mitre/0'],
      ['destination as text', (r) => (r.destination = '8.8.8.8'), '/destination'],
      ['destination port as text', (r) => (r.destination.port = '443'), '/destination/port'],
      ['subscore as text', (r) => (r.evidence.subscores = { timestamps: 'high' }), '/evidence/subscores/timestamps'],
      ['empty id', (r) => (r.id = ''), '/id'],
      ['no evidence', (r) => delete r.evidence, ''],
    ];
    expect(validate.alert(a)).toBe(true);
    for (const [what, edit, path] of cases) refuses(validate.alert, broken(a, edit), path, what);
  });

  it('devices: addresses, names and lists', () => {
    const d = devices.find((x) => x.mac !== null && x.destinations.length > 0)!;
    const cases: [string, (r: Record<string, any>) => void, string][] = [
      ['65 addresses', (r) => (r.ips = Array(65).fill('10.0.0.1')), '/ips'],
      ['an address that is not text', (r) => (r.ips = [167772161]), '/ips/0'],
      ['mac as a number', (r) => (r.mac = 0x001788), '/mac'],
      ['first_seen as text', (r) => (r.first_seen = 'yesterday'), '/first_seen'],
      ['hostname of 4097 characters', (r) => (r.hostnames = ['h'.repeat(4097)]), '/hostnames/0'],
      ['10001 destinations', (r) => (r.destinations = Array(10001).fill({})), '/destinations'],
      ['a destination that is not an object', (r) => (r.destinations = ['8.8.8.8']), '/destinations/0'],
      ['negative bytes out', (r) => (r.bytes_out = -5), '/bytes_out'],
      ['no ips', (r) => delete r.ips, ''],
    ];
    expect(validate.device(d)).toBe(true);
    for (const [what, edit, path] of cases) refuses(validate.device, broken(d, edit), path, what);
  });

  it('batches: unknown fields, mismatched kind and data, too many events, oversize keys and evidence', () => {
    const f = flows[0];
    const base = { batch_id: 'b', sensor: { name: 'lab', version: '1' }, events: [{ kind: 'flow', key: 'flow:1', data: f }] };
    expect(validate.batch(base)).toBe(true);
    const cases: [string, (r: Record<string, any>) => void, string][] = [
      ['an unknown top-level field', (r) => (r.extra = 1), ''],
      ['an unknown event field', (r) => (r.events[0].extra = 1), '/events/0'],
      ['a flow event carrying an alert', (r) => (r.events[0].data = alerts[0]), '/events/0'],
      ['an unknown kind', (r) => (r.events[0].kind = 'dns'), '/events/0'],
      ['a key of 201 characters', (r) => (r.events[0].key = 'k'.repeat(201)), '/events/0'],
      ['an empty batch id', (r) => (r.batch_id = ''), '/batch_id'],
      ['a sensor without a name', (r) => delete r.sensor.name, '/sensor'],
      ['10001 events', (r) => (r.events = Array(10001).fill(r.events[0])), '/events'],
      ['evidence over 16 MiB of base64', (r) => (r.events = [{ kind: 'evidence', key: 'evidence:a', data: { alert_id: 'a', pcap_base64: 'A'.repeat(16 * 1024 * 1024 + 1) } }]), '/events/0'],
    ];
    for (const [what, edit, path] of cases) refuses(validate.batch, broken(base, edit), path, what);
  });

  it('the envelope the route checks refuses only what makes the batch unusable; each event is checked on its own', () => {
    const base = { batch_id: 'b', sensor: { name: 'lab', version: '1' }, events: [{ kind: 'flow', key: 'flow:1', data: flows[0] }] };
    expect(validate.envelope(base)).toBe(true);
    const eventFaults: ((r: Record<string, any>) => void)[] = [
      (r) => (r.events[0].extra = 1),
      (r) => (r.events[0].data = alerts[0]),
      (r) => (r.events[0].kind = 'dns'),
      (r) => (r.events[0].key = 'k'.repeat(201)),
      (r) => (r.events = [null, 'x', 3]),
    ];
    for (const edit of eventFaults) {
      const b = broken(base, edit);
      expect(validate.envelope(b), why(validate.envelope).join('; ')).toBe(true);
      expect(validate.batch(b)).toBe(false);
      for (const ev of b.events) expect(validate.event(ev), JSON.stringify(ev)?.slice(0, 80)).toBe(false);
    }
    const envelopeFaults: [string, (r: Record<string, any>) => void, string][] = [
      ['no events', (r) => delete r.events, ''],
      ['events not a list', (r) => (r.events = {}), '/events'],
      ['10001 events', (r) => (r.events = Array(10001).fill(r.events[0])), '/events'],
      ['no batch id', (r) => delete r.batch_id, ''],
      ['a sensor without a name', (r) => delete r.sensor.name, '/sensor'],
      ['an unknown top-level field', (r) => (r.extra = 1), ''],
    ];
    for (const [what, edit, path] of envelopeFaults) refuses(validate.envelope, broken(base, edit), path, what);
  });
});
