// The TLS facts on flows, as `phonehome analyze` writes them, against independent readers:
// tshark 4.0's JA3 of every ClientHello; JA4 rebuilt from the lists tshark dissects out of
// the same hellos (ciphers, extensions, signature algorithms, versions, ALPN); and the
// server's certificate as tshark reassembles it, judged by the openssl command. On the
// committed capture tests/fixtures/tls/handshakes.pcap (GREASE everywhere, a hello
// without SNI or ALPN, certificates cut over segments), whose certificate facts are also
// known from how it was made, and on the whole corpus when it is there.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { FlowRecord } from '../../../contract/types.js';
import { phonehome } from '../../helpers/cli.js';
import { CORPUS_DIR, corpusAvailable, FIXTURES } from '../../helpers/corpus.js';
import { readWithPcapParser, writePcap } from '../../helpers/pcap.js';
import { clientHello, ext, FIXTURE_CLIENT, FIXTURE_SERVER, fixtureSessions, pemOf, serverFlight, tlsSession } from '../../helpers/tls.js';

const DIR = join(FIXTURES, 'tls');
const CAPTURE = join(DIR, 'handshakes.pcap');
/** When the capture's sessions happen: after the self-signed certificate expired, and while the CA-issued one is valid. */
const TIMES = { expired: 1_893_456_000, valid: 1_811_808_000 };
const tmp = mkdtempSync(join(tmpdir(), 'phonehome-meter-tls-'));

const GREASE = (v: number) => (v & 0x0f0f) === 0x0a0a && v >> 8 === (v & 0xff);
const hex4 = (v: number) => v.toString(16).padStart(4, '0');
const sha12 = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 12);

interface TsharkHello {
  key: string;
  ja3: string;
  /** JA4 from tshark's dissection, per technical_details/JA4.md */
  ja4: string;
}

/** A number tshark printed in decimal or as 0x hex. */
const num = (s: string) => Number(s);
const list = (s: string) => (s === '' ? [] : s.split(',').map(num)).filter((v) => !GREASE(v));

/** JA4 of one hello from tshark's fields, following JA4.md step by step. */
function ja4FromTshark(f: Record<string, string>): string {
  const ciphers = list(f['tls.handshake.ciphersuite']);
  const exts = list(f['tls.handshake.extension.type']);
  const versions = list(f['tls.handshake.extensions.supported_version']);
  const v = versions.length ? Math.max(...versions) : num(f['tls.handshake.version']);
  const ver = ({ 0x0304: '13', 0x0303: '12', 0x0302: '11', 0x0301: '10', 0x0300: 's3' } as Record<number, string>)[v] ?? '00';
  const alpn = f['tls.handshake.extensions_alpn_str'].split(',')[0];
  const a = alpn ? alpn[0] + alpn[alpn.length - 1] : '00';
  const n = (x: number) => String(Math.min(x, 99)).padStart(2, '0');
  const prefix = `t${ver}${exts.includes(0) ? 'd' : 'i'}${n(ciphers.length)}${n(exts.length)}${a}`;
  const c = ciphers.map(hex4).sort().join(',');
  const e = exts.filter((t) => t !== 0 && t !== 16).map(hex4).sort().join(',');
  const s = list(f['tls.handshake.sig_hash_alg']).map(hex4).join(',');
  return `${prefix}_${c ? sha12(c) : '000000000000'}_${e ? sha12(s ? `${e}_${s}` : e) : '000000000000'}`;
}

const HELLO_FIELDS = ['ip.src', 'tcp.srcport', 'ip.dst', 'tcp.dstport', 'tls.handshake.ja3', 'tls.handshake.ciphersuite', 'tls.handshake.extension.type', 'tls.handshake.sig_hash_alg', 'tls.handshake.extensions.supported_version', 'tls.handshake.version', 'tls.handshake.extensions_alpn_str'];

function tshark(file: string, filter: string, fields: string[]): Record<string, string>[] {
  // 8443 is where several corpus devices speak TLS; tshark only guesses it on some flows.
  const args = ['-n', '-r', file, '-d', 'tcp.port==8443,tls', '-Y', filter, '-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=,', ...fields.flatMap((f) => ['-e', f])];
  const out = execFileSync('tshark', args, { encoding: 'utf8', maxBuffer: 1 << 28 });
  return out.split('\n').filter(Boolean).map((l) => Object.fromEntries(l.split('\t').map((v, i) => [fields[i], v])));
}

const flowKey = (f: FlowRecord) => `${f.src_ip}:${f.src_port} ${f.dst_ip}:${f.dst_port}`;

function analyze(input: string, name: string): FlowRecord[] {
  const out = join(tmp, name);
  const r = phonehome(['analyze', input, '--no-profiles', '--out', out]);
  expect(r.code, r.stderr).toBe(0);
  return readFileSync(join(out, 'flows.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

/** Per client/server pair: the set of fingerprints seen (a pair may recur over a long capture). */
function byKey<T>(items: T[], key: (t: T) => string, value: (t: T) => string | null): Map<string, string> {
  const m = new Map<string, Set<string>>();
  for (const t of items) {
    const v = value(t);
    if (v !== null) m.set(key(t), (m.get(key(t)) ?? new Set()).add(v));
  }
  return new Map([...m].map(([k, s]) => [k, [...s].sort().join(' ')]).sort());
}

interface TsharkTls {
  /** every ClientHello, by client and server address and port (SSLv2-format hellos have no JA3 and are left out) */
  hellos: TsharkHello[];
  /** the server's leaf certificate of each TLS 1.2-or-older session as tshark reassembles it, by client and server */
  leaves: Map<string, Buffer>;
  /** sessions with a segment missing from the capture, by client and server */
  lost: Set<string>;
}

/** One tshark pass over a capture: a pass costs seconds on the corpus. */
function tsharkTls(file: string): TsharkTls {
  const fields = [...HELLO_FIELDS, 'tls.handshake.type', 'tls.handshake.certificate', 'tcp.analysis.lost_segment'];
  const rows = tshark(file, 'tls.handshake.type == 1 || tls.handshake.type == 11 || tcp.analysis.lost_segment', fields);
  const view: TsharkTls = { hellos: [], leaves: new Map(), lost: new Set() };
  for (const r of rows) {
    const fwd = `${r['ip.src']}:${r['tcp.srcport']} ${r['ip.dst']}:${r['tcp.dstport']}`;
    const back = `${r['ip.dst']}:${r['tcp.dstport']} ${r['ip.src']}:${r['tcp.srcport']}`;
    const types = r['tls.handshake.type'].split(',');
    if (types.includes('1') && r['tls.handshake.ja3'] !== '') view.hellos.push({ key: fwd, ja3: r['tls.handshake.ja3'], ja4: ja4FromTshark(r) });
    if (types.includes('11') && !view.leaves.has(back)) view.leaves.set(back, Buffer.from(r['tls.handshake.certificate'].split(',')[0].replace(/:/g, ''), 'hex'));
    if (r['tcp.analysis.lost_segment'] !== '') view.lost.add(back);
  }
  return view;
}

const opensslText = new Map<string, string>();
const opensslVerified = new Map<string, boolean>();

/** What the openssl command says of a leaf: issued by itself, its notAfter, and whether `sni` matches it. */
function opensslFacts(der: Buffer, sni: string | null, ts: number): { selfSigned: boolean; expired: boolean; nameMismatch: boolean | null } {
  const pem = join(tmp, `${createHash('sha1').update(der).digest('hex')}.pem`);
  if (!existsSync(pem)) writeFileSync(pem, pemOf(der));
  const asked = `${pem} ${sni}`;
  if (!opensslText.has(asked)) opensslText.set(asked, execFileSync('openssl', ['x509', '-in', pem, '-noout', '-subject', '-issuer', '-enddate', ...(sni ? ['-checkhost', sni] : [])], { encoding: 'utf8' }));
  if (!opensslVerified.has(pem)) opensslVerified.set(pem, spawnSync('openssl', ['verify', '-CAfile', pem, pem], { encoding: 'utf8' }).status === 0);
  const text = opensslText.get(asked)!;
  const field = (name: string) => new RegExp(`^${name}=(.*)$`, 'm').exec(text)![1];
  return {
    selfSigned: field('subject') === field('issuer') && opensslVerified.get(pem)!,
    expired: ts * 1000 > Date.parse(field('notAfter')),
    nameMismatch: sni ? text.includes('does NOT match') : null,
  };
}

describe('the committed capture', () => {
  const certs = () => ({ selfSigned: readFileSync(join(DIR, 'self-signed.der')), leaf: readFileSync(join(DIR, 'leaf.der')), ca: readFileSync(join(DIR, 'ca.der')) });

  it('is what tests/helpers/tls.ts builds from the certificates beside it', async () => {
    // PHONEHOME_WRITE_FIXTURES=1 writes it anew (after changing the builder or the certificates).
    if (process.env.PHONEHOME_WRITE_FIXTURES === '1') writePcap(CAPTURE, 1, fixtureSessions(certs(), TIMES));
    const want = join(tmp, 'built.pcap');
    writePcap(want, 1, fixtureSessions(certs(), TIMES));
    expect(readFileSync(CAPTURE).equals(readFileSync(want))).toBe(true);
    expect((await readWithPcapParser(CAPTURE)).packets.length).toBeGreaterThan(20);
  });

  describe('analyzed', () => {
    let flows: FlowRecord[];
    beforeAll(() => {
      flows = analyze(CAPTURE, 'fixture').filter((f) => f.src_ip === FIXTURE_CLIENT.ip).sort((a, b) => a.src_port - b.src_port);
    });

    it('has the JA3 tshark computes and the JA4 of tshark\'s lists, GREASE left out, with and without SNI and ALPN', () => {
      const { hellos } = tsharkTls(CAPTURE);
      expect(hellos).toHaveLength(3);
      expect(byKey(flows, flowKey, (f) => f.ja3)).toEqual(byKey(hellos, (h) => h.key, (h) => h.ja3));
      expect(byKey(flows, flowKey, (f) => f.ja4)).toEqual(byKey(hellos, (h) => h.key, (h) => h.ja4));
      // JA4's readable part, from how the hellos were made: 7 ciphers and 7 extensions without GREASE, then SNI and ALPN
      expect(flows.map((f) => f.ja4!.slice(0, 10))).toEqual(['t13i070700', 't13d0709h2', 't13d070800']);
    });

    it('has the certificate facts it was made with, where the certificate was in the clear', () => {
      const facts = (f: FlowRecord) => [f.sni, f.tls_self_signed, f.tls_cert_expired, f.tls_name_mismatch];
      expect(flows.map(facts)).toEqual([
        [null, true, true, null], // self-signed, expired by 2030, no SNI to compare
        ['device.example.net', false, false, true], // *.example.com does not cover example.net
        ['device.example.net', null, null, null], // TLS 1.3: encrypted
      ]);
    });

    it('agrees with the openssl command on the leaf tshark reassembles', () => {
      const { leaves } = tsharkTls(CAPTURE);
      expect(leaves.size).toBe(2);
      for (const f of flows.filter((x) => x.tls_self_signed !== null)) {
        expect(leaves.has(flowKey(f)), flowKey(f)).toBe(true);
        expect({ selfSigned: f.tls_self_signed, expired: f.tls_cert_expired, nameMismatch: f.tls_name_mismatch }).toEqual(opensslFacts(leaves.get(flowKey(f))!, f.sni, f.ts));
      }
    });
  });
});

describe('bounds', () => {
  it('reads a certificate over at most 6 server segments: the same flight cut finer is left unknown', () => {
    const certs = { leaf: readFileSync(join(DIR, 'leaf.der')), ca: readFileSync(join(DIR, 'ca.der')) };
    const flight = serverFlight([certs.leaf, certs.ca]);
    const leafEnd = flight.indexOf(certs.leaf) + certs.leaf.length;
    const hello = clientHello({ ciphers: [0xc02f], extensions: [ext.sni('a.example.com')] });
    // the leaf ends inside the 6th segment, or inside the 7th
    const fits = Math.ceil(leafEnd / 6);
    const tooFine = Math.ceil(leafEnd / 7) - 1;
    expect(Math.ceil(leafEnd / tooFine)).toBeGreaterThan(6);
    const file = join(tmp, 'bounds.pcap');
    writePcap(file, 1, [
      ...tlsSession(TIMES.valid, FIXTURE_CLIENT, FIXTURE_SERVER, hello, flight, fits),
      ...tlsSession(TIMES.valid + 10, { ...FIXTURE_CLIENT, port: 41000 }, FIXTURE_SERVER, hello, flight, tooFine),
    ]);
    const flows = analyze(file, 'bounds').filter((f) => f.src_ip === FIXTURE_CLIENT.ip).sort((a, b) => a.src_port - b.src_port);
    expect(flows.map((f) => [f.src_port, f.tls_self_signed, f.tls_name_mismatch])).toEqual([[FIXTURE_CLIENT.port, false, false], [41000, null, null]]);
  });

  it('two workers give the flows one thread gives', () => {
    const one = join(tmp, 'one');
    const two = join(tmp, 'two');
    expect(phonehome(['analyze', CAPTURE, '--no-profiles', '--out', one]).code).toBe(0);
    expect(phonehome(['analyze', CAPTURE, '--no-profiles', '--out', two, '--workers', '2']).code).toBe(0);
    expect(readFileSync(join(two, 'flows.jsonl'), 'utf8')).toBe(readFileSync(join(one, 'flows.jsonl'), 'utf8'));
  });
});

describe.skipIf(!corpusAvailable())('the corpus', () => {
  let flows: FlowRecord[];
  let seen: TsharkTls;
  beforeAll(() => {
    const files = readdirSync(CORPUS_DIR, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.pcap')).sort().map((f) => join(CORPUS_DIR, f));
    // One tshark run over all captures back to back: a run per file costs minutes.
    const merged = join(tmp, 'corpus.pcap');
    execFileSync('mergecap', ['-F', 'pcap', '-a', '-w', merged, ...files]);
    seen = tsharkTls(merged);
    flows = analyze(CORPUS_DIR, 'corpus');
  }, 120_000);

  it('every ClientHello has tshark\'s JA3, and the JA4 of tshark\'s lists', () => {
    const { hellos } = seen;
    expect(hellos.length).toBeGreaterThan(1000);
    expect(byKey(flows, flowKey, (f) => f.ja3)).toEqual(byKey(hellos, (h) => h.key, (h) => h.ja3));
    expect(byKey(flows, flowKey, (f) => f.ja4)).toEqual(byKey(hellos, (h) => h.key, (h) => h.ja4));
  }, 60_000);

  it('certificate facts are there exactly where tshark sees a certificate, and the openssl command agrees with them', () => {
    const { leaves, lost } = seen;
    const withFacts = flows.filter((f) => f.tls_self_signed !== null);
    expect(withFacts.length).toBeGreaterThan(500);
    const ours = new Set(withFacts.map(flowKey));
    expect([...leaves.keys()].filter((k) => !ours.has(k))).toEqual([]);
    // A server segment lost from the capture after the leaf: tshark gives up the whole
    // Certificate message, while the leaf had arrived whole before the loss.
    expect([...ours].filter((k) => !leaves.has(k) && !lost.has(k))).toEqual([]);
    for (const f of withFacts.filter((x) => leaves.has(flowKey(x)))) {
      expect({ selfSigned: f.tls_self_signed, expired: f.tls_cert_expired, nameMismatch: f.tls_name_mismatch }, flowKey(f)).toEqual(opensslFacts(leaves.get(flowKey(f))!, f.sni, f.ts));
    }
  }, 120_000);
});
