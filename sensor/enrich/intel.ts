import { statSync } from 'node:fs';
import { basename } from 'node:path';
import { IntelError } from '../errors.js';
import { dnsName } from './cctld.js';
import type { FeedIndex, IndexHit } from './intel-index.js';
import { loadFeed, type LoadedFeed } from './intel-load.js';

export type { IndicatorType } from './intel-parse.js';

/**
 * Threat-intel feeds (--intel FILE, repeatable): local files listing
 * addresses, networks, domains and JA4 fingerprints known to be malicious.
 * Like GeoIP, this is knowledge about a flow's far end, so it lives in the
 * enrich stage; detection (the threat-intel rule) asks it about each flow.
 * Nothing is downloaded: a cron job fetches feeds into files, and the sensor
 * reloads a file when it changes (refresh), keeping the old indicators of a
 * file whose new version cannot be used.
 */

/** A feed indicator a value matched. */
export interface IntelHit extends IndexHit {
  /** the feed's name: its file name */
  feed: string;
}

/** What a refresh did to one feed. */
export type FeedReload =
  | { file: string; ok: true; indicators: number; notes: string[] }
  | { file: string; ok: false; error: IntelError };

interface Feed {
  file: string;
  name: string;
  index: FeedIndex;
  /** the file's identity when it was last read (or tried): a change means read again */
  stamp: string;
}

/** The file's identity for change detection: inode, size and modification time; 'missing' when it cannot be seen. */
function stampOf(file: string): string {
  try {
    const st = statSync(file);
    return `${st.ino}:${st.size}:${st.mtimeMs}`;
  } catch (e) {
    return `missing:${(e as NodeJS.ErrnoException).code ?? ''}`;
  }
}

export class IntelFeeds {
  private refreshing: Promise<FeedReload[]> | null = null;

  private constructor(
    private readonly feeds: Feed[],
    /** loading notes: malformed lines skipped, kinds not matched */
    readonly notes: string[],
  ) {}

  /** No feed: the threat-intel rule has nothing to do. */
  static readonly NONE = new IntelFeeds([], []);

  /** Loads every file, in order (earlier files win ties); throws IntelError for the first that cannot be used. */
  static async load(files: readonly string[]): Promise<IntelFeeds> {
    const feeds: Feed[] = [];
    const notes: string[] = [];
    for (const file of files) {
      const stamp = stampOf(file);
      const loaded = await loadFeed(file);
      feeds.push({ file, name: basename(file), index: loaded.index, stamp });
      notes.push(...loaded.notes, ...emptyNote(file, loaded));
    }
    return new IntelFeeds(feeds, notes);
  }

  get files(): string[] {
    return this.feeds.map((f) => f.file);
  }

  /** Indicators held over all feeds. */
  get size(): number {
    return this.feeds.reduce((n, f) => n + f.index.size, 0);
  }

  /** The most specific listed address or network holding ip (the longest prefix; the first feed among equals). */
  address(ip: string): IntelHit | null {
    let best: IntelHit | null = null;
    for (const f of this.feeds) {
      const h = f.index.address(ip);
      if (h && (best === null || h.prefix > best.prefix)) best = { ...h, feed: f.name };
    }
    return best;
  }

  /**
   * The listed domain a server name (SNI, HTTP Host, DNS name) is, or is
   * under, on a label boundary: evil.example lists x.evil.example, not
   * notevil.example. The most specific listed one wins.
   */
  name(raw: string): IntelHit | null {
    const name = dnsName(raw);
    if (name === null || !this.feeds.some((f) => f.index.hasDomains)) return null;
    for (let from = 0; ; ) {
      const suffix = from === 0 ? name : name.slice(from);
      for (const f of this.feeds) {
        const h = f.index.domain(suffix);
        if (h) return { ...h, feed: f.name };
      }
      const dot = name.indexOf('.', from);
      if (dot < 0) return null;
      from = dot + 1;
    }
  }

  /** A listed JA4 TLS client fingerprint. */
  ja4(fp: string): IntelHit | null {
    const key = fp.toLowerCase();
    for (const f of this.feeds) {
      const h = f.index.ja4(key);
      if (h) return { ...h, feed: f.name };
    }
    return null;
  }

  /**
   * Reads again every feed whose file changed since it was last read (or
   * tried). A file that now cannot be used keeps its old indicators; the
   * error is reported once per change. Concurrent calls share one pass.
   */
  refresh(): Promise<FeedReload[]> {
    this.refreshing ??= this.reloadChanged().finally(() => (this.refreshing = null));
    return this.refreshing;
  }

  private async reloadChanged(): Promise<FeedReload[]> {
    const done: FeedReload[] = [];
    for (const f of this.feeds) {
      const stamp = stampOf(f.file);
      if (stamp === f.stamp) continue;
      f.stamp = stamp;
      try {
        const loaded = await loadFeed(f.file);
        f.index = loaded.index;
        done.push({ file: f.file, ok: true, indicators: loaded.index.size, notes: [...loaded.notes, ...emptyNote(f.file, loaded)] });
      } catch (e) {
        if (!(e instanceof IntelError)) throw e;
        done.push({ file: f.file, ok: false, error: e });
      }
    }
    return done;
  }
}

/** A feed that lists nothing is allowed (a list of online C2s can be empty), but said. */
function emptyNote(file: string, loaded: LoadedFeed): string[] {
  return loaded.index.size === 0 ? [`${basename(file)}: no indicator phonehome can match (read as a ${loaded.format} feed)`] : [];
}
