import type { Logger } from 'pino';
import type { Batcher, Sender } from './deliver.js';
import type { Spool } from './spool.js';

export const STOP = Symbol('stop');

/** setTimeout's largest delay; a longer one fires at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** How often --once checks whether a spool that takes nothing has waited out the drain timeout. */
const WATCH_MS = 200;

export interface DrainOptions {
  once: boolean;
  /** seconds to keep retrying delivery at exit (--once, a stop) before leaving the rest in the spool */
  drainTimeoutS: number;
}

/**
 * When the sensor stops reading and how long it then keeps delivering.
 * A stop request ends every wait at once; --once and a stop keep delivering
 * while the collector makes progress, and give up after the drain timeout
 * without any; an input that simply ended (a file, stdin at EOF) waits until
 * a stop.
 */
export class Drain {
  private readonly ctl = new AbortController();
  /** the signal that stopped the sensor, for the final log line */
  stopSignal: string | null = null;
  private stopAt: number | null = null;
  private inputEndedAt: number | null = null;
  private readonly drainMs: number;
  private watchdog: NodeJS.Timeout | null = null;

  constructor(
    private readonly opts: DrainOptions,
    private readonly spool: Spool,
    private readonly batcher: Batcher,
    private readonly sender: Sender,
    private readonly log: Logger,
  ) {
    this.drainMs = opts.drainTimeoutS * 1000;
  }

  get stopped(): boolean {
    return this.ctl.signal.aborted;
  }

  /** A stop request (SIGTERM, SIGINT): no more reading; what was read is flushed and delivered. */
  stop(signal: string): void {
    this.stopSignal = signal;
    this.stopAt = Date.now();
    this.log.info({ signal }, 'stopping: no more reading; flushing flows, scoring beacons, delivering');
    this.sender.hurry();
    this.ctl.abort();
  }

  inputEnded(): void {
    this.inputEndedAt = Date.now();
  }

  /**
   * Wall-clock ms after which delivery gives up: the drain timeout after a
   * stop, or (--once) after the input ended or the spool began holding
   * batches back, or after the last batch accepted if that is later.
   * Infinity otherwise: a sensor that runs on waits for its collector.
   */
  deadline(): number {
    const from = this.stopAt ?? (this.opts.once ? this.inputEndedAt ?? this.batcher.blockedSince : null);
    return from === null ? Infinity : Math.max(from, this.sender.lastDeliveryAt) + this.drainMs;
  }

  /**
   * With --once, reading gives up like delivery does: when the spool has held
   * batches back (full, or its disk full) for the drain timeout with no batch
   * accepted, the run stops as if asked to, and the files not finished are
   * read again by the next run.
   */
  watch(): void {
    if (!this.opts.once || this.watchdog) return;
    this.watchdog = setInterval(() => {
      if (this.stopped || this.inputEndedAt !== null || Date.now() < this.deadline()) return;
      this.log.error({ spool: this.spool.dir, drain_timeout_s: this.opts.drainTimeoutS }, `--once: the spool could take nothing for ${this.opts.drainTimeoutS} s (--drain-timeout) and the collector accepted nothing: giving up`);
      this.stopAt = Date.now() - this.drainMs;
      this.stopSignal = 'drain-timeout';
      this.ctl.abort();
    }, WATCH_MS);
    this.watchdog.unref();
  }

  /** Ends the watch. */
  close(): void {
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = null;
  }

  /**
   * p, or STOP as soon as a stop came. Not Promise.race with a long-lived
   * promise: each race would leave a reaction on it for the whole run.
   */
  untilStop<T>(p: Promise<T>): Promise<T | typeof STOP> {
    const signal = this.ctl.signal;
    if (signal.aborted) return Promise.resolve(STOP);
    return new Promise((resolve, reject) => {
      const onStop = () => resolve(STOP);
      signal.addEventListener('abort', onStop, { once: true });
      p.then(
        (v) => {
          signal.removeEventListener('abort', onStop);
          resolve(v);
        },
        (e: unknown) => {
          signal.removeEventListener('abort', onStop);
          reject(e);
        },
      );
    });
  }

  /** Resolves when p does, after ms, or on a stop, whichever comes first; leaves no timer behind. */
  async pause(ms: number, p?: Promise<void>): Promise<void> {
    let t: NodeJS.Timeout | undefined;
    const timer = new Promise<void>((ok) => (t = setTimeout(ok, ms)));
    const wait = p ? Promise.race([p, timer]) : timer;
    // After a stop the deadlines are finite, and untilStop would return at once: a busy loop.
    await (this.stopped ? wait : this.untilStop(wait));
    clearTimeout(t);
  }

  /** Waits until every event so far is in the spool; false when the deadline passed first (the spool stayed full). */
  async spooled(): Promise<boolean> {
    for (;;) {
      this.batcher.cut();
      if (this.batcher.pending === 0) return true;
      // A batch on its way to the disk is not a full spool: it is waited for whatever the deadline.
      // One whose write failed (the disk is full) stays held, and the deadline applies as to a full spool.
      if (this.batcher.writing && (await this.batcher.whenWritten())) continue;
      const left = this.deadline() - Date.now();
      if (left <= 0) return false;
      await this.pause(Math.min(left, MAX_TIMER_MS), this.spool.waitForSpace());
    }
  }

  /** Waits until the spool is empty; false when the deadline passed first. */
  async delivered(): Promise<boolean> {
    for (;;) {
      if (this.spool.batches === 0) return true;
      const left = this.deadline() - Date.now();
      if (left <= 0) return false;
      await this.pause(Math.min(left, MAX_TIMER_MS), this.sender.idle());
    }
  }
}
