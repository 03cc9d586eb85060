import { statSync } from 'node:fs';
import { dirname, resolve, sep } from 'node:path';
import { CaptureError } from '../errors.js';
import { walk } from '../capture/inputs.js';
import { firstTimestamp, sniffCapture } from '../capture/reader.js';
import type { FileState } from './state.js';

export interface WatchedFile {
  path: string;
  size: number;
  mtimeMs: number;
  /** a file read before that has grown since: read on from this byte offset */
  resumeAt: number | null;
}

interface Seen {
  size: number;
  mtimeMs: number;
  /** wall clock (ms) since when size and mtime have not changed */
  since: number;
}

/** Name order that puts tcpdump's rotations in time order: "cap", "cap1", "cap2", ..., "cap10"; epoch and strftime names. */
export const byName = (a: string, b: string): number => a.localeCompare(b, 'en', { numeric: true });

/**
 * Finds capture files in a directory that rotation (tcpdump -G/-C) has
 * finished writing. A file is complete when a file of the same folder named
 * after it (in numeric-aware name order) and modified no earlier exists — the
 * writer has moved on — or when its size and mtime have not changed for
 * `settleMs`. The directory is walked as analyze walks one: its folders too,
 * links followed, a folder reached again through a link walked once, names
 * starting with a dot ignored.
 */
export class DirWatcher {
  readonly dir: string;
  private readonly seen = new Map<string, Seen>();

  constructor(
    dir: string,
    private readonly settleMs: number,
    /** what earlier reads (in this or an earlier run) left */
    private readonly known: (path: string, size: number, mtimeMs: number) => FileState,
    private readonly now: () => number = Date.now,
    /** a folder inside the directory that is not input (the spool) */
    private readonly ignore: string | null = null,
  ) {
    this.dir = resolve(dir);
  }

  /** Every file below the directory, in name order, with its size and mtime. */
  private list(): WatchedFile[] {
    const files: WatchedFile[] = [];
    const ignore = this.ignore === null ? null : resolve(this.ignore) + sep;
    walk(this.dir, new Set(), () => {}, (path) => {
      if (ignore !== null && path.startsWith(ignore)) return;
      try {
        const st = statSync(path);
        files.push({ path, size: st.size, mtimeMs: st.mtimeMs, resumeAt: null });
      } catch {
        // deleted between listing and stat
      }
    });
    return files.sort((a, b) => byName(a.path, b.path));
  }

  /**
   * Complete files not read yet, in the order analyze reads files: first
   * packet time, then name. `all` takes every file as complete (--once).
   * Files that turn out not to be captures are returned in `skipped`.
   */
  async scan(all = false): Promise<{ ready: WatchedFile[]; skipped: { file: WatchedFile; reason: string }[]; present: Set<string> }> {
    const files = this.list();
    const present = new Set(files.map((f) => f.path));
    for (const p of this.seen.keys()) if (!present.has(p)) this.seen.delete(p);
    const now = this.now();
    const candidates: WatchedFile[] = [];
    for (let i = 0; i < files.length; i++) {
      const f = files[i];
      const known = this.known(f.path, f.size, f.mtimeMs);
      if (known.kind === 'done') {
        this.seen.delete(f.path);
        continue;
      }
      if (known.kind === 'grown') f.resumeAt = known.resumeAt;
      let s = this.seen.get(f.path);
      if (!s || s.size !== f.size || s.mtimeMs !== f.mtimeMs) {
        s = { size: f.size, mtimeMs: f.mtimeMs, since: now };
        this.seen.set(f.path, s);
      }
      const superseded = files.slice(i + 1).some((later) => later.mtimeMs >= f.mtimeMs && dirname(later.path) === dirname(f.path));
      if (all || superseded || now - s.since >= this.settleMs) candidates.push(f);
    }
    const ready: WatchedFile[] = [];
    const skipped: { file: WatchedFile; reason: string }[] = [];
    const starts = new Map<string, number>();
    for (const f of candidates) {
      try {
        const { format, gzip } = sniffCapture(f.path);
        if (f.resumeAt !== null && (format !== 'pcap' || gzip)) f.resumeAt = null;
        starts.set(f.path, (await firstTimestamp(f.path).catch(() => null)) ?? Infinity);
        ready.push(f);
      } catch (e) {
        if (!(e instanceof CaptureError)) throw e;
        if (e.code === 'IO') continue;
        skipped.push({ file: f, reason: e.message });
      }
      this.seen.delete(f.path);
    }
    ready.sort((a, b) => starts.get(a.path)! - starts.get(b.path)! || byName(a.path, b.path));
    return { ready, skipped, present };
  }
}
