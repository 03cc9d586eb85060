// The webhook target against a local HTTP(S) server: one POST per batch with
// a JSON array of the documents; 2xx takes the batch, anything else (or no
// answer in time) fails it.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttp, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttps } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { WebhookTarget } from '../../../collector/forward/webhook.js';
import { makePki } from '../../helpers/rsyslog.js';

const tmp = mkdtempSync(join(tmpdir(), 'phonehome-webhook-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const DOCS = [
  { json: JSON.stringify({ '@timestamp': '2024-01-01T00:00:00.000Z', message: 'a "quoted" <b>' }), severity: 'high' as const },
  { json: JSON.stringify({ n: 2 }), severity: 'low' as const },
];

interface Seen {
  method: string;
  type: string | undefined;
  auth: string | undefined;
  body: string;
}

async function serve(server: Server, answer: (res: ServerResponse, seen: Seen) => void): Promise<{ url: string; seen: Seen[]; close(): Promise<void> }> {
  const seen: Seen[] = [];
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const s = { method: req.method!, type: req.headers['content-type'], auth: req.headers.authorization, body };
      seen.push(s);
      answer(res, s);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `127.0.0.1:${port}`, seen, close: () => new Promise((r) => (server.closeAllConnections(), server.close(() => r()))) };
}

describe('webhook target', () => {
  it('POSTs the batch as one JSON array, with the credentials of the URL as basic auth', async () => {
    const s = await serve(createHttp(), (res) => res.writeHead(204).end());
    try {
      await new WebhookTarget(`http://siem:s3cret@${s.url}/ingest`, null).send(DOCS);
      expect(s.seen).toHaveLength(1);
      expect(s.seen[0]).toMatchObject({ method: 'POST', type: 'application/json', auth: `Basic ${Buffer.from('siem:s3cret').toString('base64')}` });
      expect(JSON.parse(s.seen[0].body)).toEqual(DOCS.map((d) => JSON.parse(d.json)));
    } finally {
      await s.close();
    }
  });

  it('an answer other than 2xx fails the batch, naming the status but not the password', async () => {
    const s = await serve(createHttp(), (res) => res.writeHead(503).end('busy'));
    try {
      const err = await new WebhookTarget(`http://siem:s3cret@${s.url}/`, null).send(DOCS).catch((e: Error) => e);
      expect((err as Error).message).toMatch(/answered 503: busy/);
      expect((err as Error).message).not.toContain('s3cret');
    } finally {
      await s.close();
    }
  });

  it('no answer within the timeout fails the batch', async () => {
    const s = await serve(createHttp(), () => undefined);
    try {
      await expect(new WebhookTarget(`http://${s.url}/`, null, 300).send(DOCS)).rejects.toThrow(/no answer within 300 ms/);
    } finally {
      await s.close();
    }
  });

  it('HTTPS with a private CA given as a file', async () => {
    const pki = makePki(tmp);
    const s = await serve(createHttps({ cert: readFileSync(pki.serverCert), key: readFileSync(pki.serverKey) }), (res) => res.writeHead(200).end('{}'));
    try {
      await new WebhookTarget(`https://${s.url}/`, pki.ca).send(DOCS);
      expect(s.seen).toHaveLength(1);
      await expect(new WebhookTarget(`https://${s.url}/`, null).send(DOCS)).rejects.toThrow(/certificate/i);
    } finally {
      await s.close();
    }
  }, 20_000);
});
