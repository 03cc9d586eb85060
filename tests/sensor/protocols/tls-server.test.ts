// The server's first flight and what its certificate says, on real certificates made by
// the openssl command for each case (self-signed or issued by a CA, with or without
// subjectAltName, wildcards), split over records and segments in every way.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { CertificateJudge, certificateFacts, serverCertificate } from '../../../sensor/protocols/tls-server.js';
import { certificateMessage, makeCa, makeCert, pemOf, record, serverFlight, serverHello, type TestCa } from '../../helpers/tls.js';

const NOW = Date.now() / 1000;
const DAY = 86400;

let ca: TestCa;
let leaf: Buffer;
let caDer: Buffer;
beforeAll(() => {
  ca = makeCa('Test Root');
  caDer = execFileSync('openssl', ['x509', '-in', ca.cert, '-outform', 'DER']);
  leaf = makeCert({ cn: 'api.example.com', san: ['api.example.com', '*.cdn.example.com'], ca });
});

describe('serverCertificate', () => {
  it('finds the leaf in a full TLS 1.2 flight', () => {
    expect(serverCertificate(serverFlight([leaf, caDer]))).toEqual({ cert: leaf });
  });

  it('asks for more on every prefix until the leaf is whole, then takes it without the rest of the chain', () => {
    const flight = serverFlight([leaf, caDer]);
    const leafEnd = flight.indexOf(leaf) + leaf.length;
    for (let n = 0; n < leafEnd; n++) expect(serverCertificate(flight.subarray(0, n)), `${n} bytes`).toEqual({ needMore: true });
    for (const n of [leafEnd, leafEnd + 1, flight.length - 1]) expect(serverCertificate(flight.subarray(0, n))).toEqual({ cert: leaf });
  });

  it('joins a certificate message fragmented over small records', () => {
    const flight = serverFlight([leaf, caDer], 100);
    expect(flight.length).toBeGreaterThan(serverFlight([leaf, caDer]).length + 5 * 5);
    expect(serverCertificate(flight)).toEqual({ cert: leaf });
  });

  it('sees no cleartext certificate in TLS 1.3, a resumed session, an empty list, or a non-TLS server', () => {
    expect(serverCertificate(record(0x0303, serverHello(0x1301, true)))).toEqual({ none: 'tls13' });
    const resumed = Buffer.concat([record(0x0303, serverHello(0xc02f)), record(0x0303, [1], 0x14)]);
    expect(serverCertificate(resumed)).toEqual({ none: 'no_certificate' });
    expect(serverCertificate(record(0x0303, [...serverHello(0xc02f), 11, 0, 0, 3, 0, 0, 0]))).toEqual({ none: 'no_certificate' });
    expect(serverCertificate(Buffer.from('SSH-2.0-OpenSSH_9.2\r\n'))).toEqual({ none: 'not_tls' });
    expect(serverCertificate(record(0x0303, [0, 0, 0, 0]))).toEqual({ none: 'not_tls' }); // HelloRequest first
  });

  it('refuses a leaf longer than its list', () => {
    const msg = certificateMessage([leaf]);
    msg[9] += 1; // the leaf's length, one byte more than the list holds
    expect(serverCertificate(record(0x0303, [...serverHello(0xc02f), ...msg]))).toEqual({ none: 'malformed' });
  });

  it('never throws on mutated flights', () => {
    const flight = [...serverFlight([leaf])];
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(flight.length - 1), fc.nat(255)), { maxLength: 8 }), fc.nat(flight.length), (edits, cut) => {
        const b = Buffer.from(flight.slice(0, cut));
        for (const [i, v] of edits) if (i < b.length) b[i] = v;
        const r = serverCertificate(b);
        expect('cert' in r || 'none' in r || 'needMore' in r).toBe(true);
        if ('cert' in r) certificateFacts(r.cert, 'x.example', NOW);
      }),
      { numRuns: 300 },
    );
  });
});

describe('certificateFacts', () => {
  it('tells a self-signed leaf from one issued by a CA', () => {
    const self = makeCert({ cn: 'camera.local' });
    expect(certificateFacts(self, null, NOW)).toEqual({ selfSigned: true, expired: false, nameMismatch: null });
    expect(certificateFacts(leaf, 'api.example.com', NOW)).toEqual({ selfSigned: false, expired: false, nameMismatch: false });
    // a CA's own certificate is self-signed too, whoever sends it as a leaf
    expect(certificateFacts(caDer, null, NOW)?.selfSigned).toBe(true);
  });

  it('judges expiry at the flow\'s time, not at the time of analysis', () => {
    const week = makeCert({ cn: 'short.example', days: 7 });
    expect(certificateFacts(week, null, NOW)?.expired).toBe(false);
    expect(certificateFacts(week, null, NOW + 8 * DAY)?.expired).toBe(true);
    expect(certificateFacts(week, null, NOW + 6 * DAY)?.expired).toBe(false);
  });

  it('matches the SNI as openssl -checkhost does: SAN over CN, one whole left-most label per wildcard', () => {
    const cnOnly = makeCert({ cn: 'device.example.org' });
    const dir = mkdtempSync(join(tmpdir(), 'phonehome-checkhost-'));
    const cases: [Buffer, string, boolean][] = [
      [leaf, 'api.example.com', false],
      [leaf, 'API.Example.COM', false],
      [leaf, 'api.example.com.', false],
      [leaf, 'img.cdn.example.com', false],
      [leaf, 'cdn.example.com', true],
      [leaf, 'a.b.cdn.example.com', true],
      [leaf, 'example.com', true],
      [leaf, 'evil-api.example.com', true],
      [cnOnly, 'device.example.org', false],
      [cnOnly, 'other.example.org', true],
    ];
    for (const [der, sni, mismatch] of cases) {
      expect(certificateFacts(der, sni, NOW)?.nameMismatch, sni).toBe(mismatch);
      // openssl's own answer, on names it takes as given (it has no trailing-dot rule)
      if (sni.endsWith('.')) continue;
      const pem = join(dir, 'c.pem');
      writeFileSync(pem, pemOf(der));
      const out = execFileSync('openssl', ['x509', '-in', pem, '-noout', '-checkhost', sni], { encoding: 'utf8' });
      expect(out.includes('does NOT match'), `openssl on ${sni}`).toBe(mismatch);
    }
  });

  it('a name off the wire that openssl will not compare is a mismatch; bytes that are no certificate give nothing', () => {
    expect(certificateFacts(leaf, 'api.example.com\u0000.evil', NOW)?.nameMismatch).toBe(true);
    expect(certificateFacts(Buffer.from('not a certificate'), 'a.example', NOW)).toBeNull();
    expect(certificateFacts(leaf.subarray(0, leaf.length - 10), 'a.example', NOW)).toBeNull();
  });

  it('one judge tells apart certificates of the same length and signature tail (a forged copy gets its own answer, not the cached one)', () => {
    const self = makeCert({ cn: 'camera.local' });
    const at = self.lastIndexOf(Buffer.from('camera.local'));
    const forged = Buffer.from(self);
    forged[at] ^= 0x01;
    const broken = Buffer.from(self);
    broken[0] = 0x05;
    const judge = new CertificateJudge();
    expect(judge.facts(self, null, NOW)?.selfSigned).toBe(true);
    // its signature no longer verifies with its own key
    expect(judge.facts(forged, null, NOW)?.selfSigned).toBe(false);
    expect(judge.facts(broken, null, NOW)).toBeNull();
    expect(judge.facts(self, null, NOW)?.selfSigned).toBe(true);
    expect(judge.facts(forged, null, NOW)?.selfSigned).toBe(false);
  });
});
