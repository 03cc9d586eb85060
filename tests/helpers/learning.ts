// What the learning-mode tests share: traffic the scenario builders do not
// make (ICMP, TCP sessions that start mid-stream or go idle past the flow
// timeout), and `profiles suggest` followed by `analyze --profiles` on the
// same captures, both as the real command.
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { AlertRecord, DeviceProfile, FlowRecord } from '../../contract/types.js';
import { parseProfileYaml } from '../../sensor/detect/profiles/yaml.js';
import { packet, TCP_FLAGS, tcpFrame, type Endpoint } from './build.js';
import { phonehome, type CliRun } from './cli.js';
import { icmpEchoFrame } from './frames.js';
import type { TestPacket } from './pcap.js';
import { clientHello } from './scenarios.js';

/** A ping: echo request and reply. */
export function ping(t: number, from: Endpoint, to: Endpoint, seq: number): TestPacket[] {
  return [packet(t, icmpEchoFrame(from, to, 8, 0x77, seq)), packet(t + 0.02, icmpEchoFrame(to, from, 0, 0x77, seq))];
}

/** Data both ways of a TCP session already open (no SYN): `rounds` request/response pairs from t on, one second apart. */
export function tcpData(t: number, client: Endpoint, server: Endpoint, rounds: number, seq = 1000): TestPacket[] {
  const { PSH, ACK } = TCP_FLAGS;
  const out: TestPacket[] = [];
  for (let i = 0; i < rounds; i++) {
    out.push(packet(t + i, tcpFrame(client, server, PSH | ACK, Buffer.alloc(120, 0x17), seq + i * 120)));
    out.push(packet(t + i + 0.05, tcpFrame(server, client, PSH | ACK, Buffer.alloc(80, 0x17), 5000 + i * 80)));
  }
  return out;
}

/**
 * A TLS session (handshake, ClientHello with `sni`) that goes quiet for
 * `idle` seconds, then carries on and closes: with a TCP timeout shorter than
 * `idle`, its second part is a flow of its own, begun mid-stream, without the
 * name.
 */
export function idleSession(t: number, client: Endpoint, server: Endpoint, sni: string, idle: number): TestPacket[] {
  const { SYN, ACK, PSH, FIN } = TCP_FLAGS;
  const later = t + 1 + idle;
  return [
    packet(t, tcpFrame(client, server, SYN)),
    packet(t + 0.01, tcpFrame(server, client, SYN | ACK)),
    packet(t + 0.02, tcpFrame(client, server, ACK)),
    packet(t + 0.03, tcpFrame(client, server, PSH | ACK, clientHello(sni))),
    packet(t + 0.04, tcpFrame(server, client, PSH | ACK, Buffer.alloc(300, 2))),
    ...tcpData(later, client, server, 3),
    packet(later + 4, tcpFrame(client, server, FIN | ACK)),
    packet(later + 4.01, tcpFrame(server, client, FIN | ACK)),
    packet(later + 4.02, tcpFrame(client, server, ACK)),
  ];
}

export const jsonl = <T>(file: string): T[] => readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as T);

export interface Learnt {
  suggest: CliRun;
  analyze: CliRun;
  /** the drafts as `analyze --profiles` reads them, by the MAC each matches */
  drafts: Map<string, DeviceProfile>;
  draftsDir: string;
  alerts: AlertRecord[];
  flows: FlowRecord[];
  outDir: string;
}

/** `phonehome profiles suggest --out DIR/drafts inputs` then `phonehome analyze inputs --profiles DIR/drafts --out DIR/out`, each with its own extra arguments. */
export function suggestThenAnalyze(dir: string, inputs: string[], opts: { suggest?: string[]; analyze?: string[] } = {}): Learnt {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const draftsDir = join(dir, 'drafts');
  const outDir = join(dir, 'out');
  const suggest = phonehome(['profiles', 'suggest', '--out', draftsDir, ...(opts.suggest ?? []), ...inputs]);
  if (suggest.code !== 0) throw new Error(`phonehome profiles suggest exited with ${suggest.code}: ${suggest.stderr}`);
  const analyze = phonehome(['analyze', ...inputs, '--profiles', draftsDir, '--out', outDir, ...(opts.analyze ?? [])]);
  const drafts = new Map<string, DeviceProfile>();
  for (const f of readdirSync(draftsDir, { withFileTypes: true }).filter((e) => e.isFile())) {
    const p = parseProfileYaml(readFileSync(join(draftsDir, f.name), 'utf8'), join(draftsDir, f.name));
    for (const mac of p.match.mac ?? []) drafts.set(mac, p);
  }
  const alerts = analyze.code === 0 ? jsonl<AlertRecord>(join(outDir, 'alerts.jsonl')) : [];
  const flows = analyze.code === 0 ? jsonl<FlowRecord>(join(outDir, 'flows.jsonl')) : [];
  return { suggest, analyze, drafts, draftsDir, alerts, flows, outDir };
}
