import { open } from 'node:fs/promises';
import { basename } from 'node:path';
import { IntelError } from '../errors.js';
import { IndexBuilder, type FeedIndex } from './intel-index.js';
import { CSV_COLUMNS_HELP, csvFields, csvLayout, csvType, indicator, label, plainLine, zeekType, type CsvLayout, type LineVerdict } from './intel-parse.js';

/** A line longer than this is malformed (no feed writes one; a file that does is not a feed). */
export const MAX_LINE = 64 * 1024;
const CHUNK = 1 << 20;
const TOO_LONG = Symbol('too long');

/** A feed as loaded: its index and what loading it had to say. */
export interface LoadedFeed {
  index: FeedIndex;
  format: 'plain' | 'zeek' | 'csv';
  /** indicators read (before duplicates are merged) */
  indicators: number;
  malformed: number;
  /** indicators of kinds phonehome does not match, by kind */
  skipped: Record<string, number>;
  /** warnings for the user: malformed lines skipped, kinds not matched */
  notes: string[];
}

/**
 * The lines of a file, read in chunks so a feed of millions of lines never
 * sits in memory whole; a line past MAX_LINE comes as TOO_LONG. A NUL byte
 * means the file is not text (compressed, a capture): refused.
 */
async function* lines(file: string): AsyncGenerator<string | typeof TOO_LONG> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(CHUNK);
    let parts: Buffer[] = [];
    let held = 0;
    let long = false;
    let no = 1;
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, CHUNK, null);
      if (bytesRead === 0) break;
      const chunk = buf.subarray(0, bytesRead);
      if (chunk.includes(0)) throw new IntelError('INTEL_INVALID', file, no + countLines(chunk, chunk.indexOf(0)), 'binary data (a NUL byte): not a text feed (a compressed file must be decompressed first)');
      for (let from = 0; from < bytesRead; ) {
        const nl = chunk.indexOf(10, from);
        const end = nl < 0 ? bytesRead : nl;
        if (!long && held + end - from <= MAX_LINE) {
          parts.push(Buffer.from(chunk.subarray(from, end)));
          held += end - from;
        } else long = true;
        if (nl < 0) break;
        yield long ? TOO_LONG : text(parts);
        no++;
        parts = [];
        held = 0;
        long = false;
        from = nl + 1;
      }
    }
    if (long || held > 0) yield long ? TOO_LONG : text(parts);
  } finally {
    await fh.close();
  }
}

const countLines = (b: Buffer, upTo: number) => b.subarray(0, upTo).reduce((n, c) => n + (c === 10 ? 1 : 0), 0);
const text = (parts: Buffer[]) => Buffer.concat(parts).toString('utf8').replace(/\r$/, '');

/** Reads one feed file; throws IntelError when it cannot be read or is not a feed. */
export async function loadFeed(file: string): Promise<LoadedFeed> {
  const reader = new FeedReader(file);
  let no = 0;
  try {
    for await (const line of lines(file)) {
      no++;
      if (line === TOO_LONG) reader.count(no, { ok: false, malformed: `a line of at most ${MAX_LINE} bytes` });
      else reader.line(no, no === 1 ? line.replace(/^\uFEFF/, '') : line);
    }
  } catch (e) {
    if (e instanceof IntelError) throw e;
    throw new IntelError('INTEL_IO', file, null, `cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return reader.finish();
}

/** Zeek intel columns: where the indicator, its type, source and description are. */
interface ZeekLayout {
  indicator: number;
  type: number;
  source: number | null;
  description: number | null;
}

/**
 * One feed's lines, in order. The format is decided by the first line that
 * is not a comment: a #fields line before it makes a Zeek intel file; a comma
 * in it (or a .csv name) a CSV whose header is that line or, as abuse.ch
 * writes it, the last comment line before it; anything else a plain list.
 */
class FeedReader {
  private format: LoadedFeed['format'] | null = null;
  private lastComment: string | null = null;
  private csv: CsvLayout | null = null;
  private zeek: ZeekLayout | null = null;
  private readonly builder = new IndexBuilder();
  private indicators = 0;
  private malformed = 0;
  private firstMalformed: { line: number; what: string } | null = null;
  private readonly skipped: Record<string, number> = {};

  constructor(private readonly file: string) {}

  line(no: number, line: string): void {
    const t = line.trim();
    if (this.format === null && t.startsWith('#fields')) return this.zeekHeader(no, line);
    if (t === '' || t.startsWith('#')) {
      if (this.format === null && t.startsWith('#')) this.lastComment = t.replace(/^#+\s*/, '');
      return;
    }
    if (this.format === null && this.decide(no, t)) return;
    if (this.format === 'zeek') return this.count(no, this.zeekLine(line));
    if (this.format === 'csv') return this.count(no, this.csvLine(t));
    const v = plainLine(t);
    if (v) this.count(no, v);
  }

  /** Settles the format at the first data line; true when that line was the CSV header. */
  private decide(no: number, t: string): boolean {
    if (!t.includes(',') && !this.file.toLowerCase().endsWith('.csv')) {
      this.format = 'plain';
      return false;
    }
    this.format = 'csv';
    const own = csvFields(t);
    this.csv = own ? csvLayout(own) : null;
    if (this.csv) return true;
    const commented = this.lastComment === null ? null : csvFields(this.lastComment);
    this.csv = commented ? csvLayout(commented) : null;
    if (!this.csv) throw new IntelError('INTEL_INVALID', this.file, no, `a CSV feed needs a header line (or, as abuse.ch writes it, a last comment line) naming its indicator column: one of ${CSV_COLUMNS_HELP}`);
    return false;
  }

  private zeekHeader(no: number, line: string): void {
    const names = line.replace(/^\s*#fields\s*/, '').split(/\t/).map((n) => n.trim());
    const at = (n: string) => (names.includes(n) ? names.indexOf(n) : null);
    const indicator = at('indicator');
    const type = at('indicator_type');
    if (indicator === null || type === null) throw new IntelError('INTEL_INVALID', this.file, no, 'a Zeek intel #fields line must name (tab-separated) the fields indicator and indicator_type');
    this.zeek = { indicator, type, source: at('meta.source'), description: at('meta.desc') };
    this.format = 'zeek';
  }

  private zeekLine(line: string): LineVerdict {
    const z = this.zeek!;
    const f = line.split('\t');
    if (f.length <= Math.max(z.indicator, z.type)) return { ok: false, malformed: 'tab-separated fields as the #fields line names them' };
    const declared = zeekType(f[z.type].trim());
    if (typeof declared !== 'string') return declared;
    return withOrigin(indicator(f[z.indicator], declared), f, z.source, z.description);
  }

  private csvLine(t: string): LineVerdict {
    const c = this.csv!;
    const f = csvFields(t);
    if (!f) return { ok: false, malformed: 'a CSV record (a quote is left open)' };
    if (f.length <= c.value || (c.type !== null && f.length <= c.type)) return { ok: false, malformed: `a CSV record of ${c.columns} fields as the header names them` };
    const declared = c.type === null ? c.declared : csvType(f[c.type]);
    if (typeof declared !== 'string') return declared;
    return withOrigin(indicator(f[c.value], declared), f, c.source, c.description);
  }

  count(no: number, v: LineVerdict): void {
    if (v.ok) {
      this.indicators++;
      this.builder.add(v.type, v.value, { source: v.source, description: v.description });
    } else if ('skip' in v) this.skipped[v.skip] = (this.skipped[v.skip] ?? 0) + 1;
    else {
      this.malformed++;
      this.firstMalformed ??= { line: no, what: v.malformed };
    }
  }

  finish(): LoadedFeed {
    const name = basename(this.file);
    const bad = this.firstMalformed;
    // More malformed lines than indicators: not a feed of this format (or not a feed at all).
    if (bad && this.malformed > this.indicators) {
      throw new IntelError('INTEL_INVALID', this.file, bad.line, `${bad.what} (read as a ${this.format ?? 'plain'} feed); ${this.malformed} of ${this.malformed + this.indicators} indicator lines are malformed, so the file is refused`);
    }
    const notes: string[] = [];
    if (bad) notes.push(`${name}: ${this.malformed} malformed line${this.malformed === 1 ? '' : 's'} skipped (first: line ${bad.line}: ${bad.what})`);
    const kinds = Object.entries(this.skipped);
    if (kinds.length) notes.push(`${name}: indicators of kinds phonehome does not match on flows skipped: ${kinds.map(([k, n]) => `${k} ${n}`).join(', ')}`);
    return { index: this.builder.build(), format: this.format ?? 'plain', indicators: this.indicators, malformed: this.malformed, skipped: this.skipped, notes };
  }
}

function withOrigin(v: LineVerdict, f: string[], source: number | null, description: number | null): LineVerdict {
  if (!v.ok) return v;
  return { ...v, source: source === null ? null : label(f[source]), description: description === null ? null : label(f[description]) };
}
