// Planted behaviours in real background traffic from the IoT Sentinel corpus:
// captures picked by a seed, shifted into the scenario's span, written with
// the planted packets to a real pcap and run through the built CLI.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AlertRecord, FlowRecord } from '../../contract/types.js';
import { packet } from './build.js';
import { phonehome } from './cli.js';
import { corpusDevices } from './corpus.js';
import { readWithPcapParser, writePcap, type TestPacket } from './pcap.js';
import { rng } from './scenarios.js';

const root = mkdtempSync(join(tmpdir(), 'phonehome-plant-'));
let seq = 0;

/** `n` corpus captures picked by `seed`, shifted to start at random offsets within [t0, t0 + span). */
export async function corpusBackground(seed: number, n: number, t0: number, span: number): Promise<TestPacket[]> {
  const files = corpusDevices().flatMap((d) => d.files);
  const r = rng(seed);
  const out: TestPacket[] = [];
  for (let i = 0; i < n; i++) {
    const { packets } = await readWithPcapParser(files[Math.floor(r() * files.length)]);
    const first = packets[0].tsSec + packets[0].tsUsec / 1e6;
    const at = t0 + r() * span;
    for (const p of packets) out.push({ ...packet(at + (p.tsSec + p.tsUsec / 1e6 - first), p.data), wirelen: p.wirelen });
  }
  return out;
}

export interface Analysis {
  alerts: AlertRecord[];
  flows: FlowRecord[];
  /** alerts.jsonl as written */
  text: string;
}

/** Writes the packets (in time order) to a pcap. */
export function writeCapture(packets: TestPacket[]): string {
  const f = join(root, `c${seq++}.pcap`);
  writePcap(f, 1, [...packets].sort((a, b) => a.tsSec - b.tsSec || a.tsUsec - b.tsUsec));
  return f;
}

/** `phonehome analyze FILE --out DIR ...args`, as a real process; the alerts and flows it wrote. */
export function analyzeOut(file: string, args: string[] = []): Analysis {
  const out = join(root, `out${seq++}`);
  const r = phonehome(['analyze', file, '--out', out, ...args]);
  if (r.code !== 0) throw new Error(`analyze exited ${r.code}: ${r.stderr}`);
  const lines = <T>(name: string): T[] => readFileSync(join(out, name), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as T);
  return { alerts: lines<AlertRecord>('alerts.jsonl'), flows: lines<FlowRecord>('flows.jsonl'), text: readFileSync(join(out, 'alerts.jsonl'), 'utf8') };
}
