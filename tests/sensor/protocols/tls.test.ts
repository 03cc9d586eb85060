import { describe, expect, it } from 'vitest';
import { parseClientHello, type TlsResult } from '../../../sensor/protocols/tls.js';
import { ascii, clientHello, clientHelloHandshake, embed, hex, tlsRecord, u16 } from './build.js';

function parse(bytes: number[], before = 11, after = 13): TlsResult | null {
  const { b, off, len } = embed(bytes, before, after);
  return parseClientHello(b, off, len);
}

// GREASE, supported_versions and key_share-like padding around the extensions we read
const MODERN = clientHello({
  sni: 'api.example.com',
  alpn: ['h2', 'http/1.1'],
  extensions: [[0x0a0a, []], [43, [4, 0x03, 0x04, 0x03, 0x03]], [21, new Array<number>(300).fill(0)]],
});

describe('parseClientHello', () => {
  it('reads SNI, ALPN and the client version', () => {
    expect(parse(MODERN)).toMatchObject({ sni: 'api.example.com', alpn: ['h2', 'http/1.1'], version: 0x0303 });
  });

  it('parses a real TLS 1.0 hello with SNI and no ALPN', () => {
    // a D-Link camera talking to fs.xbcs.net
    const real = hex(`160301006f0100006b030157b5c561eb0ee748efcbd15a24848d3d2a93edffa2befb741ec9febb2e51315800002e00390038
      003500160013000a00330032009a0099002f0096000500040015001200090014001100080006000300ff0100001400000010000e00000b66732e78
      6263732e6e6574`);
    expect(parse(real)).toMatchObject({ sni: 'fs.xbcs.net', alpn: null, version: 0x0301 });
  });

  it('accepts a hello without extensions', () => {
    expect(parse(clientHello({ noExtensions: true, version: 0x0300, recordVersion: 0x0300 }))).toMatchObject({ sni: null, alpn: null, version: 0x0300 });
  });

  it('takes the host_name entry of a server_name list', () => {
    const entries = [1, ...u16(3), ...ascii('abc'), 0, ...u16(5), ...ascii('h.com')];
    const hello = clientHello({ extensions: [[0, [...u16(entries.length), ...entries]]] });
    expect(parse(hello)).toMatchObject({ sni: 'h.com', alpn: null, version: 0x0303 });
  });

  it('returns null for anything that is not a ClientHello record', () => {
    expect(parse(ascii('GET / HTTP/1.1\r\n\r\n'))).toBeNull();
    expect(parse([0x17, 3, 3, 0, 5, 1, 2, 3, 4, 5])).toBeNull(); // application data
    expect(parse(tlsRecord(0x0303, [2, 0, 0, 0]))).toBeNull(); // ServerHello
    expect(parse([0x16, 2, 0, ...MODERN.slice(3)])).toBeNull();
    expect(parse([0x16, 3, 5, ...MODERN.slice(3)])).toBeNull();
    expect(parse([0x80, 0x2e, 1, 3, 1])).toBeNull(); // SSLv2-compatible hello
    expect(parse([])).toBeNull();
    expect(parse([0x16, 3])).toBeNull();
  });

  describe('reassembly', () => {
    it('asks for exactly the whole hello once its length is visible, and parses it when given', () => {
      expect(parse(MODERN.slice(0, 100))).toEqual({ needMore: MODERN.length });
      // a segment boundary right inside the ALPN extension
      const alpnAt = Buffer.from(MODERN).indexOf(Buffer.from('http/1.1'));
      expect(parse(MODERN.slice(0, alpnAt + 3))).toEqual({ needMore: MODERN.length });
      expect(parse(MODERN.slice(0, MODERN.length - 1))).toEqual({ needMore: MODERN.length });
      expect(parse(MODERN)).toMatchObject({ sni: 'api.example.com', alpn: ['h2', 'http/1.1'], version: 0x0303 });
    });

    it('gives a lower bound for every shorter prefix', () => {
      for (let n = 3; n < MODERN.length; n++) {
        const r = parse(MODERN.slice(0, n), 0, 0);
        expect(r !== null && 'needMore' in r && r.needMore > n && r.needMore <= MODERN.length).toBe(true);
      }
    });

    it('ignores what follows the hello', () => {
      expect(parse([...MODERN, 0x14, 3, 3, 0, 1, 1])).toMatchObject({ sni: 'api.example.com', alpn: ['h2', 'http/1.1'], version: 0x0303 });
    });

    it('joins a hello fragmented over several records', () => {
      const hs = clientHelloHandshake({ sni: 'frag.example', alpn: ['h2'] });
      const cuts = [7, 60, 61];
      const records = [
        ...tlsRecord(0x0301, hs.slice(0, cuts[0])),
        ...tlsRecord(0x0303, hs.slice(cuts[0], cuts[1])),
        ...tlsRecord(0x0303, hs.slice(cuts[1], cuts[2])),
        ...tlsRecord(0x0303, hs.slice(cuts[2])),
      ];
      const want = { sni: 'frag.example', alpn: ['h2'], version: 0x0303 };
      expect(parse(records)).toMatchObject(want);
      for (let n = 3; n < records.length; n++) {
        const r = parse(records.slice(0, n), 0, 0);
        expect(r !== null && 'needMore' in r && r.needMore > n && r.needMore <= records.length).toBe(true);
      }
    });

    it('rejects other records interleaved with the fragments', () => {
      const hs = clientHelloHandshake({ sni: 'x' });
      const bad = [...tlsRecord(0x0301, hs.slice(0, 20)), ...tlsRecord(0x0303, [1], 0x15), ...tlsRecord(0x0303, hs.slice(20))];
      expect(parse(bad)).toEqual({ error: 'tls_malformed' });
    });

    it('gives up on a hello that cannot fit the reassembly limit', () => {
      const hs = clientHelloHandshake({ extensions: [[21, new Array<number>(20000).fill(0)]] });
      expect(parse(tlsRecord(0x0301, hs.slice(0, 16384)))).toEqual({ error: 'tls_truncated' });
    });
  });

  describe('malformed hellos', () => {
    const hs = clientHelloHandshake({ sni: 'a.b', alpn: ['h2'] });
    const sniAt = hs.length - (4 + 2 + 1 + 2 + 3) - (4 + 2 + 1 + 2);

    it('rejects a record too short to hold the handshake header, or too long', () => {
      expect(parse([0x16, 3, 1, 0, 3, 1, 0, 0])).toEqual({ error: 'tls_malformed' });
      expect(parse([0x16, 3, 1, 0x40, 0x01, 1, 0, 0, 0])).toEqual({ error: 'tls_malformed' });
    });

    it('rejects an extensions block whose length disagrees with the hello', () => {
      const longer = [...hs];
      longer[3] += 1; // hello claims one more byte than its extensions cover
      expect(parse(tlsRecord(0x0301, [...longer, 0]))).toEqual({ error: 'tls_malformed' });
    });

    it('rejects inconsistent SNI and ALPN lengths', () => {
      expect(hs[sniAt + 1]).toBe(0); // extension type 0
      const sniList = [...hs];
      sniList[sniAt + 5] += 1; // server_name_list length
      expect(parse(tlsRecord(0x0301, sniList))).toEqual({ error: 'tls_malformed' });
      const nameLen = [...hs];
      nameLen[sniAt + 8] += 1; // host_name length
      expect(parse(tlsRecord(0x0301, nameLen))).toEqual({ error: 'tls_malformed' });
      const emptyProto = clientHelloHandshake({ alpn: ['h2', ''] });
      expect(parse(tlsRecord(0x0301, emptyProto))).toEqual({ error: 'tls_malformed' });
    });

    it('rejects a session id or cipher list running past the hello', () => {
      const sid = [...hs];
      sid[4 + 34] = 0xff;
      expect(parse(tlsRecord(0x0301, sid))).toEqual({ error: 'tls_malformed' });
      const ciphers = [...hs];
      ciphers[4 + 35 + 32] = 0xff;
      expect(parse(tlsRecord(0x0301, ciphers))).toEqual({ error: 'tls_malformed' });
      expect(parse(tlsRecord(0x0301, [1, 0, 0, 10, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0]))).toEqual({ error: 'tls_malformed' });
    });
  });
});
