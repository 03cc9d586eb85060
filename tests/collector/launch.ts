// The collector as a real process for tests that need more than
// startCollector: its whole output, HTTPS, a start-up line to read the
// bound address from.
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { CLI } from '../helpers/cli.js';

export interface Launched {
  proc: ChildProcess;
  /** everything it wrote to stdout and stderr so far */
  out: () => string;
  /** the URL of the start-up line's listening address */
  url: () => string;
  stop: () => Promise<number | null>;
}

/** A collector process with its output, once it has said it is ready. */
export async function launch(args: string[], env: NodeJS.ProcessEnv): Promise<Launched> {
  const proc = spawn(process.execPath, [CLI, 'collector', '--log-level', 'info', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  for (let i = 0; !out.includes('"msg":"collector ready"'); i++) {
    if (proc.exitCode !== null || i > 200) throw new Error(`collector did not start: ${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    proc,
    out: () => out,
    url: () => /"listening":"(https?:\/\/[^"]+)"/.exec(out)![1],
    stop: () => {
      proc.kill('SIGTERM');
      return exited;
    },
  };
}

/** Whether a TCP connection to host:port is accepted. */
export function reachable(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port, timeout: 2000 });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
    s.once('timeout', () => {
      s.destroy();
      resolve(false);
    });
  });
}
