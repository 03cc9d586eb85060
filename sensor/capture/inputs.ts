import { readdirSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CaptureError } from '../errors.js';
import { sniffCapture } from './reader.js';

export interface CaptureInput {
  path: string;
  gzip: boolean;
}

export interface ExpandedInputs {
  files: CaptureInput[];
  /** files inside directory arguments that are not captures, and links there that lead nowhere */
  skipped: string[];
  stdin: boolean;
}

/**
 * Turns command-line arguments into capture files. A named file that is not a
 * capture is an error; inside a directory, other files (notes, MAC lists) are
 * skipped, but a directory with no capture at all is an error.
 */
export function expandInputs(args: string[]): ExpandedInputs {
  const out: ExpandedInputs = { files: [], skipped: [], stdin: false };
  for (const arg of args) {
    if (arg === '-') {
      out.stdin = true;
      continue;
    }
    let st;
    try {
      st = statSync(arg);
    } catch {
      throw new CaptureError('IO', arg, null, 'no such file or directory');
    }
    if (!st.isDirectory()) {
      out.files.push({ path: arg, gzip: sniffCapture(arg).gzip });
      continue;
    }
    const before = out.files.length;
    const seen: string[] = [];
    walk(arg, new Set(), (unusable) => out.skipped.push(unusable), (file) => {
      seen.push(file);
      try {
        out.files.push({ path: file, gzip: sniffCapture(file).gzip });
      } catch (e) {
        if (!(e instanceof CaptureError)) throw e;
        out.skipped.push(file);
      }
    });
    if (out.files.length === before) {
      throw new CaptureError('NOT_A_CAPTURE', arg, null, seen.length === 0 ? 'directory is empty' : `directory holds ${seen.length} file(s), none of them a pcap or pcapng capture`);
    }
  }
  return out;
}

/**
 * Every file below `dir`, links followed; a link to nothing is skipped (and
 * reported), and a folder reached again through a link is not walked twice.
 */
export function walk(dir: string, walked: Set<string>, skip: (path: string) => void, visit: (file: string) => void): void {
  const real = realpathSync(dir);
  if (walked.has(real)) return;
  walked.add(real);
  for (const name of readdirSync(dir).sort()) {
    if (name.startsWith('.')) continue;
    const p = join(dir, name);
    let st;
    try {
      st = statSync(p);
    } catch {
      skip(p);
      continue;
    }
    if (st.isDirectory()) walk(p, walked, skip, visit);
    else if (st.isFile()) visit(p);
  }
}
