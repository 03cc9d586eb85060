// Syslog as SIEMs receive it: RFC 5424 messages over TCP, each framed by
// octet counting (RFC 6587 3.4.1), optionally over TLS (RFC 5425). Octet
// counting carries any message, newlines included, without ambiguity.
import { readFileSync } from 'node:fs';
import { connect as connectTcp, type Socket } from 'node:net';
import { hostname } from 'node:os';
import { connect as connectTls } from 'node:tls';
import type { Severity } from '../../contract/types.js';
import { CollectorConfigError } from '../errors.js';
import type { ForwardTarget } from './target.js';

/** local0: the facility SIEM collectors usually route application security events by. */
const FACILITY_LOCAL0 = 16;

/** Syslog severity of an alert's severity: critical 2 (crit) to info 6 (informational). */
const SYSLOG_SEVERITY: Record<Severity, number> = { critical: 2, high: 3, medium: 4, low: 5, info: 6 };

/** RFC 5424 HOSTNAME: printable US-ASCII without spaces, at most 255, or the nil value. */
export function syslogHostname(name: string): string {
  const clean = name.replace(/[^\x21-\x7e]/g, '').slice(0, 255);
  return clean || '-';
}

/** One RFC 5424 message: `<PRI>1 TIMESTAMP HOSTNAME phonehome PROCID alert - JSON`. */
export function rfc5424(json: string, severity: Severity, at: Date, host: string = hostname()): string {
  const pri = FACILITY_LOCAL0 * 8 + (SYSLOG_SEVERITY[severity] ?? 6);
  return `<${pri}>1 ${at.toISOString()} ${syslogHostname(host)} phonehome ${process.pid} alert - ${json}`;
}

/** RFC 6587 octet counting: the message's length in bytes, a space, the message. */
export function octetCounted(msg: string): Buffer {
  const body = Buffer.from(msg, 'utf8');
  return Buffer.concat([Buffer.from(`${body.length} `), body]);
}

export interface SyslogOptions {
  host: string;
  port: number;
  tls: boolean;
  /** PEM files */
  ca?: string | null;
  cert?: string | null;
  key?: string | null;
  timeoutMs?: number;
}

function readPem(file: string, key: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new CollectorConfigError(`${key} ${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/**
 * A syslog receiver. Each batch goes over a connection of its own, which
 * phonehome closes after the last message and then waits for the receiver to
 * close too: a receiver closes only once it has read everything up to the
 * end, so a batch counts as delivered only when the receiver has read all of
 * it. A connection reset or timeout before that fails the batch, which is
 * sent again (at least once: a receiver may see a message twice, never none).
 */
export class SyslogTarget implements ForwardTarget {
  readonly name = 'syslog';
  private readonly tlsFiles: { ca?: Buffer; cert?: Buffer; key?: Buffer };

  constructor(private readonly o: SyslogOptions) {
    this.tlsFiles = {
      ...(o.ca && { ca: readPem(o.ca, 'forward_syslog_ca') }),
      ...(o.cert && { cert: readPem(o.cert, 'forward_syslog_cert') }),
      ...(o.key && { key: readPem(o.key, 'forward_syslog_key') }),
    };
  }

  private open(): Socket {
    const { host, port } = this.o;
    if (!this.o.tls) return connectTcp({ host, port });
    return connectTls({ host, port, servername: /^[\d.]+$|:/.test(host) ? undefined : host, ...this.tlsFiles });
  }

  send(docs: { json: string; severity: Severity }[]): Promise<void> {
    const now = new Date();
    const payload = Buffer.concat(docs.map((d) => octetCounted(rfc5424(d.json, d.severity, now))));
    return new Promise<void>((resolve, reject) => {
      const sock = this.open();
      let failed: Error | null = null;
      let ended = false;
      const timer = setTimeout(() => sock.destroy(new Error(`no answer within ${this.o.timeoutMs ?? 10_000} ms`)), this.o.timeoutMs ?? 10_000);
      sock.once(this.o.tls ? 'secureConnect' : 'connect', () => sock.end(payload));
      sock.on('data', () => undefined);
      sock.once('end', () => (ended = true));
      sock.once('error', (e) => (failed = e));
      sock.once('close', () => {
        clearTimeout(timer);
        if (failed) reject(failed);
        else if (!ended) reject(new Error('the receiver closed the connection before reading the whole batch'));
        else resolve();
      });
    });
  }
}
