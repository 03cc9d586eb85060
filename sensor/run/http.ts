import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

/** A collector's answer is read up to this; a refusal list of a full batch is far smaller. */
const MAX_ANSWER_BYTES = 4 << 20;

export interface PostOptions {
  token: string;
  /** PEM certificates trusted for an https collector besides the system's (--ca) */
  ca?: Buffer;
  timeoutMs: number;
  signal: AbortSignal;
  /** more request headers */
  headers?: Record<string, string>;
}

export interface Answer {
  status: number;
  retryAfter: string | null;
  text: string;
}

/** Why a request got no answer. */
export class PostFailure extends Error {
  constructor(
    readonly timeout: boolean,
    /** the errno code or TLS reason, for logs and metrics */
    readonly detail: string,
  ) {
    super(detail);
  }
}

/**
 * POSTs a JSON body and reads the answer (node:http(s) rather than fetch,
 * because fetch in Node 20 cannot be given a private CA without the undici
 * package).
 */
export function postJson(url: URL, body: string, o: PostOptions): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(url, {
      method: 'POST',
      headers: { ...o.headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization: `Bearer ${o.token}` },
      ...(o.ca ? { ca: o.ca } : {}),
      signal: o.signal,
    });
    const timer = setTimeout(() => req.destroy(new PostFailure(true, 'request timed out')), o.timeoutMs);
    const fail = (e: Error) => {
      clearTimeout(timer);
      if (e instanceof PostFailure) reject(e);
      else reject(new PostFailure(false, (e as NodeJS.ErrnoException).code ?? e.message));
    };
    req.on('error', fail);
    req.on('response', (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size <= MAX_ANSWER_BYTES) chunks.push(c);
      });
      res.on('error', fail);
      res.on('end', () => {
        clearTimeout(timer);
        const retryAfter = res.headers['retry-after'];
        resolve({ status: res.statusCode ?? 0, retryAfter: typeof retryAfter === 'string' ? retryAfter : null, text: Buffer.concat(chunks).toString('utf8') });
      });
    });
    req.end(body);
  });
}
