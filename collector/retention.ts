// Applying the retention periods: once when the collector starts listening,
// then every hour. Several collectors sharing a database may each run it;
// a row is removed once and the others find nothing to do.
import type { FastifyBaseLogger } from 'fastify';
import { Counter, type Registry } from 'prom-client';
import { RETENTION_KINDS, type CollectorConfig, type RetentionKind } from './config.js';
import type { Cutoffs } from './store/retention.js';
import type { Store } from './store/store.js';

export const RETENTION_INTERVAL_MS = 60 * 60 * 1000;
const DAY_S = 24 * 60 * 60;

/** The cut-off of each kind with a retention period at `now` (epoch seconds); 0 days keeps a kind forever. */
export function cutoffsAt(days: Record<RetentionKind, number>, now: number): Cutoffs {
  const out: Cutoffs = {};
  for (const kind of RETENTION_KINDS) if (days[kind] > 0) out[kind] = now - days[kind] * DAY_S;
  return out;
}

export class RetentionJob {
  private readonly removed: Counter<'kind'>;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;

  constructor(
    private readonly store: Store,
    private readonly days: CollectorConfig['retentionDays'],
    registry: Registry,
    private readonly log: FastifyBaseLogger,
  ) {
    this.removed = new Counter({ name: 'phonehome_collector_retention_removed_total', help: 'Rows removed because they were older than their retention period, by kind', labelNames: ['kind'], registers: [registry] });
    for (const kind of RETENTION_KINDS) this.removed.inc({ kind }, 0);
  }

  /** Runs now and then every interval; a run still going when the next is due is not doubled. */
  start(intervalMs = RETENTION_INTERVAL_MS): void {
    if (this.timer) return;
    void this.runOnce();
    this.timer = setInterval(() => void this.runOnce(), intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  /** One run; a failure is logged and the next run tries again. */
  runOnce(): Promise<void> {
    this.running ??= this.apply().finally(() => (this.running = null));
    return this.running;
  }

  private async apply(): Promise<void> {
    const now = Date.now() / 1000;
    const cutoffs = cutoffsAt(this.days, now);
    if (Object.keys(cutoffs).length === 0) return;
    try {
      const r = await this.store.applyRetention(cutoffs);
      for (const kind of RETENTION_KINDS) if (r.removed[kind] > 0) this.removed.inc({ kind }, r.removed[kind]);
      const removed = Object.fromEntries(RETENTION_KINDS.filter((k) => r.removed[k] > 0).map((k) => [k, r.removed[k]]));
      if (Object.keys(removed).length === 0) return;
      await this.store.recordAudit({ at: now, actor: 'retention', role: 'system', action: 'retention', target: null, detail: { removed, days: this.days } });
      this.log.info({ removed, keys: r.keys, converted_to_incremental_vacuum: r.converted || undefined }, 'retention removed old rows');
    } catch (e) {
      this.log.error({ err: (e as Error).message }, 'retention failed; trying again at the next run');
    }
  }
}
