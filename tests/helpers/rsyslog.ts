// A throwaway rsyslogd (Debian's) receiving syslog over TCP, optionally TLS
// (the gtls driver), on a loopback port, writing each message to a file: the
// receiver the collector's syslog forwarder is checked against.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './collector.js';

export const RSYSLOGD = '/usr/sbin/rsyslogd';

/** True when rsyslogd is installed; otherwise says why its tests are skipped. */
export function rsyslogAvailable(): boolean {
  if (existsSync(RSYSLOGD)) return true;
  console.warn(`skipping syslog forwarder tests: ${RSYSLOGD} is not installed (Debian package rsyslog; rsyslog-gnutls for TLS)`);
  return false;
}

/** PEM files of a CA, a server certificate for 127.0.0.1 and localhost signed by it, and a client certificate signed by it. */
export interface TestPki {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

/** Makes a CA and certificates with openssl. */
export function makePki(dir: string): TestPki {
  const p = (n: string) => join(dir, n);
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=phonehome test CA');
  writeFileSync(p('san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n');
  for (const who of ['server', 'client']) {
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${who}.key`, '-out', `${who}.csr`, '-subj', `/CN=${who === 'server' ? 'localhost' : 'phonehome-collector'}`);
    ssl('x509', '-req', '-in', `${who}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${who}.pem`, '-days', '2', '-extfile', 'san.ext');
  }
  return { dir, ca: p('ca.pem'), serverCert: p('server.pem'), serverKey: p('server.key'), clientCert: p('client.pem'), clientKey: p('client.key') };
}

export interface Rsyslog {
  port: number;
  /** the file every received message is written to: `PRI|HOSTNAME|APP-NAME|PROCID|MSGID|MSG` per line */
  out: string;
  /** the messages received so far, each split into its parts */
  messages(): { pri: number; hostname: string; app: string; procid: string; msgid: string; msg: string }[];
  /** waits until at least n messages arrived */
  waitFor(n: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
  /** starts it again on the same port, keeping what it wrote */
  restart(): Promise<void>;
  /** removes its folder */
  remove(): void;
}

function config(dir: string, port: number, out: string, tls: { pki: TestPki; clientAuth: boolean } | null): string {
  const global = tls
    ? `global(workDirectory="${dir}" maxMessageSize="256k" defaultNetstreamDriver="gtls" defaultNetstreamDriverCAFile="${tls.pki.ca}" defaultNetstreamDriverCertFile="${tls.pki.serverCert}" defaultNetstreamDriverKeyFile="${tls.pki.serverKey}")`
    : `global(workDirectory="${dir}" maxMessageSize="256k")`;
  const input = tls
    ? `module(load="imtcp" streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="${tls.clientAuth ? 'x509/certvalid' : 'anon'}")`
    : `module(load="imtcp")`;
  return `${global}
${input}
template(name="fields" type="string" string="%pri%|%hostname%|%app-name%|%procid%|%msgid%|%msg%\\n")
input(type="imtcp" address="127.0.0.1" port="${port}")
action(type="omfile" file="${out}" template="fields" flushOnTXEnd="on" asyncWriting="off")
`;
}

/** Starts rsyslogd in the foreground with a config of its own (no other input or output), and waits until it listens. */
export async function startRsyslog(opts: { tls?: { pki: TestPki; clientAuth: boolean } } = {}): Promise<Rsyslog> {
  const dir = mkdtempSync(join(tmpdir(), 'phonehome-rsyslog-'));
  const port = await freePort();
  const out = join(dir, 'received.log');
  const conf = join(dir, 'rsyslog.conf');
  writeFileSync(conf, config(dir, port, out, opts.tls ? opts.tls : null));
  let proc: ChildProcess | null = null;
  let logs = '';
  const launch = async () => {
    proc = spawn(RSYSLOGD, ['-n', '-f', conf, '-i', join(dir, 'rsyslogd.pid')], { stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout!.on('data', (d) => (logs += d));
    proc.stderr!.on('data', (d) => (logs += d));
    await waitListening(port, () => proc?.exitCode !== null ? `rsyslogd exited: ${logs}` : null);
  };
  const messages = () =>
    (existsSync(out) ? readFileSync(out, 'utf8') : '').split('\n').filter(Boolean).map((l) => {
      const [pri, hostname, app, procid, msgid, ...rest] = l.split('|');
      return { pri: Number(pri), hostname, app, procid, msgid, msg: rest.join('|') };
    });
  const stop = async () => {
    const p = proc as ChildProcess | null;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    await exited;
  };
  await launch();
  return {
    port, out, messages, stop,
    async waitFor(n, timeoutMs = 20_000) {
      const until = Date.now() + timeoutMs;
      while (messages().length < n) {
        if (Date.now() > until) throw new Error(`rsyslog received ${messages().length} of ${n} messages; its output: ${logs}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    restart: launch,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

async function waitListening(port: number, dead: () => string | null): Promise<void> {
  const { connect } = await import('node:net');
  for (let i = 0; i < 200; i++) {
    const why = dead();
    if (why) throw new Error(why);
    const ok = await new Promise<boolean>((r) => {
      const s = connect({ host: '127.0.0.1', port }, () => (s.destroy(), r(true)));
      s.once('error', () => r(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`rsyslogd did not listen on 127.0.0.1:${port}`);
}
