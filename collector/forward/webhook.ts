import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Severity } from '../../contract/types.js';
import { redactUrl } from '../config.js';
import { CollectorConfigError } from '../errors.js';
import type { ForwardTarget } from './target.js';

/**
 * An HTTP(S) endpoint that takes alerts: each batch is one POST of a JSON
 * array (the documents in the configured format), as Logstash's http input,
 * Fluent Bit, Vector and most SIEM webhooks accept. Any 2xx answer takes the
 * batch; anything else, or no answer, fails it and it is sent again.
 */
export class WebhookTarget implements ForwardTarget {
  readonly name = 'webhook';
  private readonly ca: Buffer | undefined;
  private readonly url: URL;

  constructor(
    url: string,
    ca: string | null,
    private readonly timeoutMs = 10_000,
  ) {
    this.url = new URL(url);
    try {
      this.ca = ca ? readFileSync(ca) : undefined;
    } catch (e) {
      throw new CollectorConfigError(`forward_webhook_ca ${ca}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  }

  send(docs: { json: string; severity: Severity }[]): Promise<void> {
    const body = Buffer.from(`[${docs.map((d) => d.json).join(',')}]`);
    const request = this.url.protocol === 'https:' ? httpsRequest : httpRequest;
    const auth = this.url.username ? `${decodeURIComponent(this.url.username)}:${decodeURIComponent(this.url.password)}` : undefined;
    return new Promise<void>((resolve, reject) => {
      const req = request(
        this.url,
        { method: 'POST', auth, headers: { 'content-type': 'application/json', 'content-length': body.length, 'user-agent': 'phonehome-collector' }, ca: this.ca, timeout: this.timeoutMs },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text = (text + c).slice(0, 500)));
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) resolve();
            else reject(new Error(`${redactUrl(this.url.toString())} answered ${status}: ${text.replace(/\s+/g, ' ').slice(0, 200)}`));
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.timeoutMs} ms`)));
      req.on('error', reject);
      req.end(body);
    });
  }
}
