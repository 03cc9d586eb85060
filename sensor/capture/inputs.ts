import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CaptureError } from '../errors.js';
import { sniffCapture } from './reader.js';

export interface CaptureInput {
  path: string;
  gzip: boolean;
}

export interface ExpandedInputs {
  files: CaptureInput[];
  /** files inside directory arguments that are not captures */
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
    walk(arg, (file) => {
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

function walk(dir: string, visit: (file: string) => void): void {
  for (const name of readdirSync(dir).sort()) {
    if (name.startsWith('.')) continue;
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) walk(p, visit);
    else if (st.isFile()) visit(p);
  }
}
