// The README's commands run what this repository holds and nothing else: the
// package has a name of its own, every npx that names phonehome is told never
// to install (checked against a real npx and a stand-in registry serving a
// package called phonehome), the test command is preceded by the one command
// that installs the system packages, CI runs exactly those commands, and
// npm install shows the native module's install script as it runs.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const tmp = mkdtempSync(join(tmpdir(), 'phonehome-readme-'));
const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; bin: Record<string, string>; scripts: Record<string, string> };

/** The name npm's registry gives an unrelated package ("allows clients to run code on a remote server"). */
const TAKEN = 'phonehome';

/** Every file of the repository, committed or new (not ignored), as text. */
function repositoryTexts(): { path: string; text: string }[] {
  const files = execFileSync('git', ['-C', ROOT, 'ls-files', '--cached', '--others', '--exclude-standard'], { encoding: 'utf8' }).split('\n').filter(Boolean);
  return files
    .filter((f) => f !== 'package-lock.json' && existsSync(join(ROOT, f)) && statSync(join(ROOT, f)).isFile())
    .map((f) => ({ path: f, buf: readFileSync(join(ROOT, f)) }))
    .filter((f) => !f.buf.subarray(0, 8000).includes(0))
    .map((f) => ({ path: f.path, text: f.buf.toString('utf8') }));
}

/** npx (or npm exec) invocations whose command is phonehome and that may install it. */
function unsafeNpx(text: string): string[] {
  const found: string[] = [];
  for (const m of text.matchAll(/\b(?:npx|npm\s+(?:exec|x))((?:\s+--?[\w-]+(?:=\S+)?)*)\s+([\w@./-]+)/g)) {
    if (!/^phonehome(-sensor)?(@|$)/.test(m[2])) continue;
    if (!/\s--no-install\b/.test(m[1])) found.push(m[0].replace(/\s+/g, ' '));
  }
  return found;
}

/** Commands of a shell script or a fenced block: no comments, no blank lines, no shell settings. */
function commands(script: string): string[] {
  return script
    .split('\n')
    .map((l) => l.replace(/(^|\s)#.*$/, '').trim())
    .filter((l) => l && !/^(set|cd|export) /.test(l));
}

/** The environment of an npm run that sees none of this machine's npm settings, only `settings`. */
function npmEnv(settings: Record<string, string>): NodeJS.ProcessEnv {
  const userconfig = join(tmp, 'empty-npmrc');
  writeFileSync(userconfig, '');
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
  return { ...env, npm_config_userconfig: userconfig, npm_config_cache: mkdtempSync(join(tmp, 'cache-')), npm_config_update_notifier: 'false', npm_config_audit: 'false', npm_config_fund: 'false', ...settings };
}

describe('the package name', () => {
  it('is not the registry name of an unrelated package, and the lock file agrees', () => {
    expect(pkg.name).not.toBe(TAKEN);
    expect(pkg.name).toBe('phonehome-sensor');
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { name: string; packages: Record<string, { name?: string }> };
    expect(lock.name).toBe(pkg.name);
    expect(lock.packages[''].name).toBe(pkg.name);
  });

  it('still installs the `phonehome` command, the built CLI', () => {
    expect(pkg.bin).toEqual({ phonehome: 'dist/sensor/cli.js' });
    expect(readFileSync(join(ROOT, pkg.bin.phonehome), 'utf8')).toMatch(/^#!\/usr\/bin\/env node\n/);
  });
});

describe('npx in the documentation and scripts', () => {
  it('the checker finds the unsafe forms and passes the safe ones', () => {
    const bare = ['npx', TAKEN].join(' ');
    expect(unsafeNpx(`run ${bare} analyze x.pcap`)).toHaveLength(1);
    expect(unsafeNpx(`tcpdump -w - | npx --yes ${TAKEN}@latest analyze -`)).toHaveLength(1);
    expect(unsafeNpx(`npm exec ${TAKEN} -- --help`)).toHaveLength(1);
    expect(unsafeNpx(`npx --no-install ${TAKEN} analyze x.pcap; npx vitest run; npx would download it`)).toEqual([]);
  });

  it('every npx or npm exec that runs phonehome, in every file of the repository, says --no-install', () => {
    const files = repositoryTexts();
    expect(files.map((f) => f.path)).toEqual(expect.arrayContaining(['README.md', 'sensor/README.md', 'collector/README.md', 'rules/README.md', 'bench/README.md', '.ci/run']));
    const unsafe = files.flatMap((f) => unsafeNpx(f.text).map((u) => `${f.path}: ${u}`));
    expect(unsafe).toEqual([]);
    // and the README runs the command that way, or says how to put it on the PATH
    expect(readme).toMatch(/^npx --no-install phonehome analyze /m);
    expect(readme).toMatch(/`npm link`/);
    expect(readme).toMatch(/`npm install -g \.`/);
  });

  describe('against a real npx and a registry serving a package named phonehome', () => {
    let server: Server;
    let registry = '';
    const requests: string[] = [];
    const marker = join(tmp, 'the-registry-package-ran');
    const outside = join(tmp, 'elsewhere');

    beforeAll(async () => {
      // The stand-in for the registry's package: its command leaves a marker when it runs.
      const src = join(tmp, 'registry-package');
      mkdirSync(src);
      writeFileSync(join(src, 'package.json'), JSON.stringify({ name: TAKEN, version: '9.9.9', bin: { [TAKEN]: 'bin.js' } }));
      writeFileSync(join(src, 'bin.js'), `#!/usr/bin/env node\nrequire('node:fs').writeFileSync(${JSON.stringify(marker)}, 'ran');\n`);
      const tarball = readFileSync(join(src, execFileSync('npm', ['pack', '--silent'], { cwd: src, env: npmEnv({ npm_config_offline: 'true' }), encoding: 'utf8' }).trim()));
      server = createServer((req, res) => {
        requests.push(req.url ?? '');
        if (req.url === `/${TAKEN}`) {
          const dist = { tarball: `${registry}/${TAKEN}/-/${TAKEN}-9.9.9.tgz`, shasum: createHash('sha1').update(tarball).digest('hex'), integrity: `sha512-${createHash('sha512').update(tarball).digest('base64')}` };
          res.setHeader('content-type', 'application/json');
          res.end(JSON.stringify({ name: TAKEN, 'dist-tags': { latest: '9.9.9' }, versions: { '9.9.9': { name: TAKEN, version: '9.9.9', bin: { [TAKEN]: 'bin.js' }, dist } } }));
        } else if (req.url === `/${TAKEN}/-/${TAKEN}-9.9.9.tgz`) {
          res.end(tarball);
        } else {
          res.statusCode = 404;
          res.end('{}');
        }
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      registry = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
      mkdirSync(outside);
    });
    afterAll(() => new Promise<void>((r) => server.close(() => r())));

    // Asynchronous: the registry answers from this process while npx runs.
    const npx = (args: string[], cwd: string, extra: Record<string, string> = {}) =>
      new Promise<{ status: number | null; stdout: string; stderr: string }>((done) => {
        const p = spawn('npx', args, { cwd, env: npmEnv({ npm_config_registry: `${registry}/`, ...extra }), timeout: 60_000 });
        let stdout = '';
        let stderr = '';
        p.stdout.on('data', (d) => (stdout += d));
        p.stderr.on('data', (d) => (stderr += d));
        p.on('close', (status) => done({ status, stdout, stderr }));
      });

    it('outside the clone, the bare form downloads and runs the registry package: the danger is real', async () => {
      const r = await npx([TAKEN, '--help'], outside);
      expect(r.status, r.stderr).toBe(0);
      expect(readFileSync(marker, 'utf8')).toBe('ran');
      expect(requests).toContain(`/${TAKEN}/-/${TAKEN}-9.9.9.tgz`);
    }, 60_000);

    it("outside the clone, the README's form refuses instead: nothing is downloaded or run", async () => {
      requests.length = 0;
      rmSync(marker, { force: true });
      const r = await npx(['--no-install', TAKEN, '--help'], outside);
      expect(r.status).not.toBe(0);
      expect(existsSync(marker)).toBe(false);
      expect(requests.filter((u) => u.endsWith('.tgz'))).toEqual([]);
    }, 60_000);

    it("in the clone, the README's form runs this package's phonehome without asking the registry", async () => {
      requests.length = 0;
      // Recent npm links the clone into its npx cache first; without scripts, so that
      // its prepare (the build) does not rebuild dist/ under the other test files.
      const r = await npx(['--no-install', 'phonehome', '--help'], ROOT, { npm_config_ignore_scripts: 'true' });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^Usage: phonehome <command>/m);
      expect(requests).toEqual([]);
    }, 60_000);
  });
});

describe("the README's test command", () => {
  const quickStart = /^## Quick start\n[\s\S]*?```sh\n([\s\S]*?)```/m.exec(readme)?.[1] ?? '';

  it('is preceded by the one command that installs the system packages the tests need', () => {
    const lines = commands(quickStart);
    const test = lines.indexOf('npm test');
    expect(test, quickStart).toBeGreaterThan(0);
    expect(lines[test - 1]).toBe('.ci/system-packages');
    expect(statSync(join(ROOT, '.ci/system-packages')).mode & 0o111).toBe(0o111);
    expect(pkg.scripts.test).toMatch(/\bvitest run\b/);
  });

  it('is what CI runs on a fresh machine, after the same system packages and a clean install', () => {
    expect(statSync(join(ROOT, '.ci/run')).mode & 0o111).toBe(0o111);
    expect(commands(readFileSync(join(ROOT, '.ci/run'), 'utf8'))).toEqual(['.ci/system-packages', 'npm ci', 'npm test']);
  });

  it('the system packages script asks for root through sudo and installs with apt-get', () => {
    const script = readFileSync(join(ROOT, '.ci/system-packages'), 'utf8');
    expect(script).toMatch(/^#!\/usr\/bin\/env bash\n/);
    expect(script).toMatch(/exec sudo -- "\$0"/);
    expect(spawnSync('bash', ['-n', join(ROOT, '.ci/system-packages')]).status).toBe(0);
  });
});

describe('npm install with the repository .npmrc', () => {
  /** Installs a project depending on a local package whose install script prints; returns what npm showed. */
  function install(withNpmrc: boolean): string {
    const dir = mkdtempSync(join(tmp, 'install-'));
    mkdirSync(join(dir, 'native'));
    writeFileSync(join(dir, 'native', 'package.json'), JSON.stringify({ name: 'native', version: '1.0.0', scripts: { install: 'node -e "console.log([\'native\', \'module\', \'compiled\'].join(\' \'))"' } }));
    mkdirSync(join(dir, 'app'));
    writeFileSync(join(dir, 'app', 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', dependencies: { native: 'file:../native' }, allowScripts: { native: true } }));
    if (withNpmrc) copyFileSync(join(ROOT, '.npmrc'), join(dir, 'app', '.npmrc'));
    const r = spawnSync('npm', ['install', '--offline'], { cwd: join(dir, 'app'), env: npmEnv({}), encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    return r.stdout + r.stderr;
  }

  it("shows a dependency's install script and its output as it runs (hidden without it)", () => {
    // the script's output, not its text (npm may quote that in a warning)
    expect(install(false)).not.toContain('native module compiled');
    const shown = install(true);
    expect(shown).toContain('> native@1.0.0 install');
    expect(shown).toMatch(/^native module compiled$/m);
  }, 60_000);
});
