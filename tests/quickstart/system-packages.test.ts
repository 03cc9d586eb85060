// .ci/system-packages installs everything the tests run that is not Node.js:
// every program the test files start (and every system file they read) is
// looked up in dpkg's database here, and its package must be one the script
// installs, a dependency of one, or part of every Debian system.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const SCRIPT = join(ROOT, '.ci/system-packages');
const DEBIAN = spawnSync('dpkg-query', ['--version']).status === 0 && spawnSync('apt-cache', ['--version']).status === 0;
if (!DEBIAN) console.warn('skipping the system packages check: dpkg-query and apt-cache are not here (not a Debian system)');

/** Node.js and npm are the documented prerequisite; docker is optional (the compose test falls back to docker-compose). */
const NOT_FROM_THE_SCRIPT = new Set(['node', 'npm', 'npx', 'docker']);

/** The packages the script passes to apt-get install. */
function installed(script: string): string[] {
  const array = /^PACKAGES=\(([^)]*)\)/m.exec(script)?.[1].trim().split(/\s+/) ?? [];
  return [...script.matchAll(/^apt-get install (.*)$/gm)].flatMap((m) =>
    m[1].split(/\s+/).flatMap((w) => (w === '"${PACKAGES[@]}"' ? array : w.startsWith('-') || w.startsWith('>') ? [] : [w])),
  );
}

function testSources(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    if (n === 'fixtures' || n === 'node_modules') return [];
    return statSync(p).isDirectory() ? testSources(p) : /\.(ts|mjs)$/.test(n) ? [p] : [];
  });
}

/** Programs the tests start by name, and system files they read, from their sources (`db.exec('CREATE ...')` is SQL, not a program). */
function whatTheTestsUse(): { programs: Set<string>; files: Set<string> } {
  const programs = new Set<string>();
  const files = new Set<string>();
  for (const f of [...testSources(join(ROOT, 'tests')), ...testSources(join(ROOT, 'bench'))]) {
    const src = readFileSync(f, 'utf8');
    for (const m of src.matchAll(/\b(?:execFileSync|execFile|execSync|(?<!\.)exec|spawnSync|spawn|which)\(\s*['"`]([\w/][\w./+-]*)/g)) programs.add(m[1]);
    for (const m of src.matchAll(/['"`](\/usr\/(?:share|lib)\/[\w./+-]+)['"`]/g)) files.add(m[1]);
  }
  return { programs, files };
}

/** Where a program is on a Debian system (PostgreSQL keeps its server programs out of the PATH). */
function locate(program: string): string | null {
  if (program.startsWith('/')) return existsSync(program) ? program : null;
  const pg = existsSync('/usr/lib/postgresql') ? readdirSync('/usr/lib/postgresql').map((v) => `/usr/lib/postgresql/${v}/bin`) : [];
  for (const dir of ['/usr/bin', '/usr/sbin', '/bin', '/sbin', ...pg]) if (existsSync(join(dir, program))) return join(dir, program);
  return null;
}

/** The /usr-merged spellings dpkg may know a path by. */
const spellings = (path: string): string[] => [...new Set([path, realpathSync(path)].flatMap((p) => [p, p.replace(/^\/usr\/(bin|sbin|lib)\//, '/$1/')]))];

/** The packages dpkg says own each of these paths (one dpkg-query for all: it reads every file list). */
function owners(paths: string[]): Map<string, string[]> {
  const out = spawnSync('dpkg-query', ['-S', ...paths], { encoding: 'utf8', maxBuffer: 1 << 26 }).stdout;
  const owned = new Map<string, string[]>();
  for (const line of out.split('\n')) {
    const m = /^(?!diversion by )(.+?): (\/.*)$/.exec(line);
    if (m) owned.set(m[2], m[1].split(', ').map((o) => o.replace(/:[\w-]+$/, '')));
  }
  return owned;
}

/** Part of every Debian system: Essential, or of priority required (apt, for one). */
const base = (pkg: string) => /^(yes|required)$/m.test(spawnSync('dpkg-query', ['-W', '-f=${Essential}\n${Priority}\n', pkg], { encoding: 'utf8' }).stdout);

describe('.ci/system-packages', () => {
  it.skipIf(!DEBIAN)('installs the package of every program and system file the tests use', () => {
    const wanted = installed(readFileSync(SCRIPT, 'utf8'));
    expect(wanted).toEqual(expect.arrayContaining(['tshark', 'postgresql', 'prometheus', 'prometheus-alertmanager', 'docker-compose']));
    const closure = new Set(
      execFileSync('apt-cache', ['depends', '--recurse', '--important', ...wanted], { encoding: 'utf8', maxBuffer: 1 << 26 })
        .split('\n')
        .filter((l) => l && !l.startsWith(' '))
        .map((l) => l.replace(/^<|>$/g, '').replace(/:[\w-]+$/, '')),
    );
    const { programs, files } = whatTheTestsUse();
    // the extraction finds what the tests are known to start and read
    expect([...programs]).toEqual(expect.arrayContaining(['tshark', 'editcap', 'mmdblookup', 'initdb', 'promtool', 'prometheus-alertmanager', 'amtool', 'docker-compose', 'python3']));
    expect([...files]).toEqual(expect.arrayContaining(['/usr/share/wireshark/manuf', '/usr/share/publicsuffix/public_suffix_list.dat']));
    const found = [...[...programs].filter((p) => !NOT_FROM_THE_SCRIPT.has(p)), ...files].map((what) => ({ what, path: locate(what) }));
    const owned = owners(found.flatMap((f) => (f.path ? spellings(f.path) : [])));
    const missing: string[] = [];
    for (const { what, path } of found) {
      if (!path) {
        missing.push(`${what}: not on this machine, so its package is unknown`);
        continue;
      }
      const from = spellings(path).flatMap((p) => owned.get(p) ?? []);
      if (!from.some((p) => closure.has(p) || base(p))) missing.push(`${what} (${path}) comes from ${from.join(', ') || 'no Debian package'}, which the script does not install`);
    }
    expect(missing).toEqual([]);
  }, 60_000);
});
