// Flows on PostgreSQL are partitioned by the day of their time (ts): retention
// drops a day's partition instead of deleting its rows in batches, and each
// day's indexes stay a day big. A day gets its partition when its first flows
// arrive, if that day is near the collector's clock; flows of other days (a
// replay of old captures, a sensor's clock far off) and of days whose flows
// were stored before partitioning go to the default partition, whose rows
// retention deletes as before. SQLite keeps one table.
import type { Driver } from './driver.js';

const DAY = 86_400;
/** Days before and after the time a batch is received that get their own partition. */
const PAST_DAYS = 7;
const FUTURE_DAYS = 1;
/** A day's partition: flows_d20261201 (UTC). */
const PARTITION = /^flows_d(\d{4})(\d{2})(\d{2})$/;

export function partitionOf(day: number): string {
  return `flows_d${new Date(day * DAY * 1000).toISOString().slice(0, 10).replaceAll('-', '')}`;
}

function dayOf(name: string): number | null {
  const m = PARTITION.exec(name);
  return m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) / 1000 / DAY : null;
}

export class FlowPartitions {
  /** days this collector made (or found) a partition for, or left to the default partition */
  private readonly settled = new Set<number>();

  constructor(private readonly db: Driver) {}

  /**
   * Makes the partitions of the days these flow times fall on, before the
   * batch's transaction (an error inside it would undo the batch): another
   * collector making the same one at the same moment, or a default partition
   * already holding flows of that day, leaves the flows to go where they can.
   */
  async ensure(times: readonly number[], now: number): Promise<void> {
    if (this.db.kind !== 'postgres') return;
    const today = Math.floor(now / DAY);
    const days = new Set<number>();
    for (const ts of times) {
      const d = Math.floor(ts / DAY);
      if (d >= today - PAST_DAYS && d <= today + FUTURE_DAYS && !this.settled.has(d)) days.add(d);
    }
    for (const d of days) {
      try {
        await this.db.tx((q) => q.run(`CREATE TABLE IF NOT EXISTS ${partitionOf(d)} PARTITION OF flows FOR VALUES FROM (${d * DAY}) TO (${(d + 1) * DAY})`));
      } catch {
        // made by another collector meanwhile, or the default partition holds some of its flows
      }
      this.settled.add(d);
    }
  }

  /**
   * Drops each day's partition whose flows are all older than the cut-off,
   * by their time and by when they were received (a replay received lately
   * stays); returns the flows dropped.
   */
  async dropOlderThan(cutoff: number): Promise<number> {
    if (this.db.kind !== 'postgres') return 0;
    const parts = await this.db.read((q) => q.all<{ name: string }>(`SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'flows'::regclass ORDER BY 1`));
    let dropped = 0;
    for (const { name } of parts) {
      const day = dayOf(name);
      if (day === null || (day + 1) * DAY > cutoff) continue;
      dropped += await this.db.tx(async (q) => {
        // No flow may arrive between the count and the drop.
        await q.run(`LOCK TABLE ${name} IN ACCESS EXCLUSIVE MODE`);
        const [{ n, newest }] = await q.all<{ n: string; newest: number | null }>(`SELECT count(*) AS n, max(received_at) AS newest FROM ${name}`);
        if (newest !== null && newest >= cutoff) return 0;
        await q.run(`DROP TABLE ${name}`);
        return Number(n);
      });
      this.settled.delete(day);
    }
    return dropped;
  }
}
