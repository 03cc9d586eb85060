// dns-tunnel: many distinct names under one registered domain that read as
// data. An iodine-like tunnel (one socket, NULL questions, base32 labels)
// and a dnscat2-like one (TXT questions for hex labels, through the system
// resolver) are planted with their benign look-alikes (a CDN and a cloud
// with hundreds of names, the whole NTP pool, a tunnel-like device below the
// threshold) into real corpus traffic, for several seeds; the built CLI
// analyses each capture and every alert is checked against what was planted.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { AlertRecord } from '../../../../contract/types.js';
import { loadDetectionConfig } from '../../../../sensor/detect/config.js';
import type { RuleContext, SeenFlow } from '../../../../sensor/detect/rule.js';
import { dnsTunnel, type DnsTunnelParams } from '../../../../sensor/detect/rules/dns-tunnel.js';
import type { DeviceFacts } from '../../../../sensor/devices/inventory.js';
import { phonehome } from '../../../helpers/cli.js';
import { contractAlert, detectionsFile, tempDir } from '../../../helpers/detection.js';
import { dnsScenarioCapture, type DnsTruth } from '../../../helpers/dns.js';

/** The collector's check of what sensors send. */

const SEEDS = [1, 2, 3];

interface Run {
  truth: DnsTruth;
  alerts: AlertRecord[];
  out: string;
  file: string;
}

function analyze(file: string, extra: string[] = []): { out: string; alerts: AlertRecord[] } {
  const out = tempDir('out');
  const r = phonehome(['analyze', file, '--out', out, '--no-profiles', '--evidence', join(out, 'evidence'), ...extra]);
  expect(r.code, r.stderr).toBe(0);
  const alerts = readFileSync(join(out, 'alerts.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as AlertRecord);
  return { out, alerts };
}

async function run(seed: number): Promise<Run> {
  const file = join(tempDir('capture'), `dns-${seed}.pcap`);
  const truth = await dnsScenarioCapture(seed, file);
  return { truth, file, ...analyze(file) };
}

/** Every name the evidence capture's DNS questions asked, as tshark reads them. */
function evidenceNames(out: string, a: AlertRecord): string[] {
  const pcap = join(out, 'evidence', a.evidence.pcap!);
  const text = execFileSync('tshark', ['-n', '-r', pcap, '-Y', 'dns.flags.response == 0', '-T', 'fields', '-e', 'dns.qry.name'], { encoding: 'utf8' });
  return text.split('\n').filter(Boolean);
}

describe('dns-tunnel on planted tunnels and look-alikes in corpus traffic', () => {
  for (const seed of SEEDS) {
    it(`seed ${seed}: the two tunnels fire, one alert each with their domain; the CDN, the cloud, the NTP pool and the short tunnel stay quiet`, async () => {
      const { truth, alerts, out } = await run(seed);
      const tunnel = alerts.filter((a) => a.rule === 'dns-tunnel');
      for (const a of tunnel) expect(contractAlert(a), JSON.stringify(contractAlert.errors)).toBe(true);
      expect(tunnel.map((a) => [a.device.mac, a.evidence.domain]).sort()).toEqual(
        [
          [truth.iodine.dev.mac, truth.iodine.domain],
          [truth.dnscat.dev.mac, truth.dnscat.domain],
        ].sort(),
      );
      const iodine = tunnel.find((a) => a.device.mac === truth.iodine.dev.mac)!;
      // one socket: one flow carried every question; all distinct, all NULL
      expect(iodine.evidence.flows).toBe(1);
      expect(iodine.evidence.subdomains).toBe(truth.iodine.count);
      expect(iodine.evidence.qtypes).toEqual({ TYPE10: truth.iodine.count });
      expect(iodine.evidence.names).toHaveLength(10);
      for (const n of iodine.evidence.names!) expect(n.endsWith(`.t.${truth.iodine.domain}`)).toBe(true);
      expect(iodine.destination).toMatchObject({ ip: '192.168.77.1', port: 53, proto: 'udp', name: truth.iodine.domain });

      const dnscat = tunnel.find((a) => a.device.mac === truth.dnscat.dev.mac)!;
      // a flow per question: the alert holds the flows from the hundredth name on, and those kept before it
      expect(dnscat.evidence.flows).toBeGreaterThanOrEqual(truth.dnscat.count - 100 + 1);
      expect(dnscat.evidence.subdomains).toBeGreaterThanOrEqual(100);
      expect(dnscat.evidence.qtypes).toEqual({ TXT: truth.dnscat.count });
      for (const a of [iodine, dnscat]) {
        // the evidence capture is the tunnel's DNS packets (of the alert's first 50 flows), and nothing else
        const asked = evidenceNames(out, a);
        expect(asked.length).toBeGreaterThanOrEqual(a === iodine ? truth.iodine.count : Math.min(50, dnscat.evidence.flows));
        for (const n of asked) expect(n.endsWith(`.${a.evidence.domain}`), n).toBe(true);
        expect(a.mitre.map((m) => m.technique)).toEqual(['T1071.004', 'T1048']);
      }
    }, 60_000);
  }

  it('the look-alikes have the volume of a tunnel: counting names alone (content ratios 0) would fire on the CDN, the cloud and the NTP pool', async () => {
    const file = join(tempDir('capture'), 'dns-volume.pcap');
    const truth = await dnsScenarioCapture(SEEDS[0], file);
    const under = (names: string[], suffix: string) => names.filter((n) => n.endsWith(suffix)).length;
    expect(under(truth.cdn.names, '.a.akamaiedge.net')).toBeGreaterThanOrEqual(100);
    expect(under(truth.cdn.names, '.amazonaws.com')).toBeGreaterThanOrEqual(100);
    expect(under(truth.ntp.names, '.ntp.org')).toBeGreaterThanOrEqual(100);
    const volumeOnly = detectionsFile((doc) => Object.assign(doc.rules['dns-tunnel'], { min_encoded_ratio: 0, min_data_ratio: 0 }));
    const { alerts } = analyze(file, ['--detections', volumeOnly]);
    const fired = alerts.filter((a) => a.rule === 'dns-tunnel').map((a) => `${a.device.mac} ${a.evidence.domain}`);
    expect(fired).toEqual(
      expect.arrayContaining([`${truth.cdn.dev.mac} a.akamaiedge.net`, `${truth.cdn.dev.mac} amazonaws.com`, `${truth.ntp.dev.mac} ntp.org`]),
    );
    // CloudFront is a private suffix: each distribution is its own domain, and the short tunnel stays below the count
    expect(fired.filter((f) => f.includes('cloudfront') || f.startsWith(truth.shortTunnel.dev.mac))).toEqual([]);
  }, 60_000);

  it('the same alerts with --workers 2', async () => {
    const one = await run(SEEDS[0]);
    const two = analyze(one.file, ['--workers', '2']);
    const pick = (as: AlertRecord[]) => as.filter((a) => a.rule === 'dns-tunnel' || a.rule === 'dga');
    expect(pick(two.alerts)).toEqual(pick(one.alerts));
    expect(readdirSync(join(two.out, 'evidence')).sort()).toEqual(readdirSync(join(one.out, 'evidence')).sort());
  }, 60_000);
});

/** A context that keeps what the rule raised: the rule's own mechanics, without a capture. */
function harness(params: Partial<DnsTunnelParams> = {}) {
  const raised: { key: string; uid: string }[] = [];
  const settings = { ...loadDetectionConfig().rules['dns-tunnel'] };
  settings.params = { ...settings.params, ...params };
  const ctx = {
    settings,
    profiles: { profileFor: () => null },
    raise: (j: { flow: { uid: string } }, spec: { key: string }) => raised.push({ key: spec.key, uid: j.flow.uid }),
  } as unknown as RuleContext<DnsTunnelParams>;
  return { run: dnsTunnel.create(ctx), raised };
}

let uid = 0;
function seen(device: DeviceFacts, ts: number, names: string[], qtype = 'TXT'): SeenFlow {
  const flow = { uid: `F${uid++}`, ts, dst_ip: '192.168.77.1', dst_port: 53, proto: 'udp' } as SeenFlow['flow'];
  return { flow, device, responder: null, ends: { srcLocal: true, dstLocal: true }, dst: null, src: null, resolved: false, app: { dns: names.map((query) => ({ ts, query, qtype, rcode: 0, answers: 1 })) } };
}

const dev = (n: number): DeviceFacts => ({ mac: `02:d7:${(n >> 16) & 255}:${(n >> 8) & 255}:${n & 255}:00`, ip: '192.168.77.50', vendor: null, vendor_country: null, mud_url: null });
const hex = (i: number, n = 40) => i.toString(16).padStart(n, '0');

describe('dns-tunnel mechanics', () => {
  it('a window counts its own names: 99 one day and 99 the next never fire; 100 in one window do, with the flows kept before', () => {
    const { run, raised } = harness();
    const d = dev(1);
    for (let i = 0; i < 99; i++) run.seen!(seen(d, 1000 + i, [`${hex(i)}.t.example.com`]));
    for (let i = 0; i < 99; i++) run.seen!(seen(d, 1000 + 86_400 + i, [`${hex(1000 + i)}.t.example.com`]));
    expect(raised).toEqual([]);
    run.seen!(seen(d, 1000 + 86_400 + 200, [`${hex(5000)}.t.example.com`]));
    expect(raised.map((r) => r.key)).toEqual(Array(21).fill('example.com'));
  });

  it('the gateway, names under no public suffix and reverse lookups are not counted', () => {
    const { run, raised } = harness({ min_subdomains: 10 });
    const gw = { ...dev(2), role: 'gateway' as const };
    for (let i = 0; i < 20; i++) run.seen!(seen(gw, i, [`${hex(i)}.t.example.com`]));
    for (let i = 0; i < 20; i++) run.seen!(seen(dev(3), i, [`${hex(i)}.lan`, `${hex(i)}.example.com.belkin`, `${i}.1.168.192.in-addr.arpa`]));
    expect(raised).toEqual([]);
  });

  it('a flood of random names under 300,000 domains from spoofed devices leaves the rule working: a tunnel after it fires', () => {
    const { run, raised } = harness();
    for (let i = 0; i < 300_000; i++) run.seen!(seen(dev(i % 5000), i / 100, [`${hex(i)}.${hex(i, 12)}.com`]));
    expect(raised).toEqual([]);
    const d = dev(999_999);
    for (let i = 0; i < 100; i++) run.seen!(seen(d, 4000 + i, [`${hex(i)}.t.example.org`]));
    expect(raised.at(-1)!.key).toBe('example.org');
  });
});
