import { createReadStream, existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { jsonSafe } from '../../contract/escape.js';
import { toSiem, type SiemFormat } from '../../contract/siem.js';
import type { AlertRecord, FlowRecord } from '../../contract/types.js';

/** flows.jsonl lines begin with the uid (the record's first field): most lines are matched without being parsed. */
const UID_AT_START = /^\{"uid":"((?:[^"\\]|\\.)*)"/;

/**
 * The flows of the alerts' first evidence uids, read from a flows.jsonl:
 * they give each record its 5-tuple and Community ID. Only those flows are
 * kept, so memory follows the alerts, not the capture.
 */
export async function firstFlows(alerts: readonly AlertRecord[], flowsFile: string | null): Promise<Map<string, FlowRecord>> {
  const wanted = new Set(alerts.map((a) => a.evidence.uids[0]).filter((u): u is string => typeof u === 'string'));
  const found = new Map<string, FlowRecord>();
  if (!flowsFile || wanted.size === 0 || !existsSync(flowsFile)) return found;
  const lines = createInterface({ input: createReadStream(flowsFile, 'utf8'), crlfDelay: Infinity });
  for await (const line of lines) {
    const m = UID_AT_START.exec(line);
    if (!m || !wanted.has(JSON.parse(`"${m[1]}"`) as string)) continue;
    const flow = JSON.parse(line) as FlowRecord;
    // A flow uid recurs when a session was cut by the idle timeout: the first piece is the one the alert's evidence began with.
    if (!found.has(flow.uid)) found.set(flow.uid, flow);
    if (found.size === wanted.size) break;
  }
  lines.close();
  return found;
}

/** The alerts as JSON lines in a SIEM's shape (Suricata EVE or ECS), each line terminal-safe. */
export function siemLines(format: SiemFormat, alerts: readonly AlertRecord[], flows: Map<string, FlowRecord>, observer: string, version: string): string {
  return alerts
    .map((a) => {
      const flow = flows.get(a.evidence.uids[0]) ?? null;
      return `${jsonSafe(JSON.stringify(toSiem(format, a, { observer, version, flow })))}\n`;
    })
    .join('');
}

/** The file --out gets for a format: alerts.eve.json or alerts.ecs.json. */
export const siemFileName = (format: SiemFormat): string => `alerts.${format}.json`;
