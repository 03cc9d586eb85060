// The syslog target against a real rsyslogd on loopback: RFC 5424 messages
// framed by octet counting reach it whole (newlines, '|' and non-ASCII
// inside), over TCP and over TLS with a client certificate; a receiver that
// is down or not trusted fails the batch instead of losing it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { octetCounted, rfc5424, SyslogTarget, syslogHostname } from '../../../collector/forward/syslog.js';
import { freePort } from '../../helpers/collector.js';
import { makePki, rsyslogAvailable, startRsyslog, type Rsyslog, type TestPki } from '../../helpers/rsyslog.js';

const tmp = mkdtempSync(join(tmpdir(), 'phonehome-syslog-'));
let pki: TestPki;
beforeAll(() => {
  pki = makePki(tmp);
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const DOCS = [
  { json: JSON.stringify({ event_type: 'alert', note: 'two\nlines | and a pipe', name: 'caf\u00e9-\u4e2d\u6587' }), severity: 'high' as const },
  { json: JSON.stringify({ event_type: 'alert', n: 2 }), severity: 'info' as const },
];

describe('RFC 5424 and RFC 6587 framing', () => {
  it('octet counting counts bytes, not characters', () => {
    expect(octetCounted('\u00e9').toString('latin1')).toBe('2 \u00c3\u00a9');
  });
  it('PRI is local0 (16) times 8 plus the syslog severity; the header is VERSION 1 and nil structured data', () => {
    const at = new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 600));
    expect(rfc5424('{}', 'critical', at, 'host a')).toBe(`<130>1 2024-01-02T03:04:05.600Z hosta phonehome ${process.pid} alert - {}`);
    expect(rfc5424('{}', 'low', at, '')).toMatch(/^<133>1 \S+ - phonehome/);
    expect(syslogHostname('h\u00e9 x'.repeat(100))).toBe('hx'.repeat(100));
    expect(syslogHostname('a'.repeat(300))).toBe('a'.repeat(255));
  });
});

describe.skipIf(!rsyslogAvailable())('syslog target against rsyslogd', () => {
  const check = async (r: Rsyslog) => {
    await r.waitFor(2);
    const got = r.messages();
    expect(got.map((m) => JSON.parse(m.msg))).toEqual(DOCS.map((d) => JSON.parse(d.json)));
    expect(got.map((m) => m.pri)).toEqual([16 * 8 + 3, 16 * 8 + 6]);
    expect(got.every((m) => m.app === 'phonehome' && m.msgid === 'alert' && m.procid === String(process.pid))).toBe(true);
  };

  it('plain TCP: every message of the batch arrives whole', async () => {
    const r = await startRsyslog();
    try {
      await new SyslogTarget({ host: '127.0.0.1', port: r.port, tls: false }).send(DOCS);
      await check(r);
    } finally {
      await r.stop();
      r.remove();
    }
  }, 30_000);

  it('TLS with the receiver checked against a CA file and a client certificate it requires', async () => {
    const r = await startRsyslog({ tls: { pki, clientAuth: true } });
    try {
      await new SyslogTarget({ host: '127.0.0.1', port: r.port, tls: true, ca: pki.ca, cert: pki.clientCert, key: pki.clientKey }).send(DOCS);
      await check(r);
      // Without the CA file the receiver's certificate is not trusted: the batch fails, nothing is claimed delivered.
      await expect(new SyslogTarget({ host: '127.0.0.1', port: r.port, tls: true }).send(DOCS)).rejects.toThrow(/certificate/i);
    } finally {
      await r.stop();
      r.remove();
    }
  }, 30_000);

  it('a receiver that is not listening fails the batch', async () => {
    const port = await freePort();
    await expect(new SyslogTarget({ host: '127.0.0.1', port, tls: false }).send(DOCS)).rejects.toThrow(/ECONNREFUSED/);
  });
});
