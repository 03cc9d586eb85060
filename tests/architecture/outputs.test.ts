// Changes that are not meant to change what phonehome finds (refactors,
// speed-ups) give the outputs of the commit before them, byte for byte: that
// commit is built from this repository's own history and run beside the
// current build on the same captures (the corpus when present, else the
// bundled fixtures), with the same profiles and detections files.
// A commit that changes outputs on purpose says so with a line
// "Outputs: changed" in its message; it becomes the baseline from then on.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CORPUS_DIR } from '../helpers/corpus.js';
import { ROOT } from '../helpers/repo.js';

/** The release before the pipeline was restructured: the baseline until a commit changes outputs on purpose. */
const FIRST_BASELINE = '3936207a2112f6b2ca933a4ef4bdd8baf67ba4d6';

function baseline(): string | null {
  const git = (args: string[]) => spawnSync('git', ['-C', ROOT, ...args], { encoding: 'utf8' });
  const changed = git(['log', '-1', '--format=%H', '--grep=^Outputs: changed', 'HEAD']).stdout.trim();
  const commit = changed || FIRST_BASELINE;
  return git(['cat-file', '-e', `${commit}^{commit}`]).status === 0 ? commit : null;
}

const BASELINE = baseline();
if (!BASELINE) console.warn(`outputs test skipped: the baseline commit is not in this clone's history (a shallow clone?)`);

const tmp = mkdtempSync(join(tmpdir(), 'phonehome-outputs-'));
const input = existsSync(CORPUS_DIR) ? CORPUS_DIR : join(ROOT, 'tests/fixtures');
const geoip = (db: string) => ['--geoip', join(ROOT, 'tests/fixtures/geoip', db)];
/** Settings files both builds read from this tree, so paths inside alerts are the same. */
const shared = ['--profiles', join(ROOT, 'rules/devices'), '--detections', join(ROOT, 'rules/detections.yaml')];

function run(cli: string, dir: string, args: string[], stdin?: Buffer): void {
  mkdirSync(dir, { recursive: true });
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: dir, input: stdin, maxBuffer: 1 << 28 });
  expect(r.status, r.stderr.toString()).not.toBe(70);
  // Output paths name the run's folder; the rest must be identical.
  const clean = (b: Buffer) => b.toString().replaceAll(dir, 'OUT').replace(/"peak_rss_bytes": \d+/g, '"peak_rss_bytes": 0');
  mkdirSync(join(dir, 'console'), { recursive: true });
  execFileSync('sh', ['-c', 'cat > "$1"', 'sh', join(dir, 'console', 'stdout')], { input: clean(r.stdout) });
  execFileSync('sh', ['-c', 'cat > "$1"', 'sh', join(dir, 'console', 'stderr')], { input: clean(r.stderr) });
  execFileSync('sh', ['-c', 'echo "$1" > "$2"', 'sh', String(r.status), join(dir, 'console', 'status')]);
}

/** Every file under dir with its contents (stats.json without the peak RSS, which no two runs share). */
function contents(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else out.set(relative(dir, p), readFileSync(p).toString('latin1').replace(/"peak_rss_bytes": \d+/, ''));
    }
  };
  walk(dir);
  return out;
}

const CASES: [string, (out: string) => string[], Buffer?][] = [
  ['analyze with evidence', (o) => ['analyze', input, ...shared, '--out', join(o, 'out'), '--evidence', join(o, 'ev')]],
  ['analyze, two workers', (o) => ['analyze', input, ...shared, '--out', join(o, 'out'), '--workers', '2']],
  ['geo-callbacks with MaxMind databases', (o) => ['analyze', input, ...shared, '--out', join(o, 'out'), '--watch-countries', 'US,IE,DE,NL,GB', ...geoip('GeoLite2-City-Test.mmdb'), ...geoip('GeoLite2-ASN-Test.mmdb')]],
  ['no profiles, small table, short UDP timeout', (o) => ['analyze', input, '--no-profiles', '--detections', join(ROOT, 'rules/detections.yaml'), '--out', join(o, 'out'), '--max-flows', '50', '--udp-timeout', '5']],
  ['JSON summary', () => ['analyze', input, ...shared, '--json']],
  ['stdin', (o) => ['analyze', '-', ...shared, '--out', join(o, 'out'), '--evidence', join(o, 'ev')], readFileSync(join(ROOT, 'tests/fixtures/huebridge-setup-a-1.pcap'))],
  ['profile drafts', (o) => ['profiles', 'suggest', '--out', join(o, 'drafts'), join(ROOT, 'tests/fixtures')]],
];

describe.skipIf(!BASELINE)(`outputs are those of ${BASELINE?.slice(0, 7)}`, () => {
  const before = join(tmp, 'baseline');
  beforeAll(() => {
    mkdirSync(before);
    execFileSync('sh', ['-c', `git -C "$1" archive ${BASELINE} | tar -x -C "$2"`, 'sh', ROOT, before]);
    symlinkSync(join(ROOT, 'node_modules'), join(before, 'node_modules'));
    execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(before, 'tsconfig.json')]);
  }, 180_000);

  for (const [what, args, stdin] of CASES) {
    it(`${what}: every output file is the same`, () => {
      const [a, b] = ['before', 'now'].map((side) => join(tmp, what.replace(/\W+/g, '-'), side));
      run(join(before, 'dist/sensor/cli.js'), a, args(a), stdin);
      run(join(ROOT, 'dist/sensor/cli.js'), b, args(b), stdin);
      const [ca, cb] = [contents(a), contents(b)];
      expect(ca.size).toBeGreaterThan(0);
      expect([...cb.keys()].sort()).toEqual([...ca.keys()].sort());
      for (const [file, text] of ca) expect(cb.get(file) === text, `${what}: ${file} differs`).toBe(true);
    }, 120_000);
  }
});
