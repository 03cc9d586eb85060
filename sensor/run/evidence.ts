import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { AlertRecord } from '../../contract/types.js';
import type { FlowRef } from '../detect/engine.js';
import { writeEvidence } from '../output/evidence.js';
import type { Pipeline } from '../pipeline/pipeline.js';
import type { Events } from './events.js';

/** Larger evidence captures are not sent (logged): base64 of this stays under the collector's default 8 MiB body limit. */
const MAX_EVIDENCE_BYTES = 5 << 20;
const EVIDENCE_TMP = '.evidence-';

/** Removes evidence captures cut by a run that was killed; the spool lock says no one else uses them. */
export function removeEvidenceLeftovers(spoolDir: string): void {
  for (const n of readdirSync(spoolDir)) if (n.startsWith(EVIDENCE_TMP)) rmSync(join(spoolDir, n), { recursive: true, force: true });
}

interface ReadFile {
  path: string;
  /** capture time of its first and last packet (Infinity/-Infinity when it had none) */
  first: number;
  last: number;
}

/**
 * Sends a pcap of each alert's flows, once per alert, cut from the files
 * read in this run. A stream (stdin) cannot be read again, so it has none.
 * The captures are cut into a temporary folder in the spool directory.
 */
export class EvidenceSender {
  private readonly files: ReadFile[] = [];
  private tmp: string | null = null;

  constructor(
    private readonly spoolDir: string,
    private readonly pipeline: Pipeline,
    private readonly events: Events,
    private readonly log: Logger,
    private readonly enabled: boolean,
  ) {}

  /** A file was read (whole or in part): evidence may be cut from it. */
  fileRead(path: string, first: number, last: number): void {
    this.files.push({ path, first, last });
  }

  /** Cuts and sends the evidence of those alerts that have flows and none tried yet. */
  async send(alerts: AlertRecord[]): Promise<void> {
    if (!this.enabled) return;
    const ids = new Set(alerts.map((a) => a.id));
    const want = new Map([...this.pipeline.evidenceFlows()].filter(([id, flows]) => ids.has(id) && flows.length > 0 && this.events.needsEvidence(id)));
    if (want.size === 0) return;
    const sources = this.sourcesOf(want);
    const tmp = (this.tmp ??= mkdtempSync(join(this.spoolDir, EVIDENCE_TMP)));
    const names = await writeEvidence(sources, want, tmp);
    for (const id of want.keys()) {
      this.events.evidenceTriedFor(id);
      const file = names.get(id);
      if (file) this.sendFile(id, join(tmp, file));
    }
  }

  /** Removes the temporary folder. */
  dispose(): void {
    if (this.tmp) rmSync(this.tmp, { recursive: true, force: true });
  }

  /** Only the files that can hold those flows' packets are read again. */
  private sourcesOf(want: Map<string, FlowRef[]>): string[] {
    let from = Infinity;
    let to = -Infinity;
    for (const flows of want.values()) {
      for (const f of flows) {
        from = Math.min(from, f.ts);
        to = Math.max(to, f.end);
      }
    }
    return this.files.filter((f) => f.first <= to + 1 && f.last >= from - 1 && existsSync(f.path)).map((f) => f.path);
  }

  private sendFile(alertId: string, path: string): void {
    const pcap = readFileSync(path);
    rmSync(path, { force: true });
    if (pcap.length > MAX_EVIDENCE_BYTES) {
      this.log.warn({ alert: alertId, bytes: pcap.length }, `evidence capture of alert ${alertId} is larger than ${MAX_EVIDENCE_BYTES} bytes; not sent`);
      return;
    }
    this.events.evidence(alertId, pcap);
  }
}
