// A flow's app facts: the DNS questions each unicast DNS flow carried, with
// the RCODE and answer count of their responses, as tshark reads the same
// capture (real captures from the corpus and a built one with NXDOMAIN, TXT,
// NULL and unanswered questions); credentials and port mapping requests
// recorded as the payloads show them; all bounded per flow.
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { FlowRecord } from '../../../contract/types.js';
import { readCaptureFile } from '../../../sensor/capture/reader.js';
import { addCredential, addDnsFact, addPassword, addPortMapping, MAX_CREDENTIAL_FACTS, MAX_DNS_FACTS, MAX_PORT_MAPPING_FACTS, type AppFacts, type DnsFact, type PortMappingFact } from '../../../sensor/flows/app.js';
import { Pipeline } from '../../../sensor/pipeline/pipeline.js';
import { loadAnalysis } from '../../../sensor/pipeline/setup.js';
import { packet, udpFrame, type Endpoint } from '../../helpers/build.js';
import { CORPUS_DIR, corpusAvailable, fixture } from '../../helpers/corpus.js';
import { capture } from '../../helpers/detection.js';
import { dnsQuery, exchange, NOERROR, NXDOMAIN, QTYPE, rdataFor } from '../../helpers/dns.js';
import type { TestPacket } from '../../helpers/pcap.js';
import { ROUTER } from '../../helpers/scenarios.js';

type Fact = Pick<DnsFact, 'query' | 'qtype' | 'rcode' | 'answers'>;

/** Both ends of a flow, in one order whichever way the packet went. */
const flowKey = (a: string, ap: number, b: string, bp: number) => [`${a}:${ap}`, `${b}:${bp}`].sort().join(' ');

/**
 * The DNS facts detection is handed, by flow key (flows of the same key, in
 * order, joined): with DNS records written out as `analyze --out` does, or
 * without, when only addresses are read from answers.
 */
async function factsOf(file: string, records: boolean): Promise<Map<string, Fact[]>> {
  const out = new Map<string, Fact[]>();
  const p = new Pipeline(await loadAnalysis({ profilesDir: null }), {}, {
    flow: () => {},
    dns: records ? () => {} : undefined,
    enriched: (e) => {
      const f: FlowRecord = e.rec;
      const facts = e.app?.dns;
      if (!facts) return;
      const k = flowKey(f.src_ip, f.src_port, f.dst_ip, f.dst_port);
      out.set(k, [...(out.get(k) ?? []), ...facts.map(({ query, qtype, rcode, answers }) => ({ query, qtype, rcode, answers }))]);
    },
  });
  const input = p.input();
  await readCaptureFile(file, input.sink);
  input.end();
  p.flushFlows();
  return out;
}

const TYPE_NAMES: Record<string, string> = { 1: 'A', 28: 'AAAA', 16: 'TXT', 10: 'TYPE10', 65399: 'TYPE65399' };

/**
 * What tshark reads: every unicast DNS message over UDP port 53, replayed
 * per flow: a question adds a fact, a response completes the last
 * unanswered question of the same name (or stands alone).
 */
function tsharkFacts(file: string): Map<string, Fact[]> {
  const fields = ['ip.src', 'udp.srcport', 'ip.dst', 'udp.dstport', 'dns.flags.response', 'dns.qry.name', 'dns.qry.type', 'dns.flags.rcode', 'dns.count.answers'];
  const text = execFileSync('tshark', ['-n', '-r', file, '-Y', 'dns && udp.port == 53 && !icmp', '-T', 'fields', '-E', 'separator=\t', '-E', 'occurrence=f', ...fields.flatMap((f) => ['-e', f])], { encoding: 'utf8', maxBuffer: 1 << 28 });
  const out = new Map<string, Fact[]>();
  for (const line of text.split('\n').filter(Boolean)) {
    const [src, sport, dst, dport, response, query, qtype, rcode, answers] = line.split('\t');
    if (!query) continue;
    const k = flowKey(src, Number(sport), dst, Number(dport));
    const list = out.get(k) ?? [];
    out.set(k, list);
    const type = TYPE_NAMES[qtype] ?? `unexpected type ${qtype}`;
    if (response === '1' || response === 'True') {
      const q = [...list].reverse().find((x) => x.rcode === null && x.query === query);
      if (q) Object.assign(q, { rcode: Number(rcode), answers: Number(answers) });
      else list.push({ query, qtype: type, rcode: Number(rcode), answers: Number(answers) });
    } else list.push({ query, qtype: type, rcode: null, answers: 0 });
  }
  return out;
}

async function expectSameAsTshark(file: string): Promise<Map<string, Fact[]>> {
  const theirs = tsharkFacts(file);
  expect(theirs.size, `${file} has DNS`).toBeGreaterThan(0);
  const ours = await factsOf(file, true);
  expect(Object.fromEntries(ours)).toEqual(Object.fromEntries(theirs));
  // the same without DNS records: CNAME and TXT answers are counted though not read
  expect(Object.fromEntries(await factsOf(file, false))).toEqual(Object.fromEntries(theirs));
  return ours;
}

describe('DNS facts on flows', () => {
  it('a corpus capture: every DNS flow carries its questions, answered NOERROR with their answer counts, as tshark reads them', async () => {
    const facts = await expectSameAsTshark(fixture('HueBridge'));
    const all = [...facts.values()].flat();
    expect(all.filter((f) => f.query === 'bridge.meethue.com').length).toBeGreaterThan(10);
    expect(all.every((f) => f.rcode === 0)).toBe(true);
    // AAAA questions for the NTP pool get NOERROR with no records (IPv4-only names)
    expect(all.filter((f) => f.answers === 0).map((f) => f.qtype)).toEqual(expect.arrayContaining(['AAAA']));
    expect(all.filter((f) => f.qtype === 'A').every((f) => f.answers > 0)).toBe(true);
  });

  it.skipIf(!corpusAvailable())('corpus captures with NXDOMAIN answers (names a resolver suffixed with its search domain) carry rcode 3', async () => {
    const dir = join(CORPUS_DIR, 'WeMoInsightSwitch');
    const files = readdirSync(dir).filter((f) => f.endsWith('.pcap')).sort().map((f) => join(dir, f));
    let nx = 0;
    for (const f of files) {
      const facts = await expectSameAsTshark(f);
      nx += [...facts.values()].flat().filter((x) => x.rcode === 3).length;
    }
    expect(nx).toBeGreaterThan(0);
  }, 120_000);

  describe('a built capture', () => {
    const dev: Endpoint = { mac: '02:d5:00:00:00:01', ip: '192.168.77.31', port: 41000 };
    let file = '';
    let facts: Map<string, Fact[]>;

    beforeAll(async () => {
      const t = 1_700_000_000;
      const p: TestPacket[] = [
        ...exchange(t, dev, ROUTER, 1, 'missing-name.example.com', QTYPE.A, NXDOMAIN),
        ...exchange(t + 1, { ...dev, port: 41001 }, ROUTER, 2, 'present.example.com', QTYPE.A, NOERROR, [rdataFor(QTYPE.A, Buffer.from([93, 184, 216, 34])), rdataFor(QTYPE.A, Buffer.from([93, 184, 216, 35]))]),
        ...exchange(t + 2, { ...dev, port: 41002 }, ROUTER, 3, 'txt.example.com', QTYPE.TXT, NOERROR, [rdataFor(QTYPE.TXT, Buffer.from('v=spf1 -all'))]),
        ...exchange(t + 3, { ...dev, port: 41003 }, ROUTER, 4, 'no-answer.example.com', QTYPE.A, null),
        // one socket, several questions: the second answered NXDOMAIN, the third never
        ...exchange(t + 4, { ...dev, port: 41004 }, ROUTER, 5, 'aaaa.example.com', QTYPE.AAAA, NOERROR, [Buffer.alloc(16, 1)]),
        ...exchange(t + 5, { ...dev, port: 41004 }, ROUTER, 6, 'nx2.example.com', QTYPE.NULL, NXDOMAIN),
        packet(t + 6, udpFrame({ ...dev, port: 41004 }, { ...ROUTER, port: 53 }, dnsQuery(7, 'pending.example.com', QTYPE.A))),
      ];
      file = capture(p);
      facts = await expectSameAsTshark(file);
    });

    it('an NXDOMAIN answer completes its question with rcode 3 and no answers', () => {
      expect(facts.get(flowKey(dev.ip, 41000, ROUTER.ip, 53))).toEqual([{ query: 'missing-name.example.com', qtype: 'A', rcode: 3, answers: 0 }]);
    });

    it('answers are counted; a question never answered keeps rcode null', () => {
      expect(facts.get(flowKey(dev.ip, 41001, ROUTER.ip, 53))).toEqual([{ query: 'present.example.com', qtype: 'A', rcode: 0, answers: 2 }]);
      expect(facts.get(flowKey(dev.ip, 41003, ROUTER.ip, 53))).toEqual([{ query: 'no-answer.example.com', qtype: 'A', rcode: null, answers: 0 }]);
    });

    it('one socket asking several questions is one flow carrying them in order; NULL is TYPE10', () => {
      expect(facts.get(flowKey(dev.ip, 41004, ROUTER.ip, 53))).toEqual([
        { query: 'aaaa.example.com', qtype: 'AAAA', rcode: 0, answers: 1 },
        { query: 'nx2.example.com', qtype: 'TYPE10', rcode: 3, answers: 0 },
        { query: 'pending.example.com', qtype: 'A', rcode: null, answers: 0 },
      ]);
    });
  });

  it('keeps the first MAX_DNS_FACTS questions of a flow, each completed by its answer', () => {
    const app: AppFacts = {};
    for (let i = 0; i < MAX_DNS_FACTS + 50; i++) {
      addDnsFact(app, i, `q${i}.example.com`, 'A', false, 0, 0);
      addDnsFact(app, i + 0.1, `q${i}.example.com`, 'A', true, i % 2 === 0 ? 0 : 3, i % 2 === 0 ? 1 : 0);
    }
    expect(app.dns!.length).toBe(MAX_DNS_FACTS);
    expect(MAX_DNS_FACTS).toBeGreaterThanOrEqual(200);
    expect(app.dns!.map((f) => f.query)).toEqual(Array.from({ length: MAX_DNS_FACTS }, (_, i) => `q${i}.example.com`));
    expect(app.dns!.every((f, i) => f.rcode === (i % 2 === 0 ? 0 : 3))).toBe(true);
  });
});


const mapping = (externalPort: number, leaseS = 60): PortMappingFact => ({ ts: 1, method: 'nat-pmp', protocol: 'tcp', externalPort, internalClient: '10.0.0.2', internalPort: 22, leaseS, description: null });

describe('credential and port mapping facts', () => {
  it('completes an FTP user name with the password sent after it, and records a password without one', () => {
    const app: AppFacts = {};
    addCredential(app, { ts: 1, protocol: 'ftp', user: 'cam', password: false, passwordLength: null });
    addPassword(app, 2, 'ftp', 8);
    addPassword(app, 3, 'ftp', 4);
    expect(app.credentials).toEqual([
      { ts: 1, protocol: 'ftp', user: 'cam', password: true, passwordLength: 8 },
      { ts: 3, protocol: 'ftp', user: null, password: true, passwordLength: 4 },
    ]);
  });

  it('keeps MAX_CREDENTIAL_FACTS credentials per flow', () => {
    const app: AppFacts = {};
    for (let i = 0; i < MAX_CREDENTIAL_FACTS + 5; i++) addCredential(app, { ts: i, protocol: 'telnet', user: 'root', password: true, passwordLength: i });
    addPassword(app, 99, 'ftp', 1);
    expect(app.credentials).toHaveLength(MAX_CREDENTIAL_FACTS);
    expect(app.credentials?.at(-1)?.passwordLength).toBe(MAX_CREDENTIAL_FACTS - 1);
  });

  it('records a repeated port mapping request once, and keeps MAX_PORT_MAPPING_FACTS per flow', () => {
    const app: AppFacts = {};
    const first = addPortMapping(app, mapping(2222));
    expect(addPortMapping(app, { ...mapping(2222), ts: 5 })).toBe(first);
    addPortMapping(app, mapping(2222, 120));
    for (let p = 1; p <= MAX_PORT_MAPPING_FACTS + 3; p++) addPortMapping(app, mapping(p));
    expect(app.portMappings).toHaveLength(MAX_PORT_MAPPING_FACTS);
    expect(app.portMappings?.slice(0, 2).map((m) => [m.externalPort, m.leaseS, m.ts])).toEqual([[2222, 60, 1], [2222, 120, 1]]);
    expect(addPortMapping(app, mapping(9999))).toBeNull();
  });
});
