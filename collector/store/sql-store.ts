// The Store behaviour, written once over a minimal driver so that SQLite and
// PostgreSQL cannot disagree: ingest.ts writes, queries.ts reads, migrate.ts
// keeps the schema. Anything dialect-specific lives in the drivers.
import type { SensorStatus } from '../../contract/types.js';
import { StoreError } from '../errors.js';
import type { Driver } from './driver.js';
import { ingestBatch } from './ingest.js';
import { changeAlertAudited, insertAudit, listAudit } from './audit.js';
import { migrate } from './migrate.js';
import { createOutbox } from './outbox.js';
import { listAlerts, listDeadLetters, loadAlerts, loadDevices, metricsSnapshot } from './queries.js';
import { FlowPartitions } from './partitions.js';
import { applyRetention } from './retention.js';
import { listFlows } from './flows.js';
import { changeAlertsAudited, createMute, groupAlerts, liftMute, listMutes, mutedAlerts } from './triage.js';
import type { Store } from './store.js';

export function createSqlStore(db: Driver): Store {
  const partitions = new FlowPartitions(db);
  return {
    kind: db.kind,
    migrate: () => migrate(db),
    ingest: (sensor, events, now, forwardTo) => ingestBatch(db, sensor, events, now, forwardTo ?? [], partitions),
    outbox: createOutbox(db),
    listAlerts: (f) => listAlerts(db, f),
    listDeadLetters: (f) => listDeadLetters(db, f),

    async getAlert(id) {
      const [a] = await db.read((q) => loadAlerts(q, [id]));
      return a ?? null;
    },

    async updateAlert(id, change, now) {
      try {
        return await db.tx(async (q) => {
          const n = await q.run(`UPDATE alerts SET status = ?, note = ?, updated_by = ?, updated_at = ? WHERE id = ?`, [
            change.status, change.note, change.who, now, id,
          ]);
          if (!n) return null;
          const [a] = await loadAlerts(q, [id]);
          return a ?? null;
        });
      } catch (e) {
        if (db.isDataError(e)) throw new StoreError('BAD_EVENT', `cannot set alert ${id} to ${JSON.stringify(change.status)}: ${(e as Error).message}`);
        throw e;
      }
    },

    async getEvidence(alertId) {
      const rows = await db.read((q) => q.all<{ pcap: Buffer }>(`SELECT pcap FROM evidence WHERE alert_id = ?`, [alertId]));
      return rows[0] ? Buffer.from(rows[0].pcap) : null;
    },

    listDevices: () => db.read((q) => loadDevices(q, null)),

    async getDevice(mac) {
      const [d] = await db.read((q) => loadDevices(q, mac));
      return d ?? null;
    },

    listSensors: () =>
      db.read((q) => q.all<SensorStatus>(`SELECT name, version, last_seen, lag_s, spool_batches, spool_bytes, events FROM sensors ORDER BY name`)),

    changeAlert: (id, change, now, by) => changeAlertAudited(db, id, change, now, by),
    changeAlerts: (ids, change, now, by) => changeAlertsAudited(db, ids, change, now, by),
    groupAlerts: (f, by) => groupAlerts(db, f, by),
    mutedAlerts: (ids, now) => mutedAlerts(db, ids, now),
    listFlows: (f) => listFlows(db, f),
    createMute: (m, who, now, by) => createMute(db, m, who, now, by),
    listMutes: (activeAt) => listMutes(db, activeAt),
    liftMute: (id, who, now, by) => liftMute(db, id, who, now, by),
    recordAudit: (entry) => db.tx((q) => insertAudit(q, entry)),
    listAudit: (f) => listAudit(db, f),
    applyRetention: (cutoffs, batchRows) => applyRetention(db, cutoffs, batchRows, partitions),

    metrics: () => db.read(metricsSnapshot),
    ping: () => db.ping(),
    close: () => db.close(),
  };
}
