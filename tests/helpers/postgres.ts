import { execFile, execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

export interface TestPostgres {
  /** postgres:// URL of an empty database */
  url: string;
  /** another empty database on the same server, for tests that need their own; dropped by stop() */
  createDatabase(): Promise<string>;
  stop(): Promise<void>;
}

const PG_ROOT = '/usr/lib/postgresql';

/** bin directory of the newest PostgreSQL Debian installed, or null. */
function findBin(): string | null {
  if (!existsSync(PG_ROOT)) return null;
  const versions = readdirSync(PG_ROOT)
    .filter((v) => existsSync(join(PG_ROOT, v, 'bin', 'initdb')) && existsSync(join(PG_ROOT, v, 'bin', 'pg_ctl')))
    .sort((a, b) => Number(b) - Number(a));
  return versions.length ? join(PG_ROOT, versions[0], 'bin') : null;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (typeof a === 'object' && a ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

function withDatabase(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

let counter = 0;
function databaseCreator(adminUrl: string, created: string[]): () => Promise<string> {
  return async () => {
    const name = `phonehome_t${process.pid}_${Date.now().toString(36)}_${++counter}`;
    const c = new pg.Client({ connectionString: adminUrl });
    await c.connect();
    try {
      await c.query(`CREATE DATABASE ${name}`);
    } finally {
      await c.end();
    }
    created.push(name);
    return withDatabase(adminUrl, name);
  };
}

async function dropAll(adminUrl: string, names: string[]): Promise<void> {
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  try {
    for (const n of names) await c.query(`DROP DATABASE IF EXISTS ${n} WITH (FORCE)`);
  } finally {
    await c.end();
  }
}

/**
 * A real PostgreSQL for tests: a throwaway server from Debian's `postgresql`
 * package in a temp dir on a free loopback port, or the server named by
 * PHONEHOME_PG_URL (whose role must be allowed to CREATE DATABASE; the test
 * databases are dropped again by stop()).
 */
export async function startPostgres(): Promise<TestPostgres> {
  const external = process.env.PHONEHOME_PG_URL;
  if (external) {
    const created: string[] = [];
    const createDatabase = databaseCreator(external, created);
    const url = await createDatabase();
    return { url, createDatabase, stop: () => dropAll(external, created) };
  }

  const bin = findBin();
  if (!bin) {
    throw new Error(
      `PostgreSQL server binaries not found (${PG_ROOT}/*/bin/initdb): install the Debian package 'postgresql' ` +
        `(apt-get install postgresql, as CI does), or set PHONEHOME_PG_URL=postgres://user@host:port/db to use an existing server`,
    );
  }
  // The server refuses to run as root; as root we hand the data dir to the postgres account the package creates.
  const asRoot = process.getuid?.() === 0;
  const prefix: string[] = asRoot ? ['runuser', '-u', 'postgres', '--'] : [];
  const argv = (cmd: string, args: string[]): [string, string[]] => {
    const full = [...prefix, join(bin, cmd), ...args];
    return [full[0], full.slice(1)];
  };
  const exec = (cmd: string, args: string[]) => run(...argv(cmd, args));

  const dir = mkdtempSync(join(tmpdir(), 'phonehome-pg-'));
  const data = join(dir, 'data');
  const log = join(dir, 'server.log');
  if (asRoot) {
    let uid: number, gid: number;
    try {
      uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
      gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    } catch {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`running as root needs the 'postgres' user (created by the Debian package 'postgresql') to run the test server`);
    }
    chownSync(dir, uid, gid);
  }
  let started = false;
  const stopSync = (): void => {
    if (!started) return;
    started = false;
    try {
      execFileSync(...argv('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']), { stdio: 'ignore' });
    } catch {
      // already gone
    }
    rmSync(dir, { recursive: true, force: true });
  };
  // A test run that dies must not leave a server behind.
  process.once('exit', stopSync);

  try {
    await exec('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-locale', '--no-sync']);
    let port = 0;
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      // Durability is not under test here; fsync=off keeps the suite fast.
      const opts = `-c listen_addresses=127.0.0.1 -p ${port} -c unix_socket_directories=${dir} -c fsync=off -c synchronous_commit=off -c full_page_writes=off`;
      try {
        await exec('pg_ctl', ['-D', data, '-l', log, '-o', opts, '-w', '-t', '60', 'start']);
        started = true;
        break;
      } catch (e) {
        // Another process may have taken the port between probing and binding.
        if (attempt >= 3) throw e;
      }
    }
    const admin = `postgres://postgres@127.0.0.1:${port}/postgres`;
    const createDatabase = databaseCreator(admin, []);
    const url = await createDatabase();
    return {
      url,
      createDatabase,
      async stop() {
        process.removeListener('exit', stopSync);
        if (started) {
          started = false;
          await exec('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']).catch(() => undefined);
        }
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    const serverLog = existsSync(log) ? readFileSync(log, 'utf8').slice(-2000) : '';
    stopSync();
    process.removeListener('exit', stopSync);
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`could not start a test PostgreSQL from ${bin}: ${(e as Error).message}${serverLog ? `\n${serverLog}` : ''}`);
  }
}
