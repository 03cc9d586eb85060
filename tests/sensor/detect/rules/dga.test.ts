// dga: a burst of NXDOMAIN answers for algorithmic-looking domains. A
// domain generation algorithm's burst (random letters under common TLDs) is
// planted with its benign look-alikes (an app resolving one-off names of
// words, a device retrying one missing name, a burst one domain short) into
// real corpus traffic, for several seeds; the built CLI analyses each
// capture and every alert is checked against what was planted.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { AlertRecord } from '../../../../contract/types.js';
import { loadDetectionConfig } from '../../../../sensor/detect/config.js';
import type { RuleContext, SeenFlow } from '../../../../sensor/detect/rule.js';
import { dga, type DgaParams } from '../../../../sensor/detect/rules/dga.js';
import type { DeviceFacts } from '../../../../sensor/devices/inventory.js';
import { phonehome } from '../../../helpers/cli.js';
import { contractAlert, detectionsFile, tempDir } from '../../../helpers/detection.js';
import { dnsScenarioCapture } from '../../../helpers/dns.js';

/** The collector's check of what sensors send. */

const SEEDS = [4, 5, 6];

function analyze(file: string, extra: string[] = []): { out: string; alerts: AlertRecord[] } {
  const out = tempDir('out');
  const r = phonehome(['analyze', file, '--out', out, '--no-profiles', '--evidence', join(out, 'evidence'), ...extra]);
  expect(r.code, r.stderr).toBe(0);
  return { out, alerts: readFileSync(join(out, 'alerts.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as AlertRecord) };
}

/** Names and RCODEs of the responses in an alert's evidence capture, as tshark reads them. */
function evidenceAnswers(out: string, a: AlertRecord): [string, string][] {
  const pcap = join(out, 'evidence', a.evidence.pcap!);
  const text = execFileSync('tshark', ['-n', '-r', pcap, '-Y', 'dns.flags.response == 1', '-T', 'fields', '-e', 'dns.qry.name', '-e', 'dns.flags.rcode'], { encoding: 'utf8' });
  return text.split('\n').filter(Boolean).map((l) => l.split('\t') as [string, string]);
}

describe('dga on a planted burst and look-alikes in corpus traffic', () => {
  for (const seed of SEEDS) {
    it(`seed ${seed}: the burst fires one alert for its device; one-off names of words, a retried name and a burst one short stay quiet`, async () => {
      const file = join(tempDir('capture'), `dga-${seed}.pcap`);
      const truth = await dnsScenarioCapture(seed, file);
      const { out, alerts } = analyze(file);
      const fired = alerts.filter((a) => a.rule === 'dga');
      expect(fired.map((a) => a.device.mac)).toEqual([truth.dga.dev.mac]);
      for (const a of fired) expect(contractAlert(a), JSON.stringify(contractAlert.errors)).toBe(true);
      const a = fired[0];
      expect(a.evidence.nxdomains).toBeGreaterThanOrEqual(10);
      expect(a.evidence.nxdomains).toBeLessThanOrEqual(truth.dga.names.length);
      expect(a.evidence.names).toHaveLength(10);
      for (const n of a.evidence.names!) expect(truth.dga.names).toContain(n);
      expect(a.evidence.score).toBeGreaterThanOrEqual(0.5);
      expect(a.evidence.score).toBeLessThanOrEqual(1);
      expect(a.mitre.map((m) => m.technique)).toEqual(['T1568.002']);
      expect(a.destination).toMatchObject({ ip: '192.168.77.1', port: 53, proto: 'udp' });
      // the evidence capture is the burst's NXDOMAIN answers, and nothing else
      const answers = evidenceAnswers(out, a);
      expect(answers.length).toBeGreaterThanOrEqual(10);
      for (const [name, rcode] of answers) {
        expect(truth.dga.names).toContain(name);
        expect(rcode).toBe('3');
      }
    }, 60_000);
  }

  it('the app has an NXDOMAIN burst too: without the score (min_score 0) it would fire; the retried name and the short burst still would not', async () => {
    const file = join(tempDir('capture'), 'dga-noscore.pcap');
    const truth = await dnsScenarioCapture(SEEDS[0], file);
    expect(new Set(truth.app.names).size).toBeGreaterThanOrEqual(10);
    const noScore = detectionsFile((doc) => (doc.rules.dga.min_score = 0));
    const fired = analyze(file, ['--detections', noScore]).alerts.filter((a) => a.rule === 'dga').map((a) => a.device.mac);
    expect(fired.sort()).toEqual([truth.dga.dev.mac, truth.app.dev.mac].sort());
  }, 60_000);
});

/** A context that keeps what the rule raised: the rule's own mechanics, without a capture. */
function harness(params: Partial<DgaParams> = {}) {
  const raised: { key: string; uid: string; evidence: AlertRecord['evidence'] }[] = [];
  const settings = { ...loadDetectionConfig().rules.dga };
  settings.params = { ...settings.params, ...params };
  const ctx = {
    settings,
    profiles: { profileFor: () => null },
    raise: (j: { flow: { uid: string } }, spec: { key: string; evidence: (e: AlertRecord['evidence']) => void }) => {
      const evidence = {} as AlertRecord['evidence'];
      spec.evidence(evidence);
      raised.push({ key: spec.key, uid: j.flow.uid, evidence });
    },
  } as unknown as RuleContext<DgaParams>;
  return { run: dga.create(ctx), raised };
}

let uid = 0;
function nx(device: DeviceFacts, ts: number, names: string[], rcode = 3): SeenFlow {
  const flow = { uid: `F${uid++}`, ts, dst_ip: '192.168.77.1', dst_port: 53, proto: 'udp' } as SeenFlow['flow'];
  return { flow, device, responder: null, ends: { srcLocal: true, dstLocal: true }, dst: null, src: null, resolved: false, app: { dns: names.map((query) => ({ ts, query, qtype: 'A', rcode, answers: 0 })) } };
}

const dev = (n: number): DeviceFacts => ({ mac: `02:d8:${n.toString(16).padStart(6, '0').replace(/(..)(?!$)/g, '$1:')}`, ip: '192.168.77.60', vendor: null, vendor_country: null, mud_url: null });
const RANDOM = ['xjqzvbkwtrp', 'qwzxkvbnmlp', 'zrtkqxwvbnj', 'pqxzvkwrtbn', 'kjxzqwvbrtm', 'vbnxqzkwjrt', 'mnbvxzqkwjp', 'wrtxqzkvbnj', 'tqxzkvbwnrj', 'jxqzvkwbtrn', 'bxqzvkwjtrn', 'nxqzvkwbjrt'];

describe('dga mechanics', () => {
  it('ten missing random domains within the window fire, raising the flows held before; nine, with the tenth a second after the window, do not', () => {
    const a = harness();
    for (let i = 0; i < 9; i++) a.run.seen!(nx(dev(1), 1000 + i, [`www.${RANDOM[i]}.com`]));
    a.run.seen!(nx(dev(1), 1000 + 600 + 1, [`${RANDOM[9]}.net`]));
    expect(a.raised).toEqual([]);
    const b = harness();
    for (let i = 0; i < 10; i++) b.run.seen!(nx(dev(2), 1000 + i * 60, [`${RANDOM[i]}.com`]));
    expect(b.raised.map((r) => r.key)).toEqual(Array(10).fill(''));
    expect(b.raised.at(-1)!.evidence).toMatchObject({ nxdomains: 10, names: RANDOM.slice(0, 10).map((n) => `${n}.com`) });
  });

  it('counts registered domains: random subdomains of one missing domain, answered names and search-domain names do not add up', () => {
    const { run, raised } = harness();
    for (let i = 0; i < 12; i++) run.seen!(nx(dev(3), 1000 + i, [`${RANDOM[i]}.xjqzvbkwtrp.com`]));
    for (let i = 0; i < 12; i++) run.seen!(nx(dev(3), 1100 + i, [`${RANDOM[i]}.org`], 0));
    for (let i = 0; i < 12; i++) run.seen!(nx(dev(3), 1200 + i, [`${RANDOM[i]}.belkin`]));
    expect(raised).toEqual([]);
  });

  it('a flood of missing random domains from 50,000 spoofed devices leaves the rule working: a burst after it fires', () => {
    const { run, raised } = harness();
    for (let i = 0; i < 50_000; i++) for (let k = 0; k < 3; k++) run.seen!(nx(dev(i), i / 10, [`${RANDOM[(i + k) % 12]}${i.toString(36)}.com`]));
    expect(raised).toEqual([]);
    for (let i = 0; i < 10; i++) run.seen!(nx(dev(70_000), 6000 + i, [`${RANDOM[i]}.info`]));
    expect(raised.length).toBeGreaterThan(0);
  });
});
