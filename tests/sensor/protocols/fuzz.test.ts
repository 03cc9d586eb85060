import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseDhcp, parseDhcp6 } from '../../../sensor/protocols/dhcp.js';
import { parseDns } from '../../../sensor/protocols/dns.js';
import { parseHttpRequest } from '../../../sensor/protocols/http.js';
import { parseSsdp } from '../../../sensor/protocols/ssdp.js';
import { parseClientHello } from '../../../sensor/protocols/tls.js';
import {
  ascii, clientHello, clientHelloHandshake, dhcp4, dhcp6, dhcp6Option, dhcpOption, dnsHeader, dnsName, ptr, question, rr, tlsRecord, u16, u32,
} from './build.js';

type Parser = (b: Buffer, off: number, len: number) => unknown;
const PARSERS: [string, Parser][] = [
  ['dns', parseDns],
  ['dns-addresses', (b, off, len) => parseDns(b, off, len, true)],
  ['tls', parseClientHello],
  ['http', parseHttpRequest],
  ['ssdp', parseSsdp],
  ['dhcp', parseDhcp],
  ['dhcp6', parseDhcp6],
];

const hs = clientHelloHandshake({ sni: 'seed.example', alpn: ['h2', 'http/1.1'] });
const SEEDS: number[][] = [
  [
    ...dnsHeader(1, 0x8180, 1, 2, 0, 1),
    ...question(dnsName('www.example.com'), 1),
    ...rr(ptr(12), 5, 60, [3, ...ascii('cdn'), ...ptr(16)]),
    ...rr(ptr(45), 1, 60, [93, 184, 216, 34]),
    ...rr(dnsName(''), 41, 0, []),
  ],
  [
    ...dnsHeader(0, 0x8400, 0, 1, 0, 2),
    ...rr(dnsName('_ipp._tcp.local'), 12, 4500, [3, ...ascii('prn'), ...ptr(12)], 0x8001),
    ...rr(ptr(39), 33, 120, [...u16(0), ...u16(0), ...u16(631), 3, ...ascii('prn'), ...ptr(22)], 0x8001),
    ...rr(ptr(39), 16, 120, [4, ...ascii('rp=x'), 3, ...ascii('a=b')], 0x8001),
  ],
  clientHello({ sni: 'seed.example', alpn: ['h2', 'http/1.1'] }),
  [...tlsRecord(0x0301, hs.slice(0, 30)), ...tlsRecord(0x0303, hs.slice(30))],
  ascii('GET /index.html HTTP/1.1\r\nHost: seed.example:81\r\nUser-Agent: seed/1.0\r\n\r\n'),
  ascii('NOTIFY * HTTP/1.1\r\nLOCATION: http://10.0.0.2/d.xml\r\nNT: upnp:rootdevice\r\nUSN: uuid:1\r\nSERVER: s\r\n\r\n'),
  ascii('HTTP/1.1 200 OK\r\nST: ssdp:all\r\nUSN: uuid:2\r\n\r\n'),
  dhcp4({ options: [...dhcpOption(53, [3]), ...dhcpOption(12, ascii('host')), ...dhcpOption(55, [1, 3, 6]), ...dhcpOption(60, ascii('vc')), ...dhcpOption(161, ascii('https://m/x')), ...dhcpOption(50, [10, 0, 0, 9]), 255] }),
  dhcp6(1, [...dhcp6Option(1, [0, 3, 0, 1, 1, 2, 3, 4, 5, 6]), ...dhcp6Option(39, [0, 1, ...ascii('a'), 0]), ...dhcp6Option(16, [...u32(9), ...u16(1), 0x7a]), ...dhcp6Option(112, ascii('https://m/y'))]),
];

// Sometimes a copy of the payload itself, so that an over-read finds plausible bytes rather than noise.
const surround = (payload: Uint8Array) =>
  fc.oneof(
    fc.uint8Array({ maxLength: 80 }),
    fc.constantFrom(0x00, 0xc0, 0xff, 0x0a).chain((v) => fc.nat(80).map((n) => new Uint8Array(n).fill(v))),
    fc.nat(3).map((k) => Uint8Array.from(Array.from({ length: k + 1 }, () => [...payload]).flat())),
  );

/** Runs every parser over the same payload in three different surroundings; all three must agree. */
function checkEverywhere(payload: Uint8Array, a: Uint8Array, b: Uint8Array, c: Uint8Array): void {
  const exact = Buffer.from(payload);
  const inA = Buffer.concat([a, payload, b]);
  const inB = Buffer.concat([c, payload, a]);
  for (const [name, parse] of PARSERS) {
    const r0 = JSON.stringify(parse(exact, 0, payload.length));
    const r1 = JSON.stringify(parse(inA, a.length, payload.length));
    const r2 = JSON.stringify(parse(inB, c.length, payload.length));
    if (r0 !== r1 || r0 !== r2) throw new Error(`${name} read outside its slice: ${r0} / ${r1} / ${r2}`);
  }
}

type Mutation = [kind: number, pos: number, value: number];

function mutate(seed: number[], muts: Mutation[]): Uint8Array {
  const out = [...seed];
  for (const [kind, pos, value] of muts) {
    const at = out.length === 0 ? 0 : pos % (out.length + 1);
    switch (kind) {
      case 0: if (at < out.length) out[at] ^= 1 << (value & 7); break;
      case 1: if (at < out.length) out[at] = value; break;
      case 2: out.length = at; break;
      case 3: out.splice(at, 0, value, value ^ 0xc0); break;
      case 4: out.splice(at, 1 + (value & 7)); break;
      default: if (at + 1 < out.length) { out[at] = 0; out[at + 1] = value; } // small length fields
    }
  }
  return Uint8Array.from(out);
}

const mutated = fc
  .tuple(fc.nat(SEEDS.length - 1), fc.array(fc.tuple(fc.nat(5), fc.nat(10_000), fc.nat(255)), { minLength: 1, maxLength: 6 }))
  .map(([i, muts]) => mutate(SEEDS[i], muts as Mutation[]));

describe('protocol parsers under hostile input', () => {
  it('accept the seeds', () => {
    const expectations = [
      () => parseDns(Buffer.from(SEEDS[0]), 0, SEEDS[0].length),
      () => parseDns(Buffer.from(SEEDS[1]), 0, SEEDS[1].length),
      () => parseClientHello(Buffer.from(SEEDS[2]), 0, SEEDS[2].length),
      () => parseClientHello(Buffer.from(SEEDS[3]), 0, SEEDS[3].length),
      () => parseHttpRequest(Buffer.from(SEEDS[4]), 0, SEEDS[4].length),
      () => parseSsdp(Buffer.from(SEEDS[5]), 0, SEEDS[5].length),
      () => parseSsdp(Buffer.from(SEEDS[6]), 0, SEEDS[6].length),
      () => parseDhcp(Buffer.from(SEEDS[7]), 0, SEEDS[7].length),
      () => parseDhcp6(Buffer.from(SEEDS[8]), 0, SEEDS[8].length),
    ];
    for (const run of expectations) {
      const r = run();
      expect(r).not.toBeNull();
      expect(r).not.toHaveProperty('error');
      expect(r).not.toHaveProperty('needMore');
    }
    expect(parseDns(Buffer.from(SEEDS[0]), 0, SEEDS[0].length)).toMatchObject({ answers: [{ data: 'cdn.example.com' }, { name: 'cdn.example.com', data: '93.184.216.34' }] });
    expect(parseDns(Buffer.from(SEEDS[1]), 0, SEEDS[1].length)).toMatchObject({ additionals: [{ data: '0 0 631 prn.local' }, { data: 'rp=x a=b' }] });
  });

  it('DNS read for addresses only fails exactly when the full read fails, and finds the same A/AAAA records', () => {
    // an A or AAAA record of the wrong size is shown as hex by the full read: it is no address
    const addresses = (rrs: { type: string; data: string }[]) => rrs.filter((r) => (r.type === 'A' && r.data.includes('.')) || (r.type === 'AAAA' && r.data.includes(':')));
    fc.assert(
      fc.property(fc.oneof(mutated.filter((m) => m.length > 0), fc.uint8Array({ maxLength: 300 })), (m) => {
        const b = Buffer.from(m);
        const full = parseDns(b, 0, b.length);
        const light = parseDns(b, 0, b.length, true);
        if ('error' in full) expect(light).toEqual(full);
        else expect(light).toEqual({ ...full, answers: addresses(full.answers), additionals: addresses(full.additionals) });
      }),
      { numRuns: 20_000 },
    );
  });

  it('random bytes: never throw and never look outside the slice', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 700 }).chain((p) => fc.tuple(fc.constant(p), surround(p), surround(p), surround(p))),
        ([p, a, b, c]) => checkEverywhere(p, a, b, c),
      ),
      { numRuns: 5000 },
    );
  });

  it('random bytes behind plausible first bytes', () => {
    const prefixes = [[0x16, 3, 1], ascii('GET / HTTP/1.1\r\n'), ascii('NOTIFY * HTTP/1.1\r\n'), [1, 1, 6, 0], [1, 0, 0, 0], [0, 0, 0x81, 0x80, 0, 1]];
    fc.assert(
      fc.property(
        fc.tuple(fc.constantFrom(...prefixes), fc.uint8Array({ maxLength: 400 })).map(([h, t]) => Uint8Array.from([...h, ...t]))
          .chain((p) => fc.tuple(fc.constant(p), surround(p), surround(p), surround(p))),
        ([p, a, b, c]) => checkEverywhere(p, a, b, c),
      ),
      { numRuns: 2000 },
    );
  });

  it('mutated valid messages: never throw and never look outside the slice', () => {
    fc.assert(
      fc.property(
        mutated.chain((p) => fc.tuple(fc.constant(p), surround(p), surround(p), surround(p))),
        ([p, a, b, c]) => checkEverywhere(p, a, b, c),
      ),
      { numRuns: 10000 },
    );
  });

  it('ranges that do not fit the buffer are refused without throwing', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.integer({ min: -5, max: 80 }), fc.integer({ min: -5, max: 80 }), (bytes, off, len) => {
        const b = Buffer.from(bytes);
        for (const [, parse] of PARSERS) parse(b, off, len);
      }),
    );
  });
});

describe('round trips', () => {
  const label = fc.stringMatching(/^[a-z0-9_-]{1,20}$/);
  const name = fc.array(label, { minLength: 1, maxLength: 5 }).map((l) => l.join('.'));

  it('DNS: names and addresses come back as built, pointers included', () => {
    fc.assert(
      fc.property(name, fc.array(fc.nat({ max: 0xffffffff }), { maxLength: 6 }), fc.nat({ max: 0x7fffffff }), (q, ips, ttl) => {
        const msg = [
          ...dnsHeader(0x1234, 0x8180, 1, ips.length, 0, 0),
          ...question(dnsName(q), 1),
          ...ips.flatMap((ip) => rr(ptr(12), 1, ttl, u32(ip))),
        ];
        const r = parseDns(Buffer.from(msg), 0, msg.length);
        expect(r).toEqual({
          id: 0x1234,
          isResponse: true,
          rcode: 0,
          query: q,
          qtype: 'A',
          answers: ips.map((ip) => ({ name: q, type: 'A', ttl, data: `${ip >>> 24}.${(ip >>> 16) & 255}.${(ip >>> 8) & 255}.${ip & 255}` })),
          additionals: [],
          answerCount: ips.length,
        });
      }),
    );
  });

  it('TLS: SNI and ALPN come back, and any split asks for exactly the rest', () => {
    const proto = fc.stringMatching(/^[\x21-\x7e]{1,12}$/);
    fc.assert(
      fc.property(name, fc.array(proto, { minLength: 1, maxLength: 4 }), fc.nat(), (sni, alpn, cutSeed) => {
        const rec = clientHello({ sni, alpn });
        const b = Buffer.from(rec);
        expect(parseClientHello(b, 0, b.length)).toMatchObject({ sni, alpn, version: 0x0303 });
        const cut = 9 + (cutSeed % (rec.length - 9));
        expect(parseClientHello(b, 0, cut)).toEqual({ needMore: rec.length });
      }),
    );
  });
});
