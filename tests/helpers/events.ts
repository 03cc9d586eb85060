import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AlertRecord, DeviceRecord, FlowRecord, IngestBatch, IngestEvent } from '../../contract/types.js';
import { analyze } from '../../sensor/run/analyze.js';

export interface RealEvents {
  flows: FlowRecord[];
  alerts: AlertRecord[];
  devices: DeviceRecord[];
  evidence: Map<string, Buffer>;
}

/** Flows, alerts, devices and evidence the real sensor pipeline produces for captures. */
export async function realEvents(captures: string[], opts: { watchCountries?: string[] } = {}): Promise<RealEvents> {
  const dir = mkdtempSync(join(tmpdir(), 'phonehome-events-'));
  const r = await analyze(captures, { outDir: dir, evidenceDir: join(dir, 'evidence'), profilesDir: null, ...opts });
  const flows = readFileSync(join(dir, 'flows.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as FlowRecord);
  const evidence = new Map<string, Buffer>();
  for (const a of r.alerts) if (a.evidence.pcap) evidence.set(a.id, readFileSync(join(dir, 'evidence', a.evidence.pcap)));
  return { flows, alerts: r.alerts, devices: r.devices, evidence };
}

export function eventsOf(e: RealEvents): IngestEvent[] {
  return [
    ...e.flows.map((f): IngestEvent => ({ kind: 'flow', key: `flow:${f.uid}`, data: f })),
    ...e.alerts.map((a): IngestEvent => ({ kind: 'alert', key: `alert:${a.id}:${a.evidence.flows}`, data: a })),
    ...e.devices.map((d): IngestEvent => ({ kind: 'device', key: `device:${d.mac ?? d.ips[0]}:${d.last_seen}`, data: d })),
    ...[...e.evidence].map(([id, pcap]): IngestEvent => ({ kind: 'evidence', key: `evidence:${id}`, data: { alert_id: id, pcap_base64: pcap.toString('base64') } })),
  ];
}

export function batch(events: IngestEvent[], id = 'b1'): IngestBatch {
  return { batch_id: id, sensor: { name: 'lab', version: 'test', lag_s: 0.5 }, events };
}
