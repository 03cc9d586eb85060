// Sends every new alert to the SIEM targets configured, beside ingest and
// never in its way: ingest only writes outbox rows in its own transaction;
// this loop claims them, sends them and deletes them once a target took
// them. A target that is down costs retries with backoff, never ingest's time.
import { randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import { Counter, Gauge, type Registry } from 'prom-client';
import { toSiem, type SiemFormat } from '../../contract/siem.js';
import type { Severity } from '../../contract/types.js';
import { jsonSafe } from '../../contract/escape.js';
import { parseSyslogUrl, type CollectorConfig } from '../config.js';
import type { OutboxItem, Store } from '../store/store.js';
import { SyslogTarget } from './syslog.js';
import type { ForwardTarget } from './target.js';
import { WebhookTarget } from './webhook.js';

export interface ForwarderTiming {
  /** how often the outbox is looked at when nothing woke the loop */
  pollMs: number;
  /** the first retry's delay after a failure, doubled per failure up to maxBackoffMs */
  minBackoffMs: number;
  maxBackoffMs: number;
  /** how long a claim holds rows; past it another collector may send them */
  leaseS: number;
  /** alerts per batch */
  batch: number;
}

export const DEFAULT_TIMING: ForwarderTiming = { pollMs: 1000, minBackoffMs: 1000, maxBackoffMs: 60_000, leaseS: 120, batch: 100 };

/** The targets the configuration names; none when forwarding is off. */
export function targetsOf(c: CollectorConfig): ForwardTarget[] {
  const out: ForwardTarget[] = [];
  if (c.forwardSyslog) out.push(new SyslogTarget({ ...parseSyslogUrl(c.forwardSyslog), ca: c.forwardSyslogCa, cert: c.forwardSyslogCert, key: c.forwardSyslogKey }));
  if (c.forwardWebhook) out.push(new WebhookTarget(c.forwardWebhook, c.forwardWebhookCa));
  return out;
}

/** The forwarder the configuration asks for, or null when it names no target. */
export function forwarderOf(c: CollectorConfig, store: Store, version: string, registry: Registry, log: FastifyBaseLogger): Forwarder | null {
  const targets = targetsOf(c);
  const maxBackoffMs = c.forwardRetryMaxS * 1000;
  const timing = { ...DEFAULT_TIMING, maxBackoffMs, minBackoffMs: Math.min(DEFAULT_TIMING.minBackoffMs, maxBackoffMs) };
  return targets.length ? new Forwarder(store, targets, c.forwardFormat, version, registry, log, timing) : null;
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });

export class Forwarder {
  /** names the outbox rows this collector claims */
  readonly owner = randomUUID();
  readonly targets: readonly string[];
  private readonly sent: Counter<'target'>;
  private readonly failures: Counter<'target'>;
  private stopping = new AbortController();
  private wakeUp = new AbortController();
  private loops: Promise<void>[] = [];

  constructor(
    private readonly store: Store,
    private readonly list: ForwardTarget[],
    private readonly format: SiemFormat,
    private readonly version: string,
    registry: Registry,
    private readonly log: FastifyBaseLogger,
    private readonly timing: ForwarderTiming = DEFAULT_TIMING,
  ) {
    this.targets = list.map((t) => t.name);
    this.sent = new Counter({ name: 'phonehome_collector_forward_sent_total', help: 'Alerts this collector forwarded and the target took, by target', labelNames: ['target'], registers: [registry] });
    this.failures = new Counter({ name: 'phonehome_collector_forward_failures_total', help: 'Batches of alerts a target did not take (each sent again later), by target', labelNames: ['target'], registers: [registry] });
    for (const t of this.targets) {
      this.sent.inc({ target: t }, 0);
      this.failures.inc({ target: t }, 0);
    }
    const depth = () => store.outbox.depth();
    const names = this.targets;
    new Gauge({
      name: 'phonehome_collector_forward_outbox_depth', help: 'Alerts waiting to be forwarded (of every collector sharing the database), by target', labelNames: ['target'], registers: [registry],
      async collect() {
        const rows = new Map((await depth()).map((r) => [r.target, r.rows]));
        this.reset();
        for (const t of new Set([...names, ...rows.keys()])) this.set({ target: t }, rows.get(t) ?? 0);
      },
    });
  }

  start(): void {
    if (this.loops.length) return;
    this.log.info({ targets: this.targets, format: this.format }, 'forwarding new alerts');
    this.loops = this.list.map((t) => this.run(t));
  }

  /** new alerts were stored: look at the outbox now rather than at the next poll */
  wake(): void {
    this.wakeUp.abort();
  }

  /** stops sending; rows being sent are released for whichever collector runs next */
  async stop(): Promise<void> {
    this.stopping.abort();
    this.wake();
    await Promise.all(this.loops);
    await this.store.outbox.release(this.owner).catch(() => undefined);
  }

  private waitFor(ms: number): Promise<void> {
    // Woken while sending: look again at once.
    if (this.wakeUp.signal.aborted) {
      this.wakeUp = new AbortController();
      return Promise.resolve();
    }
    return sleep(ms, AbortSignal.any([this.stopping.signal, this.wakeUp.signal]));
  }

  private async run(target: ForwardTarget): Promise<void> {
    let failed = 0;
    while (!this.stopping.signal.aborted) {
      let delay = this.timing.pollMs;
      try {
        const items = await this.store.outbox.claim(target.name, this.owner, Date.now() / 1000, this.timing.leaseS, this.timing.batch);
        if (items.length) {
          failed = (await this.deliver(target, items, failed + 1)) ? 0 : failed + 1;
          delay = failed ? this.backoff(failed) : 0;
        }
      } catch (e) {
        this.log.error({ err: (e as Error).message, target: target.name }, 'forwarder cannot read its outbox; trying again');
        delay = this.backoff(++failed);
      }
      // A backoff is not cut short by new alerts: the target is still down.
      if (delay > 0) await (failed ? sleep(delay, this.stopping.signal) : this.waitFor(delay));
    }
  }

  private backoff(failures: number): number {
    const { minBackoffMs, maxBackoffMs } = this.timing;
    const base = Math.min(maxBackoffMs, minBackoffMs * 2 ** Math.min(failures - 1, 20));
    // Several collectors retrying one receiver should not retry in step.
    return Math.round(base * (0.8 + Math.random() * 0.4));
  }

  /** Sends one claimed batch; true when the target took it. */
  private async deliver(target: ForwardTarget, items: OutboxItem[], attempt: number): Promise<boolean> {
    const live = items.filter((i) => i.alert !== null);
    // An alert retention removed before it could be sent has nothing left to send.
    const gone = items.filter((i) => i.alert === null).map((i) => i.alertId);
    const ids = live.map((i) => i.alertId);
    try {
      if (live.length) await target.send(live.map((i) => this.document(i)));
      await this.store.outbox.done(target.name, this.owner, [...ids, ...gone]);
      this.sent.inc({ target: target.name }, live.length);
      return true;
    } catch (e) {
      const err = (e as Error).message;
      this.failures.inc({ target: target.name });
      const next = Date.now() + this.backoff(attempt);
      await this.store.outbox.retry(target.name, this.owner, ids, next / 1000, err);
      await this.store.outbox.done(target.name, this.owner, gone);
      this.log.warn({ target: target.name, alerts: ids.length, attempt, err }, 'forward target did not take the alerts; they stay in the outbox and are sent again');
      return false;
    }
  }

  private document(i: OutboxItem): { json: string; severity: Severity } {
    const a = i.alert!;
    return { json: jsonSafe(JSON.stringify(toSiem(this.format, a, { observer: a.sensor, version: this.version, flow: i.flow }))), severity: a.severity };
  }
}
