// threat-intel: connections to addresses, networks and domains listed in
// feeds given with --intel, one alert per device and indicator, run by the
// built CLI over real pcap files. Planted connections (and look-alikes that
// must stay quiet) mixed into real captures, with the three feed formats;
// then real corpus devices against feeds listing destinations they really
// contact, the expected alerts worked out from analyze's own flows.jsonl by a
// matcher written out here.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { AlertRecord, FlowRecord } from '../../../../contract/types.js';
import { tcpSession, type Endpoint } from '../../../helpers/build.js';
import { phonehome } from '../../../helpers/cli.js';
import { CORPUS_DIR, corpusAvailable, corpusDevices } from '../../../helpers/corpus.js';
import { capture, tempDir } from '../../../helpers/detection.js';
import { ROUTER, Scenario } from '../../../helpers/scenarios.js';

const T0 = 1_700_000_000;
const dev = (n: number): Endpoint => ({ mac: `02:7e:00:00:00:${String(n).padStart(2, '0')}`, ip: `192.168.77.${60 + n}`, port: 42000 + n * 10 });
const server = (ip: string, port = 443): Endpoint => ({ mac: ROUTER.mac, ip, port });
const jsonl = <T>(file: string): T[] => readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as T);

interface Run {
  code: number | null;
  stderr: string;
  alerts: AlertRecord[];
  flows: FlowRecord[];
}

function analyze(inputs: string[], extra: string[]): Run {
  const out = tempDir('intel-out');
  const r = phonehome(['analyze', ...inputs, '--out', out, '--no-profiles', ...extra]);
  if (r.code !== 0) return { code: r.code, stderr: r.stderr, alerts: [], flows: [] };
  return { code: r.code, stderr: r.stderr, alerts: jsonl<AlertRecord>(join(out, 'alerts.jsonl')), flows: jsonl<FlowRecord>(join(out, 'flows.jsonl')) };
}

const intelAlerts = (r: Run) => r.alerts.filter((a) => a.rule === 'threat-intel');
const summary = (r: Run) =>
  intelAlerts(r).map((a) => [a.device.mac, a.evidence.intel!.type, a.evidence.intel!.indicator, a.evidence.intel!.feed, a.evidence.intel!.where]).sort();

describe('threat-intel on planted connections among real captures', () => {
  const dir = tempDir('intel-feeds');
  const plain = join(dir, 'lab-list.txt');
  const zeek = join(dir, 'lab.intel');
  const csv = join(dir, 'threatfox.csv');
  let file = '';
  let run: Run;

  beforeAll(async () => {
    const s = new Scenario(T0, 3600);
    await s.background(['HueBridge', 'TP-LinkPlugHS110'], [0, 300]);
    // Listed: each format, each kind of indicator and each place a name comes from.
    s.tls(T0 + 10, dev(1), server('45.33.10.10'), 'c2.evil-updates.example');
    s.tls(T0 + 20, dev(2), server('185.220.101.7'), null);
    s.tls(T0 + 30, dev(3), server('157.20.182.81', 425), null);
    s.tls(T0 + 40, dev(4), server('91.240.77.1'), null);
    s.resolve(T0 + 50, dev(5), 'api.tracker-c2.example', ['62.210.1.2']);
    s.tls(T0 + 51, dev(5), server('62.210.1.2'), null);
    s.packets.push(...tcpSession(T0 + 60, dev(6), server('51.15.0.9', 80), Buffer.from('GET /bins/x.arm HTTP/1.1\r\nHost: dl.payload-host.example\r\n\r\n')));
    s.tls(T0 + 70, dev(1), server('45.33.10.10'), 'c2.evil-updates.example');
    // Look-alikes: a name that ends the same without a dot between, a listed name under another one,
    // the next address, an address outside the listed network, a name only resolved to an unlisted address.
    s.tls(T0 + 80, dev(11), server('45.33.10.11'), 'c2.notevil-updates.example');
    s.tls(T0 + 90, dev(12), server('45.33.10.12'), 'evil-updates.example.org');
    s.tls(T0 + 100, dev(13), server('185.220.101.8'), null);
    s.tls(T0 + 110, dev(14), server('91.241.0.1'), null);
    s.resolve(T0 + 120, dev(15), 'tracker-c2.example.net', ['62.210.1.3']);
    s.tls(T0 + 121, dev(15), server('62.210.1.3'), null);
    file = capture(s);
    writeFileSync(plain, '# lab list\nevil-updates.example\n91.240.0.0/16 ; hosting range\n');
    writeFileSync(zeek, '#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc\n185.220.101.7\tIntel::ADDR\tlab-cti\tstaging C2\npayload-host.example\tIntel::DOMAIN\tlab-cti\tMirai loader\n');
    writeFileSync(csv, [
      '# "first_seen_utc","ioc_id","ioc_value","ioc_type","threat_type","fk_malware","malware_alias","malware_printable","last_seen_utc","confidence_level","is_compromised","reference","tags","anonymous","reporter"',
      '"2026-07-21 05:35:20", "1", "157.20.182.81:425", "ip:port", "botnet_cc", "win.tofsee", "Gheg", "Tofsee", "", "75", "False", "", "", "0", "x"',
      '"2026-07-21 05:28:01", "2", "tracker-c2.example", "domain", "botnet_cc", "elf.mirai", "None", "Mirai", "", "100", "False", "None", "", "0", "x"',
    ].join('\n'));
    run = analyze([file], ['--intel', plain, '--intel', zeek, '--intel', csv]);
  }, 120_000);

  it('raises exactly the listed connections: one alert per device and indicator, naming the feed and where the flow matched', () => {
    expect(run.code).toBe(0);
    expect(summary(run)).toEqual([
      [dev(1).mac, 'domain', 'evil-updates.example', 'lab-list.txt', 'sni'],
      [dev(2).mac, 'addr', '185.220.101.7', 'lab.intel', 'dst_ip'],
      [dev(3).mac, 'addr', '157.20.182.81', 'threatfox.csv', 'dst_ip'],
      [dev(4).mac, 'subnet', '91.240.0.0/16', 'lab-list.txt', 'dst_ip'],
      [dev(5).mac, 'domain', 'tracker-c2.example', 'threatfox.csv', 'dns_name'],
      [dev(6).mac, 'domain', 'payload-host.example', 'lab.intel', 'http_host'],
    ].sort());
  });

  it('puts the feed\'s source and description in the evidence and the message, with every flow that matched', () => {
    const [d2] = intelAlerts(run).filter((a) => a.device.mac === dev(2).mac);
    expect(d2.evidence.intel).toEqual({ indicator: '185.220.101.7', type: 'addr', feed: 'lab.intel', source: 'lab-cti', description: 'staging C2', seen: '185.220.101.7', where: 'dst_ip' });
    expect(d2.message).toBe(`${dev(2).mac} connected to 185.220.101.7:443/tcp: address 185.220.101.7 is listed in threat-intel feed lab.intel (staging C2)`);
    expect(d2.evidence.reason).toBe('destination address 185.220.101.7 matches address 185.220.101.7 of feed lab.intel (source: lab-cti)');
    expect([d2.severity, d2.mitre.map((m) => m.technique)]).toEqual(['high', ['T1071']]);
    const [d1] = intelAlerts(run).filter((a) => a.device.mac === dev(1).mac);
    const d1Flows = run.flows.filter((f) => f.src_ip === dev(1).ip && f.dst_ip === '45.33.10.10');
    expect(d1Flows).toHaveLength(2);
    expect(d1.evidence.uids.sort()).toEqual(d1Flows.map((f) => f.uid).sort());
    expect(d1.destination).toMatchObject({ ip: '45.33.10.10', name: 'c2.evil-updates.example', port: 443 });
    const [d6] = intelAlerts(run).filter((a) => a.device.mac === dev(6).mac);
    expect(d6.evidence.intel).toMatchObject({ seen: 'dl.payload-host.example', description: 'Mirai loader' });
  });

  it('gives the same alerts with two threads, and none without a feed (the other rules unchanged)', () => {
    const two = analyze([file], ['--intel', plain, '--intel', zeek, '--intel', csv, '--workers', '2']);
    expect(two.alerts).toEqual(run.alerts);
    const none = analyze([file], []);
    expect(intelAlerts(none)).toEqual([]);
    expect(none.alerts).toEqual(run.alerts.filter((a) => a.rule !== 'threat-intel'));
  });

  it('a feed that cannot be used stops analyze before reading (exit 2), naming the file and line', () => {
    const bad = join(dir, 'bad.txt');
    writeFileSync(bad, 'hello\nworld\n1.2.3.4\n');
    const r = analyze([file], ['--intel', plain, '--intel', bad]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(`phonehome: ${bad}:1: 'hello' is not an IP address, network (CIDR), domain or JA4 fingerprint (read as a plain feed); 2 of 3 indicator lines are malformed, so the file is refused`);
    const some = join(dir, 'some-bad.txt');
    writeFileSync(some, 'evil-updates.example\nnot!valid\n');
    const ok = analyze([file], ['--intel', some]);
    expect(ok.code).toBe(0);
    expect(ok.stderr).toContain("phonehome: note: some-bad.txt: 1 malformed line skipped (first: line 2: 'not!valid' is not an IP address, network (CIDR), domain or JA4 fingerprint)");
    expect(summary(ok)).toEqual([[dev(1).mac, 'domain', 'evil-updates.example', 'some-bad.txt', 'sni']]);
  });
});

/** Which indicator of the corpus feeds a flow matches, worked out independently: equal addresses, integer ranges, name suffixes on a dot. */
function expectedIndicator(f: FlowRecord, addrs: string[], nets: string[], domains: string[]): string[] {
  const num = (ip: string) => ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);
  const hits = new Set<string>();
  if (addrs.includes(f.dst_ip)) hits.add(f.dst_ip);
  for (const n of nets) {
    const [a, l] = n.split('/');
    const size = 2 ** (32 - Number(l));
    if (!f.dst_ip.includes(':') && Math.floor(num(f.dst_ip) / size) === Math.floor(num(a) / size)) hits.add(n);
  }
  for (const raw of [f.sni, f.http_host, f.dns_name]) {
    const name = raw?.toLowerCase().replace(/:\d+$/, '');
    for (const d of domains) if (name && (name === d || name.endsWith(`.${d}`))) hits.add(d);
  }
  return [...hits];
}

describe('threat-intel on the corpus', () => {
  const ok = corpusAvailable();

  it.skipIf(!ok)('fires for exactly the corpus devices that contact a listed destination, in all three formats, and never for look-alikes', () => {
    const dir = tempDir('intel-corpus');
    const addrs = ['129.132.2.21', '162.13.31.14', '122.248.252.67'];
    const nets = ['52.28.0.0/16'];
    const domains = ['meethue.com', 'api.xbcs.net'];
    // Look-alikes of what the devices contact: the same text without a label boundary, or a neighbour.
    const plain = join(dir, 'corpus-list.txt');
    writeFileSync(plain, '# corpus destinations\nmeethue.com\n129.132.2.21\n52.28.0.0/16\neethue.com\nhue.com\ndlink.co\n129.132.2.2\n52.29.0.0/24\n');
    const zeek = join(dir, 'corpus.intel');
    writeFileSync(zeek, '#fields\tindicator\tindicator_type\tmeta.source\n162.13.31.14\tIntel::ADDR\tlab\napi.xbcs.net\tIntel::DOMAIN\tlab\nxbcs.ne\tIntel::DOMAIN\tlab\n');
    const feodo = join(dir, 'feodo.csv');
    writeFileSync(feodo, '#\n"first_seen_utc","dst_ip","dst_port","c2_status","last_online","malware"\n"2021-01-17 07:30:05","122.248.252.67","8765","online","2021-08-18","Test"\n"2021-01-17 07:30:05","122.248.252.68","443","online","2021-08-18","Test"\n');

    const none = analyze([CORPUS_DIR], []);
    expect(none.code).toBe(0);
    expect(intelAlerts(none)).toEqual([]);
    const run = analyze([CORPUS_DIR], ['--intel', plain, '--intel', zeek, '--intel', feodo]);
    expect(run.code).toBe(0);
    console.log(`threat-intel on the corpus: 0 alerts without a feed, ${intelAlerts(run).length} with the test feeds`);

    const devices = new Set(corpusDevices().map((d) => d.mac));
    const want = new Set<string>();
    for (const f of none.flows) {
      if (f.dst_country === null || !f.src_mac || !devices.has(f.src_mac)) continue;
      const hits = expectedIndicator(f, addrs, nets, domains);
      // The feeds are chosen so that no flow matches two indicators: the rule's precedence is not in question here.
      expect(hits.length, f.uid).toBeLessThanOrEqual(1);
      if (hits.length) want.add(`${f.src_mac} ${hits[0]}`);
    }
    expect(want.size).toBeGreaterThan(8);
    const got = new Set(intelAlerts(run).map((a) => `${a.device.mac} ${a.evidence.intel!.indicator}`));
    expect([...got].sort()).toEqual([...want].sort());
    // Each of the three files contributed.
    expect(new Set(intelAlerts(run).map((a) => a.evidence.intel!.feed))).toEqual(new Set(['corpus-list.txt', 'corpus.intel', 'feodo.csv']));
    // The other rules are untouched.
    expect(run.alerts.filter((a) => a.rule !== 'threat-intel')).toEqual(none.alerts);
  }, 120_000);
});
