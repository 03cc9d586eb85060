// The assembled server as a real process, on SQLite and on a real PostgreSQL
// server: every API route is documented in its OpenAPI description; HTTPS and
// mutual TLS with certificates made by openssl.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { phonehome } from '../helpers/cli.js';
import { launch } from './launch.js';
import { startCollector, type RunningCollector } from '../helpers/collector.js';
import { backends, useBackends, writeConfig } from './routes/backends.js';

useBackends({ events: false });

describe.each(backends)('collector server on %s', (_name, dbUrl) => {
  let c: RunningCollector;
  beforeAll(async () => {
    c = await startCollector(dbUrl(), ['--config', writeConfig()]);
  }, 60_000);
  afterAll(async () => {
    expect(await c.stop()).toBe(0);
  });

  it('serves OpenAPI docs listing every API route, with bearer authentication', async () => {
    const docs = await (await fetch(`${c.url}/docs/json`)).json();
    expect(Object.keys(docs.paths)).toEqual(expect.arrayContaining(['/api/v1/events', '/api/v1/alerts', '/api/v1/alerts/{id}', '/api/v1/alerts/{id}/pcap', '/api/v1/devices', '/api/v1/sensors']));
    expect(docs.components.securitySchemes).toEqual({ bearer: { type: 'http', scheme: 'bearer' } });
    expect(Object.keys(docs.paths)).not.toContain('/metrics');
  });
});

// ---- HTTPS and mutual TLS, with certificates made here by openssl ----

const pki = mkdtempSync(join(tmpdir(), 'phonehome-tls-'));
afterAll(() => rmSync(pki, { recursive: true, force: true }));
const pem = (name: string): string => join(pki, name);

function openssl(args: string[]): void {
  execFileSync('openssl', args, { cwd: pki, stdio: 'pipe' });
}

/** A CA, and certificates it signs: the server's for 127.0.0.1, and a client's. */
function makeCa(name: string): void {
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '2', '-subj', `/CN=${name}`]);
}
function sign(ca: string, name: string, ext: string): void {
  writeFileSync(pem(`${name}.ext`), `${ext}\n`);
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`]);
  openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`]);
}

interface TlsAnswer {
  status?: number;
  error?: string;
}

/** One request over node:https trusting the test CA, with a client certificate when named. */
function request(url: string, path: string, opts: { client?: string; token: string; method?: string; body?: string }): Promise<TlsAnswer> {
  const client = opts.client ? { cert: readFileSync(pem(`${opts.client}.pem`)), key: readFileSync(pem(`${opts.client}.key`)) } : {};
  return new Promise((resolve) => {
    const req = httpsRequest(`${url}${path}`, { method: opts.method ?? 'GET', ca: readFileSync(pem('ca.pem')), ...client, headers: { authorization: `Bearer ${opts.token}`, 'content-type': 'application/json' } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode }));
    });
    req.on('error', (e) => resolve({ error: (e as NodeJS.ErrnoException).code ?? e.message }));
    req.end(opts.body);
  });
}

describe('HTTPS', () => {
  const SENSOR_SECRET = 'lab-sensor-secret-0123456789';
  const API_SECRET = 'analyst-secret-0123456789';
  const base = () => ['--listen', '127.0.0.1:0', '--db', `sqlite:${join(pki, `c-${Math.random()}.db`)}`, '--sensor-token', `lab:${SENSOR_SECRET}`, '--api-token', API_SECRET];
  const tlsArgs = ['--tls-cert', pem('server.pem'), '--tls-key', pem('server.key')];
  const batch = JSON.stringify({ batch_id: 'b', sensor: { name: 'lab', version: 't' }, events: [] });
  const deliver = (url: string, client?: string) => request(url, '/api/v1/events', { method: 'POST', token: SENSOR_SECRET, body: batch, client });

  beforeAll(() => {
    makeCa('ca');
    makeCa('other-ca');
    sign('ca', 'server', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth');
    sign('ca', 'sensor', 'extendedKeyUsage=clientAuth');
    sign('other-ca', 'stranger', 'extendedKeyUsage=clientAuth');
  }, 30_000);

  it('--tls-cert and --tls-key serve HTTPS; plain HTTP is refused', async () => {
    const c = await launch([...base(), ...tlsArgs], {});
    try {
      const url = c.url();
      expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      expect(await request(url, '/api/v1/sensors', { token: API_SECRET })).toEqual({ status: 200 });
      expect(await deliver(url)).toEqual({ status: 200 });
      const plain = await fetch(url.replace('https:', 'http:') + '/healthz').then((r) => r.status, (e: Error) => e.message);
      expect(plain).toBe('fetch failed');
    } finally {
      expect(await c.stop()).toBe(0);
    }
  }, 30_000);

  it('--tls-client-ca: delivering needs a client certificate that CA signed; the analyst API does not', async () => {
    const c = await launch([...base(), ...tlsArgs, '--tls-client-ca', pem('ca.pem')], {});
    try {
      const url = c.url();
      expect(await deliver(url, 'sensor')).toEqual({ status: 200 });
      expect(await deliver(url)).toEqual({ status: 403 });
      expect(await deliver(url, 'stranger')).toEqual({ status: 403 });
      expect(await request(url, '/api/v1/sensors', { token: API_SECRET })).toEqual({ status: 200 });
      // The certificate is not a token: a sensor still needs its own.
      expect(await request(url, '/api/v1/events', { method: 'POST', token: API_SECRET, body: batch, client: 'sensor' })).toEqual({ status: 401 });
    } finally {
      expect(await c.stop()).toBe(0);
    }
    expect(c.out()).toContain('"client_certificates":true');
  }, 30_000);

  it('a certificate that is not one, or a key of another certificate, is one line with exit 2', () => {
    const junk = pem('junk.pem');
    writeFileSync(junk, 'not a certificate\n');
    for (const [cert, key] of [[junk, pem('server.key')], [pem('server.pem'), pem('sensor.key')]]) {
      const r = phonehome(['collector', ...base(), '--tls-cert', cert, '--tls-key', key]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(new RegExp(`^phonehome: --tls-cert ${cert} and --tls-key ${key}: not a PEM certificate and its private key \\(`));
    }
    const ca = phonehome(['collector', ...base(), ...tlsArgs, '--tls-client-ca', junk]);
    expect(ca.code, ca.stderr).toBe(2);
    expect(ca.stderr.trim()).toMatch(new RegExp(`^phonehome: --tls-client-ca ${junk}: not a PEM CA certificate`));
  });
});
