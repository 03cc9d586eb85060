import { describe, expect, it } from 'vitest';
import { parseHttpRequest } from '../../../sensor/protocols/http.js';
import { ascii, embed } from './build.js';

function parse(text: string | number[], before = 5, after = 5) {
  const { b, off, len } = embed(typeof text === 'string' ? ascii(text) : text, before, after, 0x41);
  return parseHttpRequest(b, off, len);
}

describe('parseHttpRequest', () => {
  it('reads the request line, Host with its port and User-Agent', () => {
    const req = 'GET /api/v1/status?x=1 HTTP/1.1\r\nhost:  example.com:8080 \t\r\nAccept: */*\r\nUser-Agent: Dalvik/2.1.0 (Linux; U; Android 9)\r\n\r\n';
    expect(parse(req)).toEqual({ method: 'GET', uri: '/api/v1/status?x=1', host: 'example.com:8080', userAgent: 'Dalvik/2.1.0 (Linux; U; Android 9)' });
  });

  it('matches header names case-insensitively and keeps the first of duplicates', () => {
    expect(parse('POST /x HTTP/1.0\nUSER-AGENT: a\nHOST: h\nhost: other\n\n')).toEqual({ method: 'POST', uri: '/x', host: 'h', userAgent: 'a' });
  });

  it('recognises every listed method', () => {
    for (const m of ['GET', 'POST', 'PUT', 'HEAD', 'DELETE', 'OPTIONS', 'PATCH', 'CONNECT', 'TRACE', 'NOTIFY', 'M-SEARCH', 'SUBSCRIBE', 'UNSUBSCRIBE']) {
      expect(parse(`${m} * HTTP/1.1\r\n\r\n`)?.method).toBe(m);
    }
  });

  it('returns what it found when the headers are cut by a segment boundary', () => {
    const req = 'GET / HTTP/1.1\r\nHost: a.example\r\nUser-Agent: curl/8.';
    expect(parse(req)).toEqual({ method: 'GET', uri: '/', host: 'a.example', userAgent: null });
    expect(parse('GET / HTTP/1.1\r\n')).toEqual({ method: 'GET', uri: '/', host: null, userAgent: null });
  });

  it('stops at the end of the headers', () => {
    expect(parse('GET / HTTP/1.1\r\nX: 1\r\n\r\nHost: body.example\r\n\r\n')?.host).toBeNull();
  });

  it('rejects what is not an HTTP/1.x request', () => {
    for (const t of [
      'GET / HTTP/2.0\r\n\r\n',
      'GET / HTTP/1.1',
      'GET / HTTP/1.1x\r\n',
      'GETS / HTTP/1.1\r\n',
      'get / HTTP/1.1\r\n',
      'BREW /pot HTTP/1.1\r\n',
      'GET HTTP/1.1\r\n',
      'HTTP/1.1 200 OK\r\n\r\n',
      'GET',
      '',
    ]) {
      expect(parse(t)).toBeNull();
    }
  });

  it('reads only the first 8 KiB', () => {
    const filler = `X-Pad: ${'p'.repeat(8200)}\r\n`;
    expect(parse(`GET / HTTP/1.1\r\n${filler}Host: late.example\r\n\r\n`)?.host).toBeNull();
    expect(parse(`GET /${'u'.repeat(8200)} HTTP/1.1\r\n\r\n`)).toBeNull();
    const near = `X-Pad: ${'p'.repeat(8000)}\r\n`;
    expect(parse(`GET / HTTP/1.1\r\n${near}Host: in.example\r\n\r\n`)?.host).toBe('in.example');
  });

  it('renders bytes as latin1', () => {
    expect(parse([...ascii('GET /caf'), 0xe9, ...ascii(' HTTP/1.1\r\nUser-Agent: '), 0xff, ...ascii('\r\n\r\n')])).toEqual({ method: 'GET', uri: '/caf\xe9', host: null, userAgent: '\xff' });
  });
});
