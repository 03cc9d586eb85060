import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { AlertRecord } from '../../contract/types.js';
import type { FlowRef } from '../detect/engine.js';
import { writeEvidence } from '../output/evidence.js';
import type { Pipeline } from '../pipeline/pipeline.js';
import { SpoolNoSpaceError } from '../errors.js';
import type { Events } from './events.js';

/** Larger evidence captures are not sent (logged): base64 of this stays under the collector's default 8 MiB body limit. */
const MAX_EVIDENCE_BYTES = 5 << 20;
const EVIDENCE_TMP = '.evidence-';

/** Removes evidence captures cut by a run that was killed; the spool lock says no one else uses them. */
export function removeEvidenceLeftovers(spoolDir: string): void {
  for (const n of readdirSync(spoolDir)) if (n.startsWith(EVIDENCE_TMP)) rmSync(join(spoolDir, n), { recursive: true, force: true });
}

/** How evidence captures share the spool directory's room. */
export interface EvidenceSpace {
  /** bytes written to the spool directory count against its bound until released */
  hold(bytes: number): void;
  release(bytes: number): void;
  /** the disk is full: resolves true to try again (after a wait), false to give up (a stop's deadline passed) */
  full(e: SpoolNoSpaceError): Promise<boolean>;
}

const NO_SPACE = new Set(['ENOSPC', 'EDQUOT']);

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
  /** alerts whose evidence could not be cut because the disk stayed full */
  dropped = 0;

  constructor(
    private readonly spoolDir: string,
    private readonly pipeline: Pipeline,
    private readonly events: Events,
    private readonly log: Logger,
    private readonly enabled: boolean,
    private readonly space: EvidenceSpace | null = null,
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
    // Read again after an unclean stop: these alerts' evidence was cut and sent the first time.
    if (this.events.muted) return void [...want.keys()].forEach((id) => this.events.evidenceTriedFor(id));
    const names = await this.cut(this.sourcesOf(want), want);
    if (names === null) {
      this.dropped += want.size;
      this.log.error({ alerts: want.size, spool: this.spoolDir }, `the evidence captures of ${want.size} alert(s) could not be written: the disk of the spool stayed full`);
      return;
    }
    for (const id of want.keys()) {
      this.events.evidenceTriedFor(id);
      const file = names.get(id);
      if (file) this.sendFile(id, join(this.tmp!, file));
    }
  }

  /**
   * Writes the captures into the temporary folder, waiting while the disk is
   * full (the caller, and so reading, waits too); null when it stayed full.
   */
  private async cut(sources: string[], want: Map<string, FlowRef[]>): Promise<Map<string, string> | null> {
    for (;;) {
      try {
        const tmp = (this.tmp ??= mkdtempSync(join(this.spoolDir, EVIDENCE_TMP)));
        const names = await writeEvidence(sources, want, tmp);
        for (const file of names.values()) this.space?.hold(statSync(join(tmp, file)).size);
        return names;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code ?? '';
        if (!NO_SPACE.has(code) || !this.space) throw e;
        if (this.tmp) for (const n of readdirSync(this.tmp)) rmSync(join(this.tmp, n), { force: true });
        if (!(await this.space.full(new SpoolNoSpaceError(this.spoolDir, code)))) return null;
      }
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
    this.space?.release(pcap.length);
    if (pcap.length > MAX_EVIDENCE_BYTES) {
      this.log.warn({ alert: alertId, bytes: pcap.length }, `evidence capture of alert ${alertId} is larger than ${MAX_EVIDENCE_BYTES} bytes; not sent`);
      return;
    }
    this.events.evidence(alertId, pcap);
  }
}
