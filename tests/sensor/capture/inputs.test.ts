// expandInputs: command-line arguments to capture files. '-' is stdin; a
// named file must be a capture; a directory is walked recursively (dot files
// and folders left out), its other files skipped, and a directory without a
// single capture is an error; symbolic links are followed.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { expandInputs } from '../../../sensor/capture/inputs.js';
import { CaptureError } from '../../../sensor/errors.js';
import { fixture } from '../../helpers/corpus.js';
import { errorOf } from '../../helpers/errors.js';

const tmp = mkdtempSync(join(tmpdir(), 'phonehome-inputs-'));
let n = 0;
const fresh = (name = 'd') => {
  const d = join(tmp, `${name}-${++n}`);
  mkdirSync(d, { recursive: true });
  return d;
};
const paths = (r: ReturnType<typeof expandInputs>) => r.files.map((f) => f.path).sort();

describe('expandInputs', () => {
  it("'-' is stdin; named captures are files, gzip ones marked as such, in the order given", () => {
    const d = fresh();
    const gz = join(d, 'c.pcap.gz');
    writeFileSync(gz, gzipSync(readFileSync(fixture('Withings'))));
    const r = expandInputs([fixture('HueBridge'), '-', gz]);
    expect(r).toEqual({ files: [{ path: fixture('HueBridge'), gzip: false }, { path: gz, gzip: true }], skipped: [], stdin: true });
    expect(expandInputs(['-'])).toEqual({ files: [], skipped: [], stdin: true });
  });

  it('a named file that is not a capture, or a path that does not exist, is a CaptureError (exit 2) naming it', () => {
    const d = fresh();
    const notes = join(d, 'notes.txt');
    writeFileSync(notes, 'MAC addresses of the lab devices\n');
    const e = errorOf(CaptureError, () => expandInputs([fixture('HueBridge'), notes]));
    expect([e.code, e.file, e.exitCode]).toEqual(['NOT_A_CAPTURE', notes, 2]);
    expect(e.message).toContain('not a pcap or pcapng capture');
    const missing = errorOf(CaptureError, () => expandInputs([join(d, 'nope.pcap')]));
    expect([missing.code, missing.file, missing.detail, missing.exitCode]).toEqual(['IO', join(d, 'nope.pcap'), 'no such file or directory', 2]);
  });

  it('walks a directory recursively: every capture (pcap, pcapng, gzip) at any depth, other files skipped, dot files and folders left out', () => {
    const d = fresh('corpus');
    mkdirSync(join(d, 'cam', 'day2'), { recursive: true });
    mkdirSync(join(d, '.git'));
    copyFileSync(fixture('D-LinkCam'), join(d, 'cam', 'a.pcap'));
    execFileSync('editcap', ['-F', 'pcapng', fixture('D-LinkCam'), join(d, 'cam', 'day2', 'b.pcapng')]);
    writeFileSync(join(d, 'cam', 'day2', 'c.pcap.gz'), gzipSync(readFileSync(fixture('Withings'))));
    copyFileSync(fixture('Withings'), join(d, 'z.cap'));
    writeFileSync(join(d, 'cam', '_iotdevice-mac.txt'), 'b0:c5:54:25:5b:0e\n');
    writeFileSync(join(d, 'README.md'), '# captures\n');
    copyFileSync(fixture('Withings'), join(d, '.hidden.pcap'));
    copyFileSync(fixture('Withings'), join(d, '.git', 'x.pcap'));
    const r = expandInputs([d]);
    expect(paths(r)).toEqual([join(d, 'cam', 'a.pcap'), join(d, 'cam', 'day2', 'b.pcapng'), join(d, 'cam', 'day2', 'c.pcap.gz'), join(d, 'z.cap')]);
    expect(r.files.find((f) => f.path.endsWith('c.pcap.gz'))!.gzip).toBe(true);
    expect(r.files.filter((f) => f.gzip)).toHaveLength(1);
    expect([...r.skipped].sort()).toEqual([join(d, 'README.md'), join(d, 'cam', '_iotdevice-mac.txt')]);
    expect(r.stdin).toBe(false);
  });

  it('a directory without a single capture is a CaptureError: how many files it holds, or that it is empty', () => {
    const texts = fresh('texts');
    writeFileSync(join(texts, 'a.txt'), 'a');
    mkdirSync(join(texts, 'sub'));
    writeFileSync(join(texts, 'sub', 'b.txt'), 'b');
    const e = errorOf(CaptureError, () => expandInputs([texts]));
    expect([e.code, e.file, e.exitCode]).toEqual(['NOT_A_CAPTURE', texts, 2]);
    expect(e.detail).toBe('directory holds 2 file(s), none of them a pcap or pcapng capture');
    const empty = fresh('empty');
    copyFileSync(fixture('Withings'), join(empty, '.only-hidden.pcap'));
    expect(errorOf(CaptureError, () => expandInputs([empty])).detail).toBe('directory is empty');
    // One good directory does not excuse another without captures.
    const good = fresh('good');
    copyFileSync(fixture('Withings'), join(good, 'w.pcap'));
    expect(errorOf(CaptureError, () => expandInputs([good, texts])).file).toBe(texts);
  });

  it('follows symbolic links to captures and to folders, listing them under the link', () => {
    const elsewhere = fresh('elsewhere');
    copyFileSync(fixture('HueBridge'), join(elsewhere, 'h.pcap'));
    const d = fresh('links');
    symlinkSync(fixture('Withings'), join(d, 'w.pcap'));
    symlinkSync(elsewhere, join(d, 'more'));
    expect(paths(expandInputs([d]))).toEqual([join(d, 'more', 'h.pcap'), join(d, 'w.pcap')]);
    // A link named on the command line is the capture it points at.
    expect(expandInputs([join(d, 'w.pcap')]).files).toEqual([{ path: join(d, 'w.pcap'), gzip: false }]);
  });

  /** What expandInputs does with a folder: its result, or the error it threw. */
  const outcome = (d: string): { files: string[] } | { error: unknown } => {
    try {
      return { files: paths(expandInputs([d])) };
    } catch (error) {
      return { error };
    }
  };
  const userError = (o: ReturnType<typeof outcome>) => 'files' in o || o.error instanceof CaptureError;

  // A link to nothing (a capture rotated away) must not stop the captures beside it being read.
  it('a dangling link in a directory is skipped or reported as a CaptureError, not an internal error', () => {
    const d = fresh('dangling');
    copyFileSync(fixture('Withings'), join(d, 'w.pcap'));
    symlinkSync(join(d, 'gone.pcap'), join(d, 'old.pcap'));
    expect(userError(outcome(d))).toBe(true);
  });

  // A link back to an enclosing folder is not walked again (it would loop until ELOOP).
  it('a link back to an enclosing folder does not make the walk loop: each capture once', () => {
    const d = fresh('loop');
    copyFileSync(fixture('Withings'), join(d, 'w.pcap'));
    symlinkSync(d, join(d, 'again'));
    const o = outcome(d);
    expect(userError(o)).toBe(true);
    if ('files' in o) expect(o.files.filter((f) => f.endsWith('w.pcap'))).toHaveLength(1);
  });
});
