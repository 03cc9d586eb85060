// TLS handshakes for tests, assembled field by field from RFC 5246/8446: ClientHellos
// from lists of values (so published fingerprint vectors can be replayed byte for byte),
// the server's first flight with real certificates made by the openssl command, and
// whole TCP sessions with true sequence numbers, so tshark reassembles them.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packet, TCP_FLAGS, tcpFrame, type Endpoint } from './build.js';
import type { TestPacket } from './pcap.js';

const u16 = (n: number) => [(n >> 8) & 255, n & 255];
const u24 = (n: number) => [(n >> 16) & 255, (n >> 8) & 255, n & 255];

export type Extension = [type: number, data: number[]];

export const ext = {
  sni: (name: string): Extension => {
    const entry = [0, ...u16(name.length), ...Buffer.from(name, 'latin1')];
    return [0x0000, [...u16(entry.length), ...entry]];
  },
  alpn: (protos: string[]): Extension => {
    const list = protos.flatMap((p) => [p.length, ...Buffer.from(p, 'latin1')]);
    return [0x0010, [...u16(list.length), ...list]];
  },
  groups: (g: number[]): Extension => [0x000a, [...u16(g.length * 2), ...g.flatMap(u16)]],
  pointFormats: (f: number[]): Extension => [0x000b, [f.length, ...f]],
  sigAlgs: (s: number[]): Extension => [0x000d, [...u16(s.length * 2), ...s.flatMap(u16)]],
  versions: (v: number[]): Extension => [0x002b, [v.length * 2, ...v.flatMap(u16)]],
  empty: (type: number): Extension => [type, []],
};

/** A ClientHello record: `version` is the hello's client_version; extensions in the order given. */
export function clientHello(o: { version?: number; ciphers: number[]; extensions: Extension[] }): Buffer {
  const exts = o.extensions.flatMap(([t, d]) => [...u16(t), ...u16(d.length), ...d]);
  const body = [
    ...u16(o.version ?? 0x0303),
    ...Array.from({ length: 32 }, (_, i) => (i * 7) & 255), // random
    0, // session id
    ...u16(o.ciphers.length * 2), ...o.ciphers.flatMap(u16),
    1, 0, // compression: null
    ...u16(exts.length), ...exts,
  ];
  return record(0x0301, [1, ...u24(body.length), ...body]);
}

export function record(version: number, fragment: number[], type = 0x16): Buffer {
  return Buffer.from([type, ...u16(version), ...u16(fragment.length), ...fragment]);
}

/** "1301,c02b,..." (JA4's raw lists) as numbers. */
export const hexList = (s: string): number[] => (s === '' ? [] : s.split(',').map((h) => parseInt(h, 16)));

/** A ServerHello choosing `cipher`; `tls13` adds supported_versions = TLS 1.3, as RFC 8446 servers do. */
export function serverHello(cipher: number, tls13 = false): number[] {
  const exts = tls13 ? [...u16(0x002b), ...u16(2), 3, 4] : [...u16(0xff01), ...u16(1), 0];
  const body = [3, 3, ...Array.from({ length: 32 }, (_, i) => 0x40 + i), 0, ...u16(cipher), 0, ...u16(exts.length), ...exts];
  return [2, ...u24(body.length), ...body];
}

/** A Certificate handshake message carrying `chain` (DER, leaf first). */
export function certificateMessage(chain: Buffer[]): number[] {
  const list = chain.flatMap((c) => [...u24(c.length), ...c]);
  return [11, ...u24(list.length + 3), ...u24(list.length), ...list];
}

/** The server's first flight of a TLS 1.2 full handshake: ServerHello, Certificate, ServerHelloDone, in records of at most `recordSize`. */
export function serverFlight(chain: Buffer[], recordSize = 16384): Buffer {
  const hs = [...serverHello(0xc02f), ...certificateMessage(chain), 14, 0, 0, 0];
  const out: Buffer[] = [];
  for (let i = 0; i < hs.length; i += recordSize) out.push(record(0x0303, hs.slice(i, i + recordSize)));
  return Buffer.concat(out);
}

/**
 * A TCP session: handshake, the client's `hello`, the server's `flight` cut into segments of
 * `mss` bytes (true sequence numbers), then a FIN from each side.
 */
export function tlsSession(t0: number, client: Endpoint, server: Endpoint, hello: Buffer, flight: Buffer, mss = 1380): TestPacket[] {
  const { SYN, ACK, PSH, FIN } = TCP_FLAGS;
  const cIsn = 1000;
  const sIsn = 50000;
  const out: TestPacket[] = [
    packet(t0, tcpFrame(client, server, SYN, undefined, cIsn)),
    packet(t0 + 0.01, tcpFrame(server, client, SYN | ACK, undefined, sIsn)),
    packet(t0 + 0.02, tcpFrame(client, server, ACK, undefined, cIsn + 1)),
    packet(t0 + 0.03, tcpFrame(client, server, PSH | ACK, hello, cIsn + 1)),
  ];
  let t = t0 + 0.04;
  for (let i = 0; i < flight.length; i += mss, t += 0.001) out.push(packet(t, tcpFrame(server, client, PSH | ACK, flight.subarray(i, i + mss), sIsn + 1 + i)));
  out.push(packet(t + 0.01, tcpFrame(client, server, FIN | ACK, undefined, cIsn + 1 + hello.length)));
  out.push(packet(t + 0.02, tcpFrame(server, client, FIN | ACK, undefined, sIsn + 1 + flight.length)));
  return out;
}

// ---- certificates made by the openssl command ----

const certDir = mkdtempSync(join(tmpdir(), 'phonehome-certs-'));
let certSeq = 0;

const openssl = (args: string[]) => execFileSync('openssl', args, { cwd: certDir, stdio: ['ignore', 'pipe', 'pipe'] });

export interface TestCa {
  cert: string;
  key: string;
}

/** A CA certificate and key (EC P-256), self-signed. */
export function makeCa(cn: string): TestCa {
  const n = ++certSeq;
  const cert = join(certDir, `ca${n}.pem`);
  const key = join(certDir, `ca${n}.key`);
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-subj', `/CN=${cn}`, '-days', '3650', '-addext', 'basicConstraints=critical,CA:TRUE']);
  return { cert, key };
}

/**
 * A leaf certificate (DER) for `cn` with the DNS names `san` (none: no subjectAltName),
 * valid for `days` from now, self-signed or issued by `ca`.
 */
export function makeCert(o: { cn: string; san?: string[]; days?: number; ca?: TestCa }): Buffer {
  const n = ++certSeq;
  const key = join(certDir, `leaf${n}.key`);
  const pem = join(certDir, `leaf${n}.pem`);
  const extFile = join(certDir, `leaf${n}.ext`);
  const days = String(o.days ?? 365);
  writeFileSync(extFile, o.san?.length ? `subjectAltName=${o.san.map((s) => `DNS:${s}`).join(',')}\n` : 'basicConstraints=CA:FALSE\n');
  if (o.ca) {
    const csr = join(certDir, `leaf${n}.csr`);
    openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${o.cn}`]);
    openssl(['x509', '-req', '-in', csr, '-CA', o.ca.cert, '-CAkey', o.ca.key, '-CAcreateserial', '-out', pem, '-days', days, '-extfile', extFile]);
  } else {
    openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', pem, '-subj', `/CN=${o.cn}`, '-days', days, '-extensions', 'v3_leaf', '-config', leafConfig(extFile)]);
  }
  return openssl(['x509', '-in', pem, '-outform', 'DER']);
}

/** An openssl config whose v3_leaf section is the extension file's lines. */
function leafConfig(extFile: string): string {
  const f = `${extFile}.cnf`;
  writeFileSync(f, `[req]\ndistinguished_name=dn\n[dn]\n[v3_leaf]\n${readFileSync(extFile, 'utf8')}`);
  return f;
}

/** A certificate's PEM form, for the openssl command. */
export function pemOf(der: Buffer): string {
  const b64 = der.toString('base64').replace(/(.{64})/g, '$1\n');
  return `-----BEGIN CERTIFICATE-----\n${b64}${b64.endsWith('\n') ? '' : '\n'}-----END CERTIFICATE-----\n`;
}

// ---- the committed capture tests/fixtures/tls/handshakes.pcap ----

export const FIXTURE_CLIENT: Endpoint = { mac: '02:7c:00:00:00:10', ip: '192.168.1.10', port: 40001 };
export const FIXTURE_SERVER: Endpoint = { mac: '02:7c:00:00:00:01', ip: '203.0.113.7', port: 443 };
/** Chrome's GREASE places: first cipher, first and last extension, first group, version and signature algorithm. */
export const GREASE_HELLO = {
  ciphers: [0x9a9a, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0x009c, 0x002f],
  extensions: (first: Extension[]): Extension[] => [
    ext.empty(0x3a3a), ...first, ext.empty(0x0017), ext.empty(0xff01), ext.groups([0x4a4a, 0x001d, 0x0017]), ext.pointFormats([0]),
    ext.sigAlgs([0x6a6a, 0x0403, 0x0804, 0x0401]), ext.versions([0x5a5a, 0x0304, 0x0303]), [0x0033, [0, 0]], [0x1a1a, [0]],
  ],
};

/**
 * Three TLS sessions from one client: a GREASE hello without SNI or ALPN answered by a
 * self-signed certificate that has expired by the session's time; a GREASE hello with SNI
 * and ALPN answered by a CA-issued certificate for other names; a TLS 1.3 answer (the
 * certificate encrypted). Certificates are cut over small segments.
 */
export function fixtureSessions(certs: { selfSigned: Buffer; leaf: Buffer; ca: Buffer }, t: { expired: number; valid: number }): TestPacket[] {
  const hello = (first: Extension[]) => clientHello({ ciphers: GREASE_HELLO.ciphers, extensions: GREASE_HELLO.extensions(first) });
  const other = { ...FIXTURE_CLIENT, port: FIXTURE_CLIENT.port + 1 };
  const third = { ...FIXTURE_CLIENT, port: FIXTURE_CLIENT.port + 2 };
  return [
    ...tlsSession(t.expired, FIXTURE_CLIENT, FIXTURE_SERVER, hello([]), serverFlight([certs.selfSigned]), 200),
    ...tlsSession(t.valid, other, FIXTURE_SERVER, hello([ext.sni('device.example.net'), ext.alpn(['h2', 'http/1.1'])]), serverFlight([certs.leaf, certs.ca]), 300),
    ...tlsSession(t.valid + 60, third, FIXTURE_SERVER, hello([ext.sni('device.example.net')]), record(0x0303, serverHello(0x1301, true))),
  ];
}
