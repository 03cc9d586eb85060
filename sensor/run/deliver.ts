import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { IngestBatch, IngestEvent } from '../../contract/types.js';
import type { FailureReason, SensorMetrics } from './metrics.js';
import { SpoolFullError } from '../errors.js';
import type { Spool } from './spool.js';

export const BATCH_MAX_EVENTS = 500;
export const BATCH_MAX_MS = 1000;
/** A batch is cut before it grows past this; a single larger event (an evidence pcap) travels alone. */
export const BATCH_MAX_BYTES = 1 << 20;
/** Events held in memory while the spool is full, before the input is paused. */
const HOLD_EVENTS = 5 * BATCH_MAX_EVENTS;

export const BACKOFF_BASE_MS = 500;
export const BACKOFF_CAP_MS = 30_000;
const REQUEST_TIMEOUT_MS = 30_000;
/** Statuses that mean this batch can never be taken, however often it is sent. */
const UNDELIVERABLE = new Set([400, 413, 415, 422]);

export type SensorInfo = () => IngestBatch['sensor'];

/**
 * Collects events into IngestBatch bodies (500 events, 1 MiB or 1 s, whichever
 * comes first) and writes each to the spool. Events are serialised when they
 * are added, so later changes to a live record (an alert's evidence) do not
 * leak into an event already taken.
 */
export class Batcher {
  private events: string[] = [];
  private bytes = 0;
  /** bodies cut while the spool was full, oldest first */
  private held: { body: string; events: number }[] = [];
  private heldEvents = 0;
  private timer: NodeJS.Timeout | null = null;
  private full = false;
  private roomWaiters: (() => void)[] = [];
  private retrying = false;

  constructor(
    private readonly spool: Spool,
    private readonly sensor: SensorInfo,
    private readonly log: Logger,
    private readonly metrics: SensorMetrics,
    /** a batch reached the spool */
    private readonly onSpooled: () => void,
  ) {}

  start(): void {
    this.timer ??= setInterval(() => this.cut(), BATCH_MAX_MS);
  }

  add(e: IngestEvent): void {
    const s = JSON.stringify(e);
    if (this.events.length > 0 && this.bytes + s.length > BATCH_MAX_BYTES) this.cut();
    this.events.push(s);
    this.bytes += s.length + 1;
    if (this.events.length >= BATCH_MAX_EVENTS || this.bytes >= BATCH_MAX_BYTES) this.cut();
  }

  /** Events not yet in the spool. */
  get pending(): number {
    return this.events.length + this.heldEvents;
  }

  /** Whether the spool refused the last batch and batches are held in memory. */
  get spoolFull(): boolean {
    return this.full;
  }

  /**
   * Resolves when the input may go on: at once normally; while the spool is
   * full, only after it freed enough to take what is held. Reading stops
   * rather than drop events, since dropped flows are lost evidence.
   */
  room(): Promise<void> {
    if (this.heldEvents + this.events.length < HOLD_EVENTS) return Promise.resolve();
    return new Promise((resolve) => this.roomWaiters.push(resolve));
  }

  /** Cuts the current batch and tries to spool everything held. */
  cut(): void {
    if (this.events.length > 0) {
      const body = this.body(this.events);
      this.held.push({ body, events: this.events.length });
      this.heldEvents += this.events.length;
      this.events = [];
      this.bytes = 0;
    }
    this.spoolHeld();
  }

  private body(events: string[]): string {
    const head: Omit<IngestBatch, 'events'> = { batch_id: randomUUID(), sensor: this.sensor() };
    const json = JSON.stringify(head);
    return `${json.slice(0, -1)},"events":[${events.join(',')}]}`;
  }

  private spoolHeld(): void {
    let wrote = false;
    while (this.held.length > 0) {
      const b = this.held[0];
      try {
        this.spool.append(b.body);
      } catch (e) {
        if (!(e instanceof SpoolFullError)) throw e;
        this.metrics.spoolFull.inc();
        if (!this.full) {
          this.full = true;
          this.log.error({ spool_batches: this.spool.batches, spool_bytes: this.spool.bytes, held_events: this.heldEvents }, `${e.message}: new batches are refused and reading pauses until the collector takes some (no event is dropped)`);
        }
        this.retryWhenSpace();
        break;
      }
      this.held.shift();
      this.heldEvents -= b.events;
      wrote = true;
    }
    if (this.held.length === 0 && this.full) {
      this.full = false;
      this.log.warn({ spool_batches: this.spool.batches }, 'spool has room again: reading resumes');
    }
    if (wrote) this.onSpooled();
    if (this.heldEvents + this.events.length < HOLD_EVENTS && this.roomWaiters.length > 0) {
      const waiters = this.roomWaiters;
      this.roomWaiters = [];
      for (const w of waiters) w();
    }
  }

  private retryWhenSpace(): void {
    if (this.retrying) return;
    this.retrying = true;
    void this.spool.waitForSpace().then(() => {
      this.retrying = false;
      this.spoolHeld();
    });
  }

  /** Cuts what is left and stops the timer; true when everything reached the spool. */
  close(): boolean {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.cut();
    return this.held.length === 0;
  }
}

export interface SenderOptions {
  /** collector base URL; batches go to ${url}/api/v1/events */
  url: string;
  token: string;
}

/**
 * Sends the spool's batches to the collector, oldest first, one at a time.
 * A batch leaves the spool only after a 2xx (at least once: the collector
 * de-duplicates by event key). Unreachable, 5xx, 429 and the statuses of a
 * misconfiguration (401, 403, 404) are retried with exponential backoff and
 * full jitter; 400/413/415/422 mean the batch itself is bad, so it is moved to
 * rejected/ and the next one goes.
 */
export class Sender {
  private readonly endpoint: string;
  private wake: (() => void) | null = null;
  /** ends the current backoff wait */
  private wakeFromSleep: (() => void) | null = null;
  /** hurry() came between two waits: skip the next one */
  private skipWait = false;
  private readonly stopAbort = new AbortController();
  private running: Promise<void> | null = null;
  private failures = 0;
  /** a 429/503 Retry-After, honoured for the next wait */
  private retryAfterMs = 0;
  /** one shared promise, so waiting in a loop does not pile up waiters */
  private idleNext: { promise: Promise<void>; resolve: () => void } | null = null;
  /** delivered batches and events in this run */
  delivered = { batches: 0, events: 0 };
  /** wall-clock ms of the last batch the collector took, 0 before the first */
  lastDeliveryAt = 0;

  constructor(
    private readonly spool: Spool,
    private readonly opts: SenderOptions,
    private readonly log: Logger,
    private readonly metrics: SensorMetrics,
  ) {
    this.endpoint = `${opts.url.replace(/\/+$/, '')}/api/v1/events`;
  }

  start(): void {
    this.running ??= this.loop();
  }

  /** New batches in the spool: send now, even if waiting out a backoff from an empty queue. */
  notify(): void {
    this.wake?.();
  }

  /** Resolves when the spool is empty. */
  idle(): Promise<void> {
    if (this.spool.batches === 0) return Promise.resolve();
    this.notify();
    if (!this.idleNext) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.idleNext = { promise, resolve };
    }
    return this.idleNext.promise;
  }

  /** Ends the current backoff wait: at exit the time left is short, so try again now. */
  hurry(): void {
    if (this.wakeFromSleep) this.wakeFromSleep();
    else this.skipWait = true;
  }

  /** Stops sending; an in-flight request is abandoned and its batch stays in the spool. */
  async stop(): Promise<void> {
    this.stopAbort.abort();
    this.wakeFromSleep?.();
    this.wake?.();
    await this.running;
  }

  private async loop(): Promise<void> {
    while (!this.stopAbort.signal.aborted) {
      const head = this.spool.head();
      if (!head) {
        this.idleNext?.resolve();
        this.idleNext = null;
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = null;
        continue;
      }
      const outcome = await this.send(head.seq);
      if (outcome === 'retry') await this.backoff();
      else this.failures = 0;
    }
  }

  private async send(seq: number): Promise<'done' | 'retry'> {
    let body: string;
    try {
      body = this.spool.read(seq);
    } catch (e) {
      // Someone removed the file by hand: nothing left to send for it.
      this.log.error({ seq, err: (e as Error).message }, 'spooled batch cannot be read; skipping it');
      this.spool.remove(seq);
      return 'done';
    }
    let res: Response;
    // Per request, not AbortSignal.any: that keeps a reference on the long-lived stop signal per call.
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(new DOMException('request timed out', 'TimeoutError')), REQUEST_TIMEOUT_MS);
    const onStop = () => ctl.abort();
    this.stopAbort.signal.addEventListener('abort', onStop, { once: true });
    this.log.debug({ seq, bytes: body.length }, 'sending batch');
    try {
      res = await fetch(this.endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${this.opts.token}` },
        body,
        signal: ctl.signal,
      });
    } catch (e) {
      clearTimeout(timer);
      this.stopAbort.signal.removeEventListener('abort', onStop);
      if (this.stopAbort.signal.aborted) return 'retry';
      const timeout = (e as Error).name === 'TimeoutError';
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      this.failed(timeout ? 'timeout' : 'network', { seq, err: cause?.code ?? cause?.message ?? (e as Error).message }, `collector ${this.endpoint} unreachable; batch stays in the spool`);
      return 'retry';
    }
    const text = await res.text().catch(() => '');
    clearTimeout(timer);
    this.stopAbort.signal.removeEventListener('abort', onStop);
    if (res.ok) {
      this.log.debug({ seq, status: res.status, bytes: body.length }, 'batch delivered');
      this.spool.remove(seq);
      this.countSent(body);
      if (this.failures > 0) this.log.info({ seq, after_failures: this.failures }, 'collector is taking batches again');
      return 'done';
    }
    const detail = { seq, status: res.status, body: text.slice(0, 500) };
    if (UNDELIVERABLE.has(res.status)) {
      const to = this.spool.reject(seq);
      this.metrics.deliveryFailures.inc({ reason: `http_${res.status}` });
      this.log.error({ ...detail, moved_to: to }, `collector refused the batch (HTTP ${res.status}); it can never succeed, so it was moved aside`);
      return 'done';
    }
    const retryAfter = Number(res.headers.get('retry-after'));
    if (retryAfter > 0) this.retryAfterMs = Math.min(retryAfter * 1000, BACKOFF_CAP_MS);
    const misconfigured = res.status === 401 || res.status === 403 || res.status === 404;
    this.failed(`http_${res.status}`, detail,
      misconfigured
        ? `collector answered HTTP ${res.status}: check --collector and --token; batches stay in the spool and are retried`
        : `collector answered HTTP ${res.status}; batch stays in the spool`,
      misconfigured);
    return 'retry';
  }

  private failed(reason: FailureReason, detail: Record<string, unknown>, msg: string, loud = false): void {
    this.failures++;
    this.metrics.deliveryFailures.inc({ reason });
    const fields = { ...detail, reason, attempt: this.failures, spool_batches: this.spool.batches };
    // A misconfiguration is an error every time; an outage is an error once, then a warning per retry.
    if (loud || this.failures === 1) this.log.error(fields, msg);
    else this.log.warn(fields, msg);
  }

  private async backoff(): Promise<void> {
    if (this.stopAbort.signal.aborted) return;
    if (this.skipWait) {
      this.skipWait = false;
      return;
    }
    const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.min(this.failures - 1, 20));
    const ms = Math.max(Math.random() * ceiling, this.retryAfterMs);
    this.retryAfterMs = 0;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => this.wakeFromSleep?.(), ms);
      this.wakeFromSleep = () => {
        clearTimeout(t);
        this.wakeFromSleep = null;
        resolve();
      };
    });
  }

  private countSent(body: string): void {
    let batch: IngestBatch;
    try {
      batch = JSON.parse(body) as IngestBatch;
    } catch {
      return;
    }
    const kinds: Record<string, number> = {};
    for (const e of batch.events) kinds[e.kind] = (kinds[e.kind] ?? 0) + 1;
    for (const [kind, n] of Object.entries(kinds)) this.metrics.eventsSent.inc({ kind }, n);
    this.delivered.batches++;
    this.lastDeliveryAt = Date.now();
    this.delivered.events += batch.events.length;
  }
}
