// JA4 against FoxIO's published expected outputs, and JA3 against tshark's.
//
// The JA4 vectors are FoxIO's own (github.com/FoxIO-LLC/ja4): the expected JA4 of their
// test captures, with the "JA4_ro" lists (ciphers, extensions and signature algorithms in
// wire order) of the same hellos, from python/test/testdata/*.json (the same JA4 values
// are in rust/ja4/src/snapshots/*.snap), and the worked examples of
// technical_details/JA4.md. Each hello is rebuilt here from those lists, byte for byte in
// that order, GREASE values added where the vector is about GREASE, and our JA4 of it must
// be the one FoxIO published. The JA3 of every hello is checked against tshark's.
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { fingerprints, isGrease, ja3, ja3String, ja4, ja4Alpn } from '../../../sensor/protocols/fingerprint.js';
import { parseClientHello, type ClientHello } from '../../../sensor/protocols/tls.js';
import { clientHello, ext, hexList, tlsSession, type Extension } from '../../helpers/tls.js';
import { writePcap, type TestPacket } from '../../helpers/pcap.js';

interface Vector {
  source: string;
  ja4: string;
  sni: string | null;
  alpn: string[] | null;
  /** "JA4_ro" lists, comma-separated hex, wire order */
  ciphers: string;
  extensions: string;
  sigAlgs: string;
  /** supported_versions, when the hello sends the extension */
  versions?: number[];
  grease?: boolean;
}

const CHROME_CIPHERS = '1301,1302,1303,c02b,c02f,c02c,c030,cca9,cca8,c013,c014,009c,009d,002f,0035';
const CHROME_SIGALGS = '0403,0804,0401,0503,0805,0501,0806,0601';

const VECTORS: Vector[] = [
  {
    source: 'FoxIO ja4 python/test/testdata/latest.pcapng.json, stream 1 (also technical_details/JA4.md)',
    ja4: 't13d1516h2_8daaf6152771_e5627efa2ab1',
    sni: 'pdx-col.eum-appdynamics.com',
    alpn: ['h2', 'http/1.1'],
    ciphers: CHROME_CIPHERS,
    extensions: '0023,ff01,0000,001b,0012,4469,002d,002b,000d,0010,0033,000a,0005,0017,000b,0015',
    sigAlgs: CHROME_SIGALGS,
    versions: [0x0304, 0x0303],
  },
  {
    source: 'the same hello with GREASE in ciphers, extensions, groups, versions and signature algorithms, as Chrome sends it',
    ja4: 't13d1516h2_8daaf6152771_e5627efa2ab1',
    sni: 'pdx-col.eum-appdynamics.com',
    alpn: ['h2', 'http/1.1'],
    ciphers: CHROME_CIPHERS,
    extensions: '0023,ff01,0000,001b,0012,4469,002d,002b,000d,0010,0033,000a,0005,0017,000b,0015',
    sigAlgs: CHROME_SIGALGS,
    versions: [0x0304, 0x0303],
    grease: true,
  },
  {
    source: 'FoxIO ja4 python/test/testdata/sigalg-grease.pcapng.json and rust/ja4/src/snapshots/ja4__insta@sigalg-grease.pcapng.snap',
    ja4: 't13d1517h2_8daaf6152771_cb7bf5808d99',
    sni: 'optimizationguide-pa.googleapis.com',
    alpn: ['h2', 'http/1.1'],
    ciphers: CHROME_CIPHERS,
    extensions: 'fe0d,0010,0017,0033,44cd,ff01,000a,000d,0023,002b,000b,ca34,002d,0000,0005,001b,0012',
    sigAlgs: '0904,0905,0906,0403,0804,0401,0503,0805,0501,0806,0601',
    versions: [0x0304, 0x0303],
    grease: true,
  },
  {
    source: 'FoxIO ja4 python/test/testdata/latest.pcapng.json, stream 3: TLS 1.2, no ALPN',
    ja4: 't12d190800_d83cc789557e_7af1ed941c26',
    sni: 'discovery.cem.cloud.us',
    alpn: null,
    ciphers: 'c02c,c02b,c030,c02f,c024,c023,c028,c027,c00a,c009,c014,c013,009d,009c,003d,003c,0035,002f,000a',
    extensions: '0000,0005,000a,000b,000d,0023,0017,ff01',
    sigAlgs: '0804,0805,0806,0401,0501,0201,0403,0503,0203,0202,0601,0603',
  },
  {
    source: 'FoxIO ja4 python/test/testdata/ipv6.pcapng.json and rust/ja4/src/snapshots/ja4__insta@tls-alpn-h2.pcap.snap: 46 ciphers',
    ja4: 't12d4605h2_85626a9a5f7f_aaf95bb78ec9',
    sni: 'www.cloudflare.com',
    alpn: ['h2', 'http/1.1'],
    ciphers:
      'c030,c02c,c028,c024,c014,c00a,009f,006b,0039,cca9,cca8,ccaa,ff85,00c4,0088,0081,009d,003d,0035,00c0,0084,c02f,c02b,c027,c023,c013,c009,009e,0067,0033,00be,0045,009c,003c,002f,00ba,0041,c011,c007,0005,0004,c012,c008,0016,000a,00ff',
    extensions: '0000,000b,000a,000d,0010',
    sigAlgs: '0601,0603,efef,0501,0503,0401,0403,eeee,eded,0301,0303,0201,0203',
  },
  {
    source: 'FoxIO ja4 python/test/testdata/badcurveball.pcap.json',
    ja4: 't13d1615h2_46e7e9700bed_45f260be83e2',
    sni: 'bad.curveballtest.com',
    alpn: ['h2', 'http/1.1'],
    ciphers: `${CHROME_CIPHERS},000a`,
    extensions: '0000,0017,ff01,000a,000b,0023,0010,0005,000d,0012,0033,002d,002b,001b,0015',
    sigAlgs: `${CHROME_SIGALGS},0201`,
    versions: [0x0304, 0x0303],
  },
  {
    // Not a published capture: the first vector without its server_name extension. JA4.md
    // leaves SNI out of the extension hash, so only the prefix may change ("i", one extension less).
    source: 'JA4.md rule applied to the first vector: no SNI',
    ja4: 't13i1515h2_8daaf6152771_e5627efa2ab1',
    sni: null,
    alpn: ['h2', 'http/1.1'],
    ciphers: CHROME_CIPHERS,
    extensions: '0023,ff01,001b,0012,4469,002d,002b,000d,0010,0033,000a,0005,0017,000b,0015',
    sigAlgs: CHROME_SIGALGS,
    versions: [0x0304, 0x0303],
    grease: true,
  },
];

const GREASE = [0x0a0a, 0x1a1a, 0x2a2a, 0x3a3a, 0x4a4a, 0x5a5a, 0x6a6a, 0x7a7a, 0x8a8a, 0x9a9a, 0xaaaa, 0xbaba, 0xcaca, 0xdada, 0xeaea, 0xfafa];

/** The hello a vector describes, with GREASE where Chrome puts it when the vector asks. */
function helloOf(v: Vector): Buffer {
  const g = (list: number[], at: number) => (v.grease ? [GREASE[at], ...list] : list);
  const data = (type: number): Extension => {
    switch (type) {
      case 0x0000: return ext.sni(v.sni!);
      case 0x0010: return ext.alpn(v.alpn!);
      case 0x000d: return ext.sigAlgs(g(hexList(v.sigAlgs), 5));
      case 0x002b: return ext.versions(g(v.versions!, 4));
      case 0x000a: return ext.groups(g([0x001d, 0x0017, 0x0018], 3));
      case 0x000b: return ext.pointFormats([0]);
      default: return ext.empty(type);
    }
  };
  const extensions = hexList(v.extensions).map(data);
  if (v.grease) {
    extensions.unshift(ext.empty(GREASE[1]));
    extensions.push([GREASE[2], [0]]);
  }
  return clientHello({ ciphers: g(hexList(v.ciphers), 0), extensions });
}

function parsed(b: Buffer): ClientHello {
  const r = parseClientHello(b, 0, b.length);
  if (r === null || !('ciphers' in r)) throw new Error(`not a hello: ${JSON.stringify(r)}`);
  return r;
}

describe('JA4 reproduces FoxIO\'s published fingerprints', () => {
  for (const v of VECTORS) {
    it(`${v.ja4} (${v.source})`, () => {
      expect(ja4(parsed(helloOf(v)))).toBe(v.ja4);
    });
  }

  it('gives the same fingerprints remembered as computed: every vector twice over, and the same hello with another ALPN or without SNI', () => {
    for (let round = 0; round < 2; round++) {
      for (const v of VECTORS) expect(fingerprints(parsed(helloOf(v)))).toEqual({ ja3: ja3(parsed(helloOf(v))), ja4: v.ja4 });
    }
    const base = { ciphers: [0x1301, 0x1302], extensions: [ext.sni('a.example'), ext.alpn(['h2'])] };
    const variants = [
      clientHello(base),
      clientHello({ ...base, extensions: [ext.sni('a.example'), ext.alpn(['http/1.1'])] }),
      clientHello({ ...base, extensions: [ext.alpn(['h2'])] }),
    ].map(parsed);
    const got = variants.map((h) => fingerprints(h).ja4);
    expect(got).toEqual(variants.map(ja4));
    expect(new Set(got).size).toBe(3);
  });

  it('hashes the extensions alone, without an underscore, when there are no signature algorithms (JA4.md: 6d807ffa2a79)', () => {
    const types = hexList('0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01');
    const h = parsed(clientHello({ ciphers: [0x1301], extensions: types.map((t) => (t === 0x000d ? ext.sigAlgs([]) : ext.empty(t))) }));
    expect(ja4(h).split('_')[2]).toBe('6d807ffa2a79');
  });

  it('writes twelve zeros for an empty cipher or extension list (JA4.md)', () => {
    expect(ja4(parsed(clientHello({ ciphers: [], extensions: [ext.sni('a.example')] })))).toBe('t12d000100_000000000000_000000000000');
    expect(ja4(parsed(clientHello({ version: 0x0301, ciphers: [0x002f, GREASE[7]], extensions: [] })))).toMatch(/^t10i010000_[0-9a-f]{12}_000000000000$/);
  });

  it('takes the ALPN characters as JA4.md\'s examples say, from the hex form when either end is not alphanumeric', () => {
    const cases: [string, string][] = [['h2', 'h2'], ['http/1.1', 'h1'], ['x', 'xx'], ['\xab', 'ab'], ['\xab\xcd', 'ad'], ['0\xab', '3b'], ['01\xab\xcd', '3d'], ['0\xab\xcd1', '01']];
    for (const [alpn, want] of cases) expect(ja4Alpn(alpn), JSON.stringify(alpn)).toBe(want);
    expect(ja4Alpn(null)).toBe('00');
    // the same through a hello on the wire
    expect(ja4(parsed(clientHello({ ciphers: [0x1301], extensions: [ext.alpn(['0\xab\xcd1', 'h2'])] })))).toMatch(/^t12i010101_/);
  });

  it('reads the version from supported_versions (highest, GREASE left out), else from the hello; counts stop at 99', () => {
    const v = (version: number, versions?: number[]) => ja4(parsed(clientHello({ version, ciphers: [0x1301], extensions: versions ? [ext.versions(versions)] : [] }))).slice(0, 3);
    expect(v(0x0303, [0xfafa, 0x0303, 0x0304])).toBe('t13');
    expect(v(0x0303, [0x0302, 0x0301])).toBe('t11');
    expect(v(0x0301)).toBe('t10');
    expect(v(0x0300)).toBe('ts3');
    expect(v(0x0305)).toBe('t00');
    const many = Array.from({ length: 120 }, (_, i) => 0x0100 + i);
    expect(ja4(parsed(clientHello({ ciphers: many, extensions: [] }))).slice(4, 8)).toBe('9900');
  });

  it('knows the sixteen GREASE values of RFC 8701 and nothing else', () => {
    const found = Array.from({ length: 65536 }, (_, v) => v).filter(isGrease);
    expect(found).toEqual(GREASE);
  });
});

describe('JA3 agrees with tshark on the same hellos', () => {
  const hellos = [...VECTORS.map(helloOf), clientHello({ version: 0x0301, ciphers: [0x002f, 0x0035], extensions: [] })];
  const fromTshark = new Map<number, { ja3: string; full: string }>();

  beforeAll(() => {
    const dir = mkdtempSync(join(tmpdir(), 'phonehome-ja3-'));
    const file = join(dir, 'hellos.pcap');
    const packets: TestPacket[] = hellos.flatMap((h, i) =>
      tlsSession(1_700_000_000 + i, { mac: '02:00:00:00:00:01', ip: '192.168.1.10', port: 40000 + i }, { mac: '02:00:00:00:00:02', ip: '203.0.113.7', port: 443 }, h, Buffer.alloc(0)),
    );
    writePcap(file, 1, packets);
    const r = spawnSync('tshark', ['-n', '-r', file, '-Y', 'tls.handshake.type == 1', '-T', 'fields', '-e', 'tcp.srcport', '-e', 'tls.handshake.ja3', '-e', 'tls.handshake.ja3_full'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    for (const line of r.stdout.trim().split('\n')) {
      const [port, j, full] = line.split('\t');
      fromTshark.set(Number(port) - 40000, { ja3: j, full });
    }
  });

  it('every hello, GREASE or not, gives tshark\'s JA3 string and hash', () => {
    expect(fromTshark.size).toBe(hellos.length);
    hellos.forEach((h, i) => {
      const hello = parsed(h);
      expect({ ja3: ja3(hello), full: ja3String(hello) }, VECTORS[i]?.source ?? 'no extensions').toEqual(fromTshark.get(i));
    });
  });
});
