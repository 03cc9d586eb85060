import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { SPOOL_HEADERS, type IngestBatch, type IngestEvent } from '../../contract/types.js';
import type { FailureReason, SensorMetrics } from './metrics.js';
import { SpoolFullError, SpoolNoSpaceError } from '../errors.js';
import { joinBody, splitBody } from './batchfile.js';
import { postJson, PostFailure, type Answer } from './http.js';
import { byCode, keyOf, kindOf, readAnswer, rejectedRecord, safeText, type Refusal } from './refused.js';
import { GarbledBatch, type Spool } from './spool.js';

export const BATCH_MAX_EVENTS = 500;
export const BATCH_MAX_MS = 1000;
/** A batch is cut before it grows past this; a single larger event (an evidence pcap) travels alone. */
export const BATCH_MAX_BYTES = 1 << 20;
/** Events held in memory while the spool is full, before the input is paused. */
const HOLD_EVENTS = 5 * BATCH_MAX_EVENTS;
/** How often writing to a full spool (or a full disk) is tried again, besides when a batch leaves it. */
export const SPACE_RETRY_MS = 2000;

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
  /** batches cut while the spool was full (or its disk), oldest first: their body prefix and events' text */
  private held: { prefix: string; events: string[] }[] = [];
  private heldEvents = 0;
  private timer: NodeJS.Timeout | null = null;
  private full = false;
  /** a full disk was logged, and nothing has been written since */
  private noSpaceLogged = false;
  private roomWaiters: (() => void)[] = [];
  private retrying = false;
  /** held[0] is being written */
  private inFlight = false;
  private writtenWaiters: ((durable: boolean) => void)[] = [];
  /** wall-clock ms since when batches have been held back (null: they are not) */
  blockedSince: number | null = null;

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
      this.held.push({ prefix: this.prefix(), events: this.events });
      this.heldEvents += this.events.length;
      this.events = [];
      this.bytes = 0;
    }
    this.spoolHeld();
  }

  /** A new batch's body up to its events (see joinBody). */
  private prefix(): string {
    const head: Omit<IngestBatch, 'events'> = { batch_id: randomUUID(), sensor: this.sensor() };
    return `${JSON.stringify(head).slice(0, -1)},"events":[`;
  }

  /**
   * Writes the oldest held batch; its fsync runs off this thread and, once
   * done, the next one follows. A batch stays held (and pending) until it
   * is durable, so a drain waits for it and a failed write keeps it.
   */
  private spoolHeld(): void {
    const b = this.held[0];
    if (this.inFlight || !b) return;
    let written: Promise<number>;
    try {
      written = this.spool.appendEventsSoon(b.prefix, b.events);
    } catch (e) {
      this.refused(e);
      return;
    }
    this.inFlight = true;
    written.then(
      () => {
        this.inFlight = false;
        this.held.shift();
        this.heldEvents -= b.events.length;
        this.wrote();
        this.settled(true);
        this.spoolHeld();
      },
      (e: unknown) => {
        this.inFlight = false;
        this.settled(false);
        this.refused(e);
      },
    );
  }

  /** A batch reached the spool: reading may go on. */
  private wrote(): void {
    if (this.held.length === 0 && this.full) {
      this.full = false;
      this.noSpaceLogged = false;
      this.blockedSince = null;
      this.log.warn({ spool_batches: this.spool.batches }, 'spool has room again: reading resumes');
    }
    this.onSpooled();
    if (this.heldEvents + this.events.length < HOLD_EVENTS && this.roomWaiters.length > 0) {
      const waiters = this.roomWaiters;
      this.roomWaiters = [];
      for (const w of waiters) w();
    }
  }

  /** A full spool or disk holds the batch for a retry; any other failure is a bug, and throws. */
  private refused(e: unknown): void {
    if (!(e instanceof SpoolFullError) && !(e instanceof SpoolNoSpaceError)) throw e;
    this.blocked(e);
    this.retryWhenSpace();
  }

  /** A batch is on its way to the disk (held, and not refused). */
  get writing(): boolean {
    return this.inFlight;
  }

  /** Resolves when the batch being written is durable (true) or failed and is held (false); at once, true, when none is. */
  whenWritten(): Promise<boolean> {
    if (!this.inFlight) return Promise.resolve(true);
    return new Promise((resolve) => this.writtenWaiters.push(resolve));
  }

  private settled(durable: boolean): void {
    const waiters = this.writtenWaiters;
    this.writtenWaiters = [];
    for (const w of waiters) w(durable);
  }

  /** The spool refused a batch: counted each time, logged once per state (full, or the disk full). */
  private blocked(e: SpoolFullError | SpoolNoSpaceError): void {
    const fields = { spool: this.spool.dir, spool_batches: this.spool.batches, spool_bytes: this.spool.bytes, held_events: this.heldEvents };
    if (e instanceof SpoolNoSpaceError) {
      this.noSpace(e, fields);
    } else {
      this.metrics.spoolFull.inc();
      if (!this.full || this.noSpaceLogged) this.log.error({ ...fields, code: e.code }, `${e.message}: new batches are refused and reading pauses until the collector takes some (no event is dropped)`);
      this.noSpaceLogged = false;
    }
    this.full = true;
    this.blockedSince ??= Date.now();
  }

  /**
   * The disk under the spool is full (a batch, or an evidence capture could
   * not be written): counted each time, logged once until a write succeeds.
   */
  noSpace(e: SpoolNoSpaceError, fields: Record<string, unknown> = { spool: this.spool.dir }): void {
    this.metrics.spoolWriteErrors.inc({ code: e.errno });
    if (this.noSpaceLogged) return;
    this.noSpaceLogged = true;
    this.log.error({ ...fields, code: e.code, errno: e.errno }, e.message);
  }

  /** Tries again when a batch leaves the spool, and on a timer (a full disk frees without the spool knowing). */
  private retryWhenSpace(): void {
    if (this.retrying) return;
    this.retrying = true;
    let t: NodeJS.Timeout | undefined;
    const timer = new Promise<void>((ok) => (t = setTimeout(ok, SPACE_RETRY_MS)));
    void Promise.race([this.spool.waitForSpace(), timer]).then(() => {
      clearTimeout(t);
      this.retrying = false;
      this.spoolHeld();
    });
  }

  /** Cuts what is left, stops the timer and waits for the writes under way; true when everything reached the spool. */
  async close(): Promise<boolean> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.cut();
    while (this.inFlight) await this.whenWritten();
    return this.held.length === 0;
  }
}

export interface SenderOptions {
  /** collector base URL; batches go to ${url}/api/v1/events */
  url: string;
  token: string;
  /** PEM certificates to trust for an https collector (--ca) */
  ca?: Buffer;
  /** the head a garbled batch's readable events are sent with when its own is unreadable */
  sensor?: SensorInfo;
}

/** What a run could not deliver: events the collector refused, or lost in a garbled spool file. */
export interface Undelivered {
  events: number;
  /** where they are kept (rejected/) */
  files: string[];
}

/** One batch in flight: what the collector refused of it so far, and what it took. */
interface Job {
  seq: number;
  prefix: string;
  refusedEvents: string[];
  refusals: Refusal[];
  sent: Record<string, number>;
}

/**
 * Sends the spool's batches to the collector, oldest first, one at a time.
 * A batch leaves the spool only after a 2xx (at least once: the collector
 * de-duplicates by event key). Unreachable, 5xx, 429 and the statuses of a
 * misconfiguration (401, 403, 404) are retried with exponential backoff and
 * full jitter. The events a 200 lists as refused, and every event of a batch
 * answered 400/415/422 (or 413 when it cannot be split further), are kept in
 * rejected/ with their reasons, counted and logged; a 413 batch of several
 * events is sent again as two halves.
 */
export class Sender {
  private readonly endpoint: URL;
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
  /** refused or lost in this run */
  readonly undelivered: Undelivered = { events: 0, files: [] };
  /** wall-clock ms of the last batch the collector took, 0 before the first */
  lastDeliveryAt = 0;

  constructor(
    private readonly spool: Spool,
    private readonly opts: SenderOptions,
    private readonly log: Logger,
    private readonly metrics: SensorMetrics,
  ) {
    this.endpoint = new URL(`${opts.url.replace(/\/+$/, '')}/api/v1/events`);
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
      if (e instanceof GarbledBatch) return this.garbled(seq, e);
      if (e instanceof SpoolNoSpaceError) return 'retry';
      // Someone removed the file by hand: nothing left to send for it.
      this.log.error({ seq, err: (e as Error).message }, 'spooled batch cannot be read; skipping it');
      this.spool.remove(seq);
      return 'done';
    }
    const split = splitBody(body) ?? { prefix: '', events: [] };
    const job: Job = { seq, prefix: split.prefix, refusedEvents: [], refusals: [], sent: {} };
    if ((await this.deliver(job, body, split.events)) === 'retry') return 'retry';
    try {
      this.settle(job, split.events.length);
    } catch (e) {
      // No room to keep the refused events: the batch stays queued and is sent again later.
      if (e instanceof SpoolNoSpaceError) return this.failed('no_space', { seq }, e.message), 'retry';
      throw e;
    }
    if (this.failures > 0) this.log.info({ seq, after_failures: this.failures }, 'collector is taking batches again');
    return 'done';
  }

  /** Sends body (events: its events' text), splitting it on a 413; refusals are collected in job. */
  private async deliver(job: Job, body: string, events: string[]): Promise<'done' | 'retry'> {
    const res = await this.post(job.seq, body);
    if (res === null) return 'retry';
    if (res.status >= 200 && res.status < 300) {
      const answer = readAnswer(res.text, events);
      events.forEach((e, i) => {
        const why = answer.refused.get(i);
        if (why) {
          job.refusedEvents.push(e);
          job.refusals.push(why);
        } else job.sent[kindOf(e)] = (job.sent[kindOf(e)] ?? 0) + 1;
      });
      this.lastDeliveryAt = Date.now();
      return 'done';
    }
    if (res.status === 413 && events.length > 1 && job.prefix) {
      const half = Math.ceil(events.length / 2);
      this.log.warn({ seq: job.seq, events: events.length }, `collector answered HTTP 413 (too large) for ${events.length} events: sending them as two halves`);
      for (const part of [events.slice(0, half), events.slice(half)]) {
        if ((await this.deliver(job, joinBody(job.prefix, part), part)) === 'retry') return 'retry';
      }
      return 'done';
    }
    if (UNDELIVERABLE.has(res.status)) {
      const reason = safeText(res.text);
      this.metrics.deliveryFailures.inc({ reason: `http_${res.status}` });
      this.log.error({ seq: job.seq, status: res.status, body: reason, events: events.length }, `collector refused the whole batch (HTTP ${res.status}); it can never succeed as it is`);
      for (const e of events) {
        job.refusedEvents.push(e);
        job.refusals.push({ key: keyOf(e), code: `http_${res.status}`, reason });
      }
      return 'done';
    }
    this.retryLater(job.seq, res);
    return 'retry';
  }

  /** One POST; null when it failed in a way worth retrying (already logged and counted). */
  private async post(seq: number, body: string): Promise<Answer | null> {
    // Per request, not AbortSignal.any: that keeps a reference on the long-lived stop signal per call.
    const ctl = new AbortController();
    const onStop = () => ctl.abort();
    this.stopAbort.signal.addEventListener('abort', onStop, { once: true });
    this.log.debug({ seq, bytes: body.length }, 'sending batch');
    try {
      const headers = { [SPOOL_HEADERS.batches]: String(this.spool.batches), [SPOOL_HEADERS.bytes]: String(this.spool.bytes) };
      return await postJson(this.endpoint, body, { token: this.opts.token, ca: this.opts.ca, timeoutMs: REQUEST_TIMEOUT_MS, signal: ctl.signal, headers });
    } catch (e) {
      if (this.stopAbort.signal.aborted) return null;
      const f = e instanceof PostFailure ? e : new PostFailure(false, (e as Error).message);
      this.failed(f.timeout ? 'timeout' : 'network', { seq, err: f.detail }, `collector ${this.endpoint.href} unreachable; batch stays in the spool`);
      return null;
    } finally {
      this.stopAbort.signal.removeEventListener('abort', onStop);
    }
  }

  private retryLater(seq: number, res: Answer): void {
    const retryAfter = Number(res.retryAfter);
    if (retryAfter > 0) this.retryAfterMs = Math.min(retryAfter * 1000, BACKOFF_CAP_MS);
    const misconfigured = res.status === 401 || res.status === 403 || res.status === 404;
    this.failed(`http_${res.status}`, { seq, status: res.status, body: safeText(res.text) },
      misconfigured
        ? `collector answered HTTP ${res.status}: check --collector and --token; batches stay in the spool and are retried`
        : `collector answered HTTP ${res.status}; batch stays in the spool`,
      misconfigured);
  }

  /** The batch is done: what was refused goes to rejected/ (logged, counted), and the batch leaves the queue. */
  private settle(job: Job, total: number): void {
    const n = job.refusals.length;
    if (n === 0) this.spool.remove(job.seq);
    else {
      const to = this.spool.reject(job.seq, rejectedRecord(job.prefix, job.refusedEvents, job.refusals));
      const codes = byCode(job.refusals);
      this.refused(n, to, codes);
      this.log.error({ seq: job.seq, refused: n, events: total, codes, kept_in: to, refusals: job.refusals.slice(0, 20) },
        `collector refused ${n} of ${total} events (${Object.entries(codes).map(([c, k]) => `${c}: ${k}`).join(', ')}: ${job.refusals[0].reason}); they are kept in ${to}`);
    }
    this.countSent(job.sent);
  }

  private refused(n: number, file: string, codes: Record<string, number>): void {
    for (const [code, k] of Object.entries(codes)) this.metrics.eventsRefused.inc({ reason: code }, k);
    this.undelivered.events += n;
    this.undelivered.files.push(file);
  }

  /** A garbled spool file: what is still whole is sent in its place; the original is kept in rejected/. */
  private garbled(seq: number, e: GarbledBatch): 'done' | 'retry' {
    const d = e.decoded;
    const prefix = d.prefix ?? this.freshPrefix();
    let to: string;
    try {
      to = this.spool.replaceGarbled(seq, d.salvaged.length > 0 ? joinBody(prefix, d.salvaged) : null, d.salvaged);
    } catch (err) {
      if (err instanceof SpoolNoSpaceError) return this.failed('no_space', { seq }, err.message), 'retry';
      throw err;
    }
    const lost = d.expected === null ? 1 : Math.max(1, d.expected - d.salvaged.length);
    this.refused(lost, to, { garbled_spool: lost });
    this.log.error({ seq, code: e.code, file: e.path, kept_in: to, salvaged: d.salvaged.length, expected: d.expected },
      `${e.message}; ${d.salvaged.length} events are still whole and are sent, the original is kept in ${to}`);
    return 'done';
  }

  private freshPrefix(): string {
    const sensor = this.opts.sensor?.() ?? { name: 'unknown', version: '0.0.0', lag_s: null };
    return `${JSON.stringify({ batch_id: randomUUID(), sensor }).slice(0, -1)},"events":[`;
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

  private countSent(kinds: Record<string, number>): void {
    let n = 0;
    for (const [kind, k] of Object.entries(kinds)) {
      this.metrics.eventsSent.inc({ kind }, k);
      n += k;
    }
    this.delivered.batches++;
    this.delivered.events += n;
  }
}
