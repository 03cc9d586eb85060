// HTTP request heads for the payload facts, and the credentials an
// Authorization header carries: the user name and the password's length.
import { describe, expect, it } from 'vitest';
import { parseAuthorization, parseRequestHead } from '../../../sensor/protocols/http-auth.js';
import { checkHostile } from './hostile.js';

const head = (s: string) => parseRequestHead(Buffer.from(s, 'latin1'), 0, s.length);
const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

describe('parseRequestHead', () => {
  it('reads the credential, SOAP and length headers and where the body starts', () => {
    const req = `POST /ctl HTTP/1.1\r\nHost: gw\r\nauthorization: Basic ${b64('a:b')}\r\nProxy-Authorization: Basic eDp5\r\nSOAPAction: "x#y"\r\nContent-Length: 4\r\n\r\nbody`;
    expect(head(req)).toEqual({ method: 'POST', authorization: `Basic ${b64('a:b')}`, proxyAuthorization: 'Basic eDp5', soapAction: '"x#y"', contentLength: 4, bodyOff: req.length - 4 });
  });

  it('says when the head does not end in the segment, and ignores a Content-Length that is not a number', () => {
    expect(head('GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1e3\r\n')).toMatchObject({ method: 'GET', contentLength: null, bodyOff: -1 });
    expect(head('GET / HTTP/1.0\n\n')).toMatchObject({ bodyOff: 16 });
  });

  it('is null for what is not an HTTP/1.x request', () => {
    for (const s of ['HTTP/1.1 200 OK\r\n\r\n', 'get / HTTP/1.1\r\n\r\n', 'GET / HTTP/2.0\r\n\r\n', 'GET / HTTP/1.1', '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03abcdefgh', 'SSH-2.0-dropbear\r\n']) expect(head(s), s).toBeNull();
  });

  it('never throws and reads only its slice, whatever the bytes', () => {
    // bodyOff is an index into the buffer: compared from the slice's start.
    const relative = (b: Buffer, off: number, len: number) => {
      const h = parseRequestHead(b, off, len);
      return h && { ...h, bodyOff: h.bodyOff < 0 ? -1 : h.bodyOff - off };
    };
    checkHostile(relative, [Buffer.from(`GET /a HTTP/1.1\r\nAuthorization: Basic ${b64('u:p')}\r\nContent-Length: 0\r\n\r\n`), Buffer.from('POST / HTTP/1.1\r\nSOAPAction: "a#AddPortMapping"\r\n\r\n<x/>')]);
  });
});

describe('parseAuthorization', () => {
  it('Basic: the user name before the first colon and the length of the rest (RFC 7617), in bytes', () => {
    expect(parseAuthorization(`Basic ${b64('admin:hunter22')}`)).toEqual({ scheme: 'basic', user: 'admin', passwordLength: 8 });
    expect(parseAuthorization(`basic   ${b64('admin:pa:ss')}`)).toEqual({ scheme: 'basic', user: 'admin', passwordLength: 5 });
    expect(parseAuthorization(`Basic ${b64('admin:pässwörd')}`)).toEqual({ scheme: 'basic', user: 'admin', passwordLength: 10 });
    expect(parseAuthorization(`Basic ${b64(':onlypw')}`)).toEqual({ scheme: 'basic', user: null, passwordLength: 6 });
  });

  it('Basic without a colon: the whole token is the secret', () => {
    expect(parseAuthorization(`Basic ${b64('tokentoken')}`)).toEqual({ scheme: 'basic', user: null, passwordLength: 10 });
  });

  it('Digest: the user name (quoted or not, escapes undone), no password length', () => {
    expect(parseAuthorization('Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b", uri="/dir/index.html", response="6629fae4"')).toEqual({ scheme: 'digest', user: 'Mufasa', passwordLength: null });
    expect(parseAuthorization('Digest realm="r", username=cam\\x')).toEqual({ scheme: 'digest', user: 'cam\\x5cx', passwordLength: null });
    expect(parseAuthorization('Digest username="a\\"b"')).toEqual({ scheme: 'digest', user: 'a"b', passwordLength: null });
    expect(parseAuthorization('Digest realm="x"')).toEqual({ scheme: 'digest', user: null, passwordLength: null });
  });

  it('is null for other schemes and for a Basic token that is not base64', () => {
    expect(parseAuthorization('Bearer eyJhbGciOi.x.y')).toBeNull();
    expect(parseAuthorization('Basic not base64!')).toBeNull();
    expect(parseAuthorization('Basic')).toBeNull();
    expect(parseAuthorization(`Basic ${'A'.repeat(5000)}`)).toBeNull();
  });

  it('escapes the user name and bounds it', () => {
    expect(parseAuthorization(`Basic ${b64('r\x00ot:x')}`)?.user).toBe('r\\x00ot');
    expect(parseAuthorization(`Basic ${b64(`${'u'.repeat(100)}:x`)}`)?.user).toHaveLength(64);
  });
});
