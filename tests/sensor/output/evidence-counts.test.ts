// The evidence capture of every alert holds exactly the packets its evidence
// counts, or the alert says (evidence.pcap_missing) how many it lacks and
// why. tshark counts the packets of every capture, and per flow (by
// protocol, addresses and ports) compares them with the flows the alert
// names in flows.jsonl. Run on the corpus (skipped when absent), on the
// bundled fixtures, and on a device whose alerts count more flows than an
// alert (or a beacon's series) keeps.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { AlertRecord, FlowRecord } from '../../../contract/types.js';
import { packet, udpFrame, type Endpoint } from '../../helpers/build.js';
import { phonehome } from '../../helpers/cli.js';
import { CORPUS_DIR, corpusAvailable, FIXTURES } from '../../helpers/corpus.js';
import { writePcap } from '../../helpers/pcap.js';

const tmp = mkdtempSync(join(tmpdir(), 'phonehome-evidence-counts-'));
let runs = 0;
const PROTO: Record<string, number> = { icmp: 1, tcp: 6, udp: 17, icmpv6: 58 };

/** A flow's key as tshark's fields give it: protocol number, and both ends sorted (ports only for TCP and UDP). */
function flowKey(proto: number, a: string, ap: number, b: string, bp: number): string {
  const ports = proto === 6 || proto === 17;
  const [x, y] = [`${a}/${ports ? ap : ''}`, `${b}/${ports ? bp : ''}`].sort();
  return `${proto} ${x} ${y}`;
}

/**
 * Packets per flow key of each capture, as tshark reads them: the captures
 * are concatenated into one pcapng with an interface per file, read once.
 */
function tsharkCounts(files: string[]): Map<string, number>[] {
  const merged = join(tmp, `merged-${runs++}.pcapng`);
  execFileSync('mergecap', ['-I', 'none', '-a', '-F', 'pcapng', '-w', merged, ...files]);
  const fields = ['frame.interface_id', 'ip.proto', 'ipv6.nxt', 'ip.src', 'ip.dst', 'ipv6.src', 'ipv6.dst', 'tcp.srcport', 'tcp.dstport', 'udp.srcport', 'udp.dstport'];
  const out = execFileSync('tshark', ['-n', '-r', merged, '-T', 'fields', '-E', 'occurrence=f', ...fields.flatMap((f) => ['-e', f])], { maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  const counts = files.map(() => new Map<string, number>());
  for (const line of out.split('\n')) {
    if (!line) continue;
    const [iface, p4, p6, s4, d4, s6, d6, ts, td, us, ud] = line.split('\t');
    const proto = Number(p4 || p6);
    const [sp, dp] = proto === 6 ? [ts, td] : [us, ud];
    const k = flowKey(proto, s4 || s6, Number(sp), d4 || d6, Number(dp));
    const m = counts[Number(iface)];
    m.set(k, (m.get(k) ?? 0) + 1);
  }
  return counts;
}

interface Analysed {
  alerts: AlertRecord[];
  flows: Map<string, FlowRecord>;
  dir: string;
}

function analyse(inputs: string[], extra: string[] = []): Analysed {
  const out = join(tmp, `out-${runs++}`);
  const r = phonehome(['analyze', ...inputs, '--out', out, '--evidence', join(out, 'evidence'), ...extra]);
  expect(r.code, r.stderr).toBe(0);
  const lines = (f: string) => readFileSync(join(out, f), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  return { alerts: lines('alerts.jsonl'), flows: new Map(lines('flows.jsonl').map((f: FlowRecord) => [f.uid, f])), dir: join(out, 'evidence') };
}

/**
 * Checks every alert's capture against its evidence; returns how many alerts
 * were checked flow by flow (those that name all their flows and lack none).
 */
function checkAll(a: Analysed): number {
  const withPcap = a.alerts.filter((x) => x.evidence.pcap);
  expect(readdirSync(a.dir).sort()).toEqual(withPcap.map((x) => x.evidence.pcap).sort());
  const counts = tsharkCounts(withPcap.map((x) => join(a.dir, x.evidence.pcap!)));
  let perFlow = 0;
  for (const alert of a.alerts) {
    const e = alert.evidence;
    const i = withPcap.indexOf(alert);
    const got = i < 0 ? new Map<string, number>() : counts[i];
    const total = [...got.values()].reduce((s, n) => s + n, 0);
    expect(total, `${alert.rule} ${alert.id}: packets in its capture`).toBe(e.packets - (e.pcap_missing?.packets ?? 0));
    if (e.pcap_missing || e.uids.length !== e.flows) continue;
    const want = new Map<string, number>();
    for (const uid of e.uids) {
      const f = a.flows.get(uid)!;
      const k = flowKey(PROTO[f.proto] ?? Number(f.proto), f.src_ip, f.src_port, f.dst_ip, f.dst_port);
      want.set(k, (want.get(k) ?? 0) + f.src_pkts + f.dst_pkts);
    }
    expect(got, `${alert.rule} ${alert.id}: packets per flow`).toEqual(want);
    perFlow++;
  }
  return perFlow;
}

describe('evidence captures hold the packets their alerts count (tshark counts them)', () => {
  it('on the bundled fixtures: every alert, and per flow', () => {
    const a = analyse([FIXTURES], ['--watch-countries', 'US,IE,DE,NL,GB,CN']);
    expect(a.alerts.length).toBeGreaterThan(10);
    expect(a.alerts.filter((x) => x.evidence.pcap_missing)).toEqual([]);
    expect(checkAll(a)).toBeGreaterThan(8);
  });

  it.runIf(corpusAvailable())('on the corpus: every alert holds every packet it counts, none lacks any', () => {
    const a = analyse([CORPUS_DIR], ['--watch-countries', 'US,IE,DE,NL,GB,CN']);
    expect(a.alerts.length).toBeGreaterThan(300);
    // some alerts count hundreds of flows and thousands of packets
    expect(Math.max(...a.alerts.map((x) => x.evidence.packets))).toBeGreaterThan(10_000);
    expect(a.alerts.filter((x) => x.evidence.pcap_missing).map((x) => x.id)).toEqual([]);
    expect(checkAll(a)).toBeGreaterThan(200);
  }, 60_000);

  it('alerts counting more flows than they keep hold their first 2,000 and say they lack the other 100, and why', () => {
    const dev: Endpoint = { mac: '02:11:22:33:44:55', ip: '192.168.1.77', port: 0 };
    const server: Endpoint = { mac: '00:b5:6d:06:08:ba', ip: '93.184.216.34', port: 4000 };
    const T0 = 1_700_000_000;
    // 2,100 one-packet UDP flows from distinct ports, one of them answered
    const packets = Array.from({ length: 2100 }, (_, i) => packet(T0 + i * 0.01, udpFrame({ ...dev, port: 20000 + i }, server, Buffer.from(`ping ${i}`))));
    packets.push(packet(T0 + 0.005, udpFrame(server, { ...dev, port: 20000 }, Buffer.from('pong'))));
    packets.sort((x, y) => x.tsSec - y.tsSec || x.tsUsec - y.tsUsec);
    const file = join(tmp, 'many-flows.pcap');
    writePcap(file, 1, packets);
    const a = analyse([file], ['--no-profiles']);
    const big = a.alerts.filter((x) => x.evidence.flows === 2100);
    // the device's alert, and a beacon over the device-destination series (its flows kept by the series)
    expect(big.map((x) => x.rule).sort()).toEqual(['beaconing', 'unprofiled-device']);
    for (const x of big) {
      expect(x.evidence.packets).toBe(2101);
      const cause = x.rule === 'beaconing' ? 'series-flows' : 'alert-flows';
      expect(x.evidence.pcap_missing, x.rule).toEqual(expect.objectContaining({ flows: 100, packets: 100, causes: [cause], partial: [] }));
      expect(x.evidence.pcap_missing!.reason).toMatch(/first 2,000 flows/);
    }
    checkAll(a);
  });
});
