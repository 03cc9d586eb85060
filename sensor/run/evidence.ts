import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statfsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { AlertRecord } from '../../contract/types.js';
import type { FlowRef, KeptFlows } from '../detect/engine.js';
import { pcapMissing, writeEvidence, type CutResult } from '../output/evidence.js';
import type { Pipeline } from '../pipeline/pipeline.js';
import { SpoolNoSpaceError } from '../errors.js';
import type { Events } from './events.js';

/** Evidence captures stop growing at this size (the alert says what they lack): base64 of it stays under the collector's default 8 MiB body limit. */
const MAX_EVIDENCE_BYTES = 5 << 20;

/**
 * The size bound of the captures cut now: MAX_EVIDENCE_BYTES, or less on a
 * spool disk with little room, since a capture is spooled again as a batch
 * (base64, a third larger) and one that can never fit would hold back the
 * alerts queued with it.
 */
function evidenceBound(spoolDir: string): number {
  try {
    const fs = statfsSync(spoolDir);
    return Math.max(64 << 10, Math.min(MAX_EVIDENCE_BYTES, Math.floor((fs.bavail * fs.bsize) / 4)));
  } catch {
    return MAX_EVIDENCE_BYTES;
  }
}
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
  /** the disk is full: resolves true to try again (after a wait), false to give up (nothing queued will free room, or a stop's deadline passed) */
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
 * Sends a pcap of each alert's kept flows, cut from the files read in this
 * run, and again whenever the alert keeps more flows; each alert says what
 * its capture lacks (evidence.pcap_missing). A stream (stdin) cannot be read
 * again, so it has none. The captures are cut into a temporary folder in the
 * spool directory.
 */
export class EvidenceSender {
  private readonly files: ReadFile[] = [];
  private tmp: string | null = null;
  /** what the last cut of each alert's capture holds */
  private readonly cuts = new Map<string, CutResult>();
  /** alerts whose evidence could not be cut because the disk stayed full */
  dropped = 0;
  /** the size bound of the last cut (evidenceBound) */
  private bound = MAX_EVIDENCE_BYTES;

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

  /**
   * Cuts the evidence of those alerts that keep flows not cut yet, notes in
   * every alert what its capture lacks, then sends the alerts that changed
   * and the new captures.
   */
  async send(alerts: AlertRecord[]): Promise<void> {
    if (!this.enabled) return;
    const kept = this.pipeline.evidenceFlows();
    const want = new Map<string, FlowRef[]>();
    for (const a of alerts) {
      const k = kept.get(a.id);
      if (k && k.refs.length > 0 && this.events.needsEvidence(a.id, k.refs.length)) want.set(a.id, k.refs);
    }
    const pcaps = want.size === 0 ? new Map<string, string>() : await this.cutAll(want);
    for (const a of alerts) this.describe(a, kept.get(a.id));
    for (const a of alerts) this.events.alert(a);
    for (const [id, path] of pcaps) this.sendFile(id, want.get(id)!.length, path);
  }

  /** Cuts the captures; returns alert id -> path of those that hold packets. */
  private async cutAll(want: Map<string, FlowRef[]>): Promise<Map<string, string>> {
    const pcaps = new Map<string, string>();
    // Read again after an unclean stop: these alerts' evidence was cut and sent the first time.
    if (this.events.muted) {
      for (const [id, refs] of want) this.events.evidenceTriedFor(id, refs.length);
      return pcaps;
    }
    const cuts = await this.cut(this.sourcesOf(want), want);
    if (cuts === null) {
      this.dropped += want.size;
      this.log.error({ alerts: want.size, spool: this.spoolDir }, `the evidence captures of ${want.size} alert(s) could not be written: the disk of the spool had no room (the alerts say so and go out without them)`);
      for (const [id, refs] of want) this.cuts.set(id, { file: null, written: refs.map(() => 0), causes: new Set(['no-space']), refused: refs.reduce((s, r) => s + r.pkts, 0) });
      return pcaps;
    }
    for (const [id, refs] of want) {
      this.events.evidenceTriedFor(id, refs.length);
      const cut = cuts.get(id)!;
      this.cuts.set(id, cut);
      if (cut.file) pcaps.set(id, join(this.tmp!, cut.file));
    }
    return pcaps;
  }

  /** Notes what the alert's capture lacks, as of its last cut (none yet: nothing is said). */
  private describe(a: AlertRecord, kept: KeptFlows | undefined): void {
    const cut = this.cuts.get(a.id);
    if (!kept || (kept.refs.length > 0 && !cut)) return;
    const missing = pcapMissing(a.evidence, kept, cut, this.bound);
    if (missing) a.evidence.pcap_missing = missing;
    else delete a.evidence.pcap_missing;
  }

  /**
   * Writes the captures into the temporary folder, waiting while the disk is
   * full (the caller, and so reading, waits too); null when it stayed full.
   */
  private async cut(sources: string[], want: Map<string, FlowRef[]>): Promise<Map<string, CutResult> | null> {
    for (;;) {
      try {
        const tmp = (this.tmp ??= mkdtempSync(join(this.spoolDir, EVIDENCE_TMP)));
        this.bound = evidenceBound(tmp);
        const cuts = await writeEvidence(sources, want, tmp, this.bound);
        for (const c of cuts.values()) if (c.file) this.space?.hold(statSync(join(tmp, c.file)).size);
        return cuts;
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

  private sendFile(alertId: string, kept: number, path: string): void {
    const pcap = readFileSync(path);
    rmSync(path, { force: true });
    this.space?.release(pcap.length);
    this.events.evidence(alertId, kept, pcap);
  }
}
