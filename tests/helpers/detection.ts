// Runs planted captures through the real pipeline (meter → enrich → detect)
// in-process, with profiles and detection settings written for the test.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { parse, stringify } from 'yaml';
import { alertSchema } from '../../contract/schemas.js';
import type { AlertRecord, DnsRecord, FlowRecord } from '../../contract/types.js';
import { readCaptureFile } from '../../sensor/capture/reader.js';
import { DEFAULT_CONFIG_FILE } from '../../sensor/detect/config.js';
import { Pipeline } from '../../sensor/pipeline/pipeline.js';
import { loadAnalysis, type AnalysisOptions } from '../../sensor/pipeline/setup.js';
import { GEOIP_DIR } from './corpus.js';
import { writePcap, type TestPacket } from './pcap.js';
import type { Scenario } from './scenarios.js';

const root = mkdtempSync(join(tmpdir(), 'phonehome-detect-'));
let seq = 0;

/** A fresh folder under this run's temporary root. */
export function tempDir(name = 'd'): string {
  const d = join(root, `${name}-${seq++}`);
  mkdirSync(d, { recursive: true });
  return d;
}

/** A profiles folder holding the given YAML texts (file name → text). */
export function profilesDir(files: Record<string, string>): string {
  const d = tempDir('profiles');
  for (const [name, text] of Object.entries(files)) writeFileSync(join(d, name), text);
  return d;
}

/** The shipped detections file with `edit` applied to its parsed YAML; returns the new file's path. */
export function detectionsFile(edit: (doc: { suppression_window_s: number; watch: Record<string, unknown[]>; rules: Record<string, Record<string, unknown>> }) => void): string {
  const doc = parse(readFileSync(DEFAULT_CONFIG_FILE, 'utf8'));
  edit(doc);
  const f = join(tempDir('detections'), 'detections.yaml');
  writeFileSync(f, stringify(doc));
  return f;
}

export const COUNTRY_DB = join(GEOIP_DIR, 'GeoLite2-Country-Test.mmdb');
export const ASN_DB = join(GEOIP_DIR, 'GeoLite2-ASN-Test.mmdb');

/** The record MaxMind's test database source gives a network, read from the JSON it was built from (not from the .mmdb). */
export function sourceRecord(db: 'GeoLite2-Country-Test' | 'GeoLite2-ASN-Test', cidr: string): Record<string, any> {
  const source = JSON.parse(readFileSync(join(GEOIP_DIR, `${db}.source.json`), 'utf8')) as Record<string, Record<string, any>>[];
  for (const entry of source) if (entry[cidr]) return entry[cidr];
  throw new Error(`${cidr} is not a network of ${db}`);
}

export interface PipelineRun {
  /** alerts() after every flow ended */
  alerts: AlertRecord[];
  /** every flow the flow sink saw, copied as it was handed over */
  flows: FlowRecord[];
  /** what the alert sink heard, copied when it heard it */
  fired: AlertRecord[];
  dns: DnsRecord[];
  pipeline: Pipeline;
}

/** Writes a scenario (or packets) to a pcap and returns its path. */
export function capture(s: Scenario | TestPacket[]): string {
  const f = join(tempDir('capture'), 'c.pcap');
  if (Array.isArray(s)) writePcap(f, 1, [...s].sort((a, b) => a.tsSec - b.tsSec || a.tsUsec - b.tsUsec));
  else s.write(f);
  return f;
}

/** Every file through one Pipeline, as `phonehome analyze` runs it in one thread; then every live flow ends and alerts are taken. */
export async function runPipeline(input: Scenario | TestPacket[] | string | string[], opts: AnalysisOptions, withFlowSink = true): Promise<PipelineRun> {
  const files = typeof input === 'string' ? [input] : Array.isArray(input) && typeof input[0] === 'string' ? (input as string[]) : [capture(input as Scenario | TestPacket[])];
  const flows: FlowRecord[] = [];
  const fired: AlertRecord[] = [];
  const dns: DnsRecord[] = [];
  const pipeline = new Pipeline(await loadAnalysis(opts), opts, {
    flow: withFlowSink ? (r) => flows.push({ ...r }) : undefined,
    alert: (a) => fired.push(structuredClone(a)),
    dns: (r) => dns.push(r),
  });
  for (const f of files) {
    const input = pipeline.input();
    await readCaptureFile(f, input.sink);
    input.end();
  }
  pipeline.flushFlows();
  return { alerts: pipeline.alerts(), flows, fired, dns, pipeline };
}

/** Alerts of one rule for one device (by MAC). */
export const alertsOf = (alerts: AlertRecord[], rule: string, mac: string): AlertRecord[] => alerts.filter((a) => a.rule === rule && a.device.mac === mac);

/**
 * Private, shared, loopback, link-local, multicast, broadcast and
 * documentation ranges (RFC 6890), written out here rather than taken from
 * the sensor: the independent notion of "not the Internet". IPv6: unspecified,
 * loopback, unique-local, link-local, multicast and documentation only.
 */
export function notInternet(ip: string): boolean {
  if (ip.includes(':')) return /^(::1?$|f[cd]|fe[89ab]|ff|2001:db8:)/i.test(ip);
  return notInternet4(ip);
}

function notInternet4(ip: string): boolean {
  const [a, b, c] = ip.split('.').map(Number);
  return (
    a === 0 || a === 10 || a === 127 || a >= 224 ||
    (a === 100 && b >= 64 && b < 128) || (a === 169 && b === 254) || (a === 172 && b >= 16 && b < 32) || (a === 192 && b === 168) ||
    (a === 192 && b === 0 && (c === 0 || c === 2)) || (a === 198 && (b === 18 || b === 19)) || (a === 198 && b === 51 && c === 100) || (a === 203 && b === 0 && c === 113)
  );
}

/** The contract's alert schema in strict mode, as the collector checks what a sensor sends: rules' evidence fields must be declared there. */
export const contractAlert = new Ajv({ strict: true, allErrors: true }).compile(alertSchema);
