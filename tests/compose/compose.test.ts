// docker-compose.yml and the Dockerfile, checked without a Docker daemon: the
// compose file as Docker Compose itself resolves it (`config`), then what
// `config` cannot know: that every mounted file is in the repository, every
// image is pinned, Prometheus, Grafana and the sensors name services and
// ports that exist (the live sensor's metrics included), the default tokens
// agree, the collector healthcheck and the live sensor's shell really behave
// (run here against a real collector), a real Alertmanager with the shipped
// configuration notifies the alert-log service's webhook, and the Dockerfile
// copies only what .dockerignore lets through.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CLI } from '../helpers/cli.js';
import { api, freePort, startCollector, type RunningCollector } from '../helpers/collector.js';
import { fixture } from '../helpers/corpus.js';

const ROOT = resolve(import.meta.dirname, '../..');
const COMPOSE_FILE = join(ROOT, 'docker-compose.yml');
const PROMETHEUS_CONFIG = join(ROOT, 'rules/prometheus/prometheus.example.yml');
const ALERTMANAGER_CONFIG = join(ROOT, 'rules/prometheus/alertmanager.example.yml');
const DATASOURCES = join(ROOT, 'dashboards/provisioning/datasources/prometheus.yml');
const DASHBOARD_PROVIDERS = join(ROOT, 'dashboards/provisioning/dashboards/phonehome.yml');
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

/** Docker Compose v2 (the docker plugin) if there, else Debian's docker-compose v1. */
function composeCommand(): string[] {
  if (spawnSync('docker', ['compose', 'version'], { encoding: 'utf8' }).status === 0) return ['docker', 'compose'];
  if (spawnSync('docker-compose', ['version'], { encoding: 'utf8' }).status === 0) return ['docker-compose'];
  throw new Error('neither `docker compose` nor `docker-compose` is installed: install Debian\'s docker-compose (apt-get install docker-compose) to check docker-compose.yml');
}

/**
 * Runs compose on the repository's file with none of the settings the file
 * reads from the environment or an .env file, so the defaults written in it
 * are what is checked.
 */
const NO_ENV_FILE = join(mkdtempSync(join(tmpdir(), 'phonehome-compose-env-')), 'empty.env');
writeFileSync(NO_ENV_FILE, '');

function compose(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const [cmd, ...pre] = composeCommand();
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(PHONEHOME_|CAPTURE_INTERFACE$|GRAFANA_|COMPOSE_)/.test(k)));
  const r = spawnSync(cmd, [...pre, '--project-directory', ROOT, '-f', COMPOSE_FILE, '--env-file', NO_ENV_FILE, ...args], { cwd: ROOT, env, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface LongVolume { type: string; source?: string; target: string; read_only?: boolean }
interface Service {
  image?: string;
  build?: unknown;
  command?: string[] | string;
  entrypoint?: string[] | string;
  environment?: Record<string, string | null>;
  volumes?: (string | LongVolume)[];
  profiles?: string[];
  network_mode?: string;
  extra_hosts?: string[] | Record<string, string>;
  healthcheck?: { test: string[] | string };
}
interface Resolved { services: Record<string, Service>; volumes?: Record<string, unknown> }
interface AlertmanagerConfig { route: { receiver: string }; receivers: { name: string; webhook_configs?: { url: string }[] }[] }

/** A service's mounts as {source, target}, from either syntax `config` prints (v1 short, v2 long). */
function mounts(s: Service): { source: string; target: string; bind: boolean }[] {
  return (s.volumes ?? []).map((v) => {
    if (typeof v !== 'string') return { source: v.source ?? '', target: v.target, bind: v.type === 'bind' };
    const [source, target] = v.split(':');
    return { source, target, bind: source.startsWith('/') || source.startsWith('.') };
  });
}

/** The value after a flag in a service's command. */
function flag(s: Service, name: string): string | undefined {
  const c = Array.isArray(s.command) ? s.command : [];
  const i = c.indexOf(name);
  return i >= 0 ? String(c[i + 1]) : undefined;
}

/** A shell or node script given as a service's one command argument, with compose's $$ escapes undone. */
function script(s: Service): string {
  return (Array.isArray(s.command) ? s.command[0] : s.command!).replaceAll('$$', '$');
}

/** extra_hosts as host:address strings, from either form `config` prints. */
function extraHosts(s: Service): string[] {
  const h = s.extra_hosts ?? [];
  return Array.isArray(h) ? h.map((x) => x.replace('=', ':')) : Object.entries(h).map(([k, v]) => `${k}:${v}`);
}

const hostPort = (target: string): [string, number] => {
  const u = new URL(target.includes('://') ? target : `http://${target}`);
  return [u.hostname, Number(u.port || (u.protocol === 'https:' ? 443 : 80))];
};

let resolved: Resolved;

describe('docker-compose.yml', () => {
  beforeAll(() => {
    const r = compose(['--profile', 'live', 'config']);
    if (r.status !== 0) throw new Error(`compose config failed: ${r.stderr}`);
    resolved = parse(r.stdout) as Resolved;
  }, 30_000);

  it('is valid for Docker Compose (config -q), with and without the live profile', () => {
    for (const args of [['config', '-q'], ['--profile', 'live', 'config', '-q']]) {
      const r = compose(args);
      expect(r.status, r.stderr).toBe(0);
      // every setting the file reads has a default: a fresh checkout starts with no .env
      expect(r.stderr).not.toMatch(/variable is not set/i);
    }
    expect(Object.keys(resolved.services).sort()).toEqual(['alert-log', 'alertmanager', 'collector', 'grafana', 'prometheus', 'sensor', 'sensor-live']);
    expect(resolved.services['sensor-live'].profiles).toEqual(['live']);
  }, 30_000); // docker-compose v1 takes seconds to start, more on a busy machine

  it('mounts only files and directories that are in the repository, and declared volumes', () => {
    for (const [name, s] of Object.entries(resolved.services)) {
      for (const m of mounts(s)) {
        if (m.bind) expect(existsSync(m.source), `${name}: ${m.source} (mounted at ${m.target}) is not in the repository`).toBe(true);
        else expect(Object.keys(resolved.volumes ?? {}), `${name}: volume ${m.source}`).toContain(m.source);
      }
    }
  });

  it('pins every image to a released version, and phonehome to the package version', () => {
    for (const [name, s] of Object.entries(resolved.services)) {
      expect(s.image, `${name} has no image`).toBeDefined();
      expect(s.image, `${name}: ${s.image} is not pinned to a version tag`).toMatch(/^[\w.\/-]+:v?\d+\.\d+\.\d+$/);
      if (s.image!.startsWith('phonehome:')) expect(s.image).toBe(`phonehome:${VERSION}`);
    }
    expect(resolved.services.collector.build).toBeDefined();
  });

  it("Prometheus scrapes services and ports that exist, and loads the rules where they are mounted", () => {
    const services = resolved.services;
    const prom = mounts(services.prometheus);
    expect(prom).toContainEqual(expect.objectContaining({ source: PROMETHEUS_CONFIG, target: '/etc/prometheus/prometheus.yml' }));
    const config = parse(readFileSync(PROMETHEUS_CONFIG, 'utf8')) as {
      rule_files: string[];
      scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
      alerting?: { alertmanagers: { static_configs: { targets: string[] }[] }[] };
    };
    for (const f of config.rule_files) {
      const m = prom.find((x) => x.target === f);
      expect(m, `rule file ${f} is not mounted into prometheus`).toBeDefined();
      expect(existsSync(m!.source)).toBe(true);
    }
    // the port each service listens on, read from its own command line; the live sensor is on
    // the host's network, which Prometheus reaches as host.docker.internal
    const live = services['sensor-live'];
    expect(live.network_mode).toBe('host');
    expect(extraHosts(services.prometheus)).toContain('host.docker.internal:host-gateway');
    const listens: Record<string, number> = {
      collector: hostPort(flag(services.collector, '--listen')!)[1],
      sensor: Number(flag(services.sensor, '--metrics-port')),
      'host.docker.internal': Number(/--metrics-port (\d+)/.exec(script(live))?.[1]),
      prometheus: 9090,
      alertmanager: 9093,
    };
    const targets = config.scrape_configs.flatMap((j) => j.static_configs.flatMap((c) => c.targets));
    expect(config.scrape_configs.map((j) => j.job_name)).toEqual(['phonehome-collector', 'phonehome-sensor']);
    for (const t of [...targets, ...(config.alerting?.alertmanagers.flatMap((a) => a.static_configs.flatMap((c) => c.targets)) ?? [])]) {
      const [host, port] = hostPort(t);
      if (host !== 'host.docker.internal') expect(Object.keys(services), `Prometheus target ${t}`).toContain(host);
      expect(listens[host], `Prometheus target ${t}: ${host} listens on ${listens[host]}`).toBe(port);
    }
    // both sensors are scraped, as job phonehome-sensor (the dashboards' default)
    const sensorJob = config.scrape_configs.find((j) => j.job_name === 'phonehome-sensor')!.static_configs.flatMap((c) => c.targets);
    expect(sensorJob.sort()).toEqual([`host.docker.internal:${listens['host.docker.internal']}`, `sensor:${listens.sensor}`].sort());
    // a sensor's metrics bind loopback unless told otherwise: Prometheus could not reach them
    expect(flag(services.sensor, '--metrics-host')).toBe('0.0.0.0');
    expect(hostPort(flag(services.collector, '--listen')!)[0]).toBe('0.0.0.0');
    // the live sensor's metrics bind the host's address on Docker's bridge (what host-gateway
    // resolves to by default), not every interface of a host on the network
    expect(script(live)).toContain('--metrics-host "${METRICS_HOST}"');
    expect(live.environment?.METRICS_HOST).toBe('172.17.0.1');
  });

  it('Grafana, the collector and the sensors name services that exist', () => {
    const services = resolved.services;
    const datasource = (parse(readFileSync(DATASOURCES, 'utf8')) as { datasources: { url: string }[] }).datasources[0].url;
    expect(hostPort(datasource)).toEqual(['prometheus', 9090]);
    const providers = parse(readFileSync(DASHBOARD_PROVIDERS, 'utf8')) as { providers: { options: { path: string } }[] };
    const grafana = mounts(services.grafana);
    expect(grafana.map((m) => m.target)).toContain(providers.providers[0].options.path);
    expect(grafana).toContainEqual(expect.objectContaining({ source: join(ROOT, 'dashboards/provisioning/datasources'), target: '/etc/grafana/provisioning/datasources' }));
    expect(hostPort(flag(services.collector, '--alertmanager')!)).toEqual(['alertmanager', 9093]);
    expect(mounts(services.alertmanager)).toContainEqual(expect.objectContaining({ source: ALERTMANAGER_CONFIG, target: '/etc/alertmanager/alertmanager.yml' }));
    expect(hostPort(flag(services.sensor, '--collector')!)).toEqual(['collector', 8080]);
    expect(services.sensor.command).toContain('--input');
    expect(mounts(services.sensor).map((m) => m.target)).toContain(flag(services.sensor, '--input'));
  });

  it('the default tokens agree between the collector and its sensors, and the collector accepts them', () => {
    const env = (s: string) => resolved.services[s].environment ?? {};
    const sensors = Object.fromEntries(env('collector').PHONEHOME_SENSOR_TOKENS!.split(',').map((t) => [t.slice(0, t.indexOf(':')), t.slice(t.indexOf(':') + 1)]));
    expect(sensors.lab).toBe(env('sensor').PHONEHOME_TOKEN);
    expect(sensors.live).toBe(env('sensor-live').PHONEHOME_TOKEN);
    // the collector refuses secrets shorter than 16 characters at start-up
    for (const secret of [...Object.values(sensors), env('collector').PHONEHOME_API_TOKEN!]) expect(secret.length).toBeGreaterThanOrEqual(16);
  });

  it('Alertmanager accepts its configuration (amtool check-config)', () => {
    const r = spawnSync('amtool', ['check-config', ALERTMANAGER_CONFIG], { encoding: 'utf8' });
    if (r.error) throw new Error("amtool not found on PATH: install Debian's prometheus-alertmanager package");
    expect(r.stdout + r.stderr).toMatch(/SUCCESS/);
    expect(r.status).toBe(0);
  });

  it("Alertmanager's receiver is the webhook of a service that exists and listens where it says", () => {
    const am = parse(readFileSync(ALERTMANAGER_CONFIG, 'utf8')) as AlertmanagerConfig;
    const receiver = am.receivers.find((r) => r.name === am.route.receiver);
    expect(receiver?.webhook_configs?.length, `route receiver ${am.route.receiver}`).toBeGreaterThan(0);
    const [host, port] = hostPort(receiver!.webhook_configs![0].url);
    expect(Object.keys(resolved.services)).toContain(host);
    expect(/\.listen\((\d+)\)/.exec(script(resolved.services[host]))?.[1]).toBe(String(port));
    expect(resolved.services[host].entrypoint).toEqual(['node', '-e']);
  });

  it('a real Alertmanager with this configuration notifies alert-log, which prints it with control characters escaped', async () => {
    const am = parse(readFileSync(ALERTMANAGER_CONFIG, 'utf8')) as AlertmanagerConfig;
    const url = am.receivers.find((r) => r.name === am.route.receiver)!.webhook_configs![0].url;
    const dir = mkdtempSync(join(tmpdir(), 'phonehome-compose-am-'));
    const [sinkPort, amPort] = [await freePort(), await freePort()];
    const sink = spawn(process.execPath, ['-e', script(resolved.services['alert-log']).replace(/\.listen\(\d+\)/, `.listen(${sinkPort}, '127.0.0.1')`)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let printed = '';
    sink.stdout!.on('data', (d) => (printed += d));
    // The shipped file with the webhook on this machine and a shorter first wait.
    const original = readFileSync(ALERTMANAGER_CONFIG, 'utf8');
    const config = original.replace(url, `http://127.0.0.1:${sinkPort}/alertmanager`).replace(/group_wait: \d+s/, 'group_wait: 1s');
    expect(config).not.toBe(original);
    writeFileSync(join(dir, 'am.yml'), config);
    const alertmanager = spawn('prometheus-alertmanager', [`--config.file=${join(dir, 'am.yml')}`, `--storage.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${amPort}`, '--cluster.listen-address='], { stdio: 'ignore' });
    try {
      const amUrl = `http://127.0.0.1:${amPort}`;
      for (let i = 0; !(await fetch(`${amUrl}/-/ready`).then((r) => r.ok, () => false)); i++) {
        if (i > 200) throw new Error('alertmanager did not start');
        await new Promise((r) => setTimeout(r, 100));
      }
      // a device-chosen name that would retitle and clear a terminal if printed raw
      const hostile = 'cam\x1b]0;owned\x07\x1b[2J\u009b2J';
      const alert = { labels: { alertname: 'geo-callback', rule: 'geo-callback', severity: 'high', device: '50:c7:bf:00:c7:03', country: 'CN' }, annotations: { summary: `${hostile} called CN` } };
      const posted = await fetch(`${amUrl}/api/v2/alerts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([alert]) });
      expect(posted.status).toBe(200);
      for (let i = 0; !printed.includes('\n'); i++) {
        if (i > 200) throw new Error(`alert-log printed nothing: ${printed}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      alertmanager.kill('SIGTERM');
      sink.kill('SIGTERM');
      await new Promise((r) => (alertmanager.exitCode === null ? alertmanager.once('exit', r) : r(null)));
      rmSync(dir, { recursive: true, force: true });
    }
    const lines = printed.trim().split('\n');
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0]) as { path: string; notification: { receiver: string; status: string; alerts: { labels: Record<string, string>; annotations: Record<string, string> }[] } };
    expect(line.path).toBe('/alertmanager');
    expect(line.notification.receiver).toBe(am.route.receiver);
    expect(line.notification.status).toBe('firing');
    expect(line.notification.alerts[0].labels).toMatchObject({ alertname: 'geo-callback', device: '50:c7:bf:00:c7:03', country: 'CN' });
    expect(line.notification.alerts[0].annotations.summary).toBe('cam\x1b]0;owned\x07\x1b[2J\u009b2J called CN');
    // escaped on the way out: no ESC, BEL or C1 CSI reaches the log
    expect(printed).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f]/);
    expect(printed).toContain('\\u001b]0;owned\\u0007');
    expect(printed).toContain('\\u009b2J');
  }, 60_000);

  describe('against a real collector', () => {
    let collector: RunningCollector;
    const tmp = mkdtempSync(join(tmpdir(), 'phonehome-compose-'));
    beforeAll(async () => {
      const e = resolved.services.collector.environment!;
      collector = await startCollector(`sqlite:${join(tmp, 'c.db')}`, ['--sensor-token', e.PHONEHOME_SENSOR_TOKENS!.split(',')[1]]);
    });
    afterAll(async () => {
      await collector?.stop();
    });

    it("the collector's healthcheck passes on a ready collector and fails without one", async () => {
      const test = resolved.services.collector.healthcheck!.test as string[];
      expect(test.slice(0, 3)).toEqual(['CMD', 'node', '-e']);
      // The check names the container's port; here the collector listens elsewhere.
      const run = (port: number) => spawnSync(process.execPath, ['-e', test[3].replace('127.0.0.1:8080', `127.0.0.1:${port}`)], { timeout: 10_000 }).status;
      expect(test[3]).toContain('http://127.0.0.1:8080/readyz');
      expect(run(collector.port)).toBe(0);
      expect(run(await freePort())).toBe(1);
    });

    it('the live sensor delivers everything, serves the metrics Prometheus scrapes and exits 0 on SIGTERM (docker stop)', async () => {
      const live = resolved.services['sensor-live'];
      expect(live.network_mode).toBe('host');
      expect(live.entrypoint).toEqual(['/bin/sh', '-c']);
      // `config` prints the script with compose's $$ escapes; the container's shell gets single $.
      const sh0 = script(live);
      expect(sh0).toContain(`tcpdump -i "\${CAPTURE_INTERFACE}" -U -w - | phonehome sensor --input -`);
      // Here no Docker bridge: the metrics bind loopback, on a free port.
      const metricsPort = await freePort();
      expect(sh0).toContain('--metrics-port 9102');
      // A stand-in tcpdump writes a real capture and keeps the pipe open, as a live capture does;
      // `phonehome` is the built CLI, as the image links it.
      const bin = join(tmp, 'bin');
      mkdirSync(bin);
      writeFileSync(join(bin, 'tcpdump'), `#!/bin/sh\ncat '${fixture('TP-LinkPlugHS110')}'\nexec sleep 20\n`);
      chmodSync(join(bin, 'tcpdump'), 0o755);
      writeFileSync(join(bin, 'phonehome'), `#!/bin/sh\nexec '${process.execPath}' '${CLI}' "$@"\n`);
      chmodSync(join(bin, 'phonehome'), 0o755);
      const sh = spawn('/bin/sh', ['-c', sh0.replaceAll('/data/spool', join(tmp, 'spool')).replace('http://127.0.0.1:8080', collector.url).replace('--metrics-port 9102', `--metrics-port ${metricsPort}`)], {
        env: { ...process.env, ...live.environment, METRICS_HOST: '127.0.0.1', PATH: `${bin}:${process.env.PATH}` },
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      });
      let log = '';
      sh.stdout!.on('data', (d) => (log += d));
      sh.stderr!.on('data', (d) => (log += d));
      const exited = new Promise<number | null>((r) => sh.once('exit', (c) => r(c)));
      try {
        for (let i = 0; !/"sensor started"/.test(log); i++) {
          if (i > 300 || sh.exitCode !== null) throw new Error(`live sensor did not start: ${log}`);
          await new Promise((r) => setTimeout(r, 50));
        }
        // the capture (14 kB) is in the pipe already; the sensor's metrics count it once read
        let metrics = '';
        for (let i = 0; !/^phonehome_sensor_packets_total [1-9]/m.test(metrics); i++) {
          if (i > 100) throw new Error(`the live sensor's metrics count no packet: ${metrics}`);
          await new Promise((r) => setTimeout(r, 100));
          metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
        }
        // and time to hand them to the spool
        await new Promise((r) => setTimeout(r, 1000));
        const started = Date.now();
        sh.kill('SIGTERM');
        expect(await exited).toBe(0);
        // well inside docker stop's 10 s grace period before SIGKILL
        expect(Date.now() - started).toBeLessThan(8000);
      } finally {
        // the stand-in's sleep, if the pipe did not end it
        try {
          process.kill(-sh.pid!, 'SIGKILL');
        } catch {
          // the group is gone already
        }
      }
      expect(log).toMatch(/"signal":"SIGTERM".*"msg":"stopping: no more reading/);
      const sensors = (await (await api(collector.url, '/api/v1/sensors')).json()) as { items: { name: string; events: number }[] };
      expect(sensors.items.find((s) => s.name === 'live')?.events).toBeGreaterThan(0);
      const alerts = (await (await api(collector.url, '/api/v1/alerts?device=50:c7:bf:00:c7:03')).json()) as { items: { rule: string }[] };
      expect(alerts.items.map((a) => a.rule)).toContain('undocumented-destination');
    }, 60_000);
  });
});

describe('Dockerfile', () => {
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  const lines = dockerfile.split('\n').filter((l) => !l.startsWith('#'));

  it('builds on a pinned Node 20 image and runs the CLI as an unprivileged user', () => {
    const base = /^ARG NODE_IMAGE=(\S+)$/m.exec(dockerfile)?.[1];
    expect(base).toMatch(/^node:20\.\d+\.\d+-bookworm-slim$/);
    const froms = lines.filter((l) => l.startsWith('FROM '));
    expect(froms.length).toBeGreaterThanOrEqual(2);
    for (const f of froms) expect(f).toMatch(/^FROM \$\{NODE_IMAGE\}( AS \w+)?$/);
    const user = lines.filter((l) => l.startsWith('USER ')).pop();
    expect(user).toBeDefined();
    expect(user).not.toMatch(/^USER (root|0)\b/);
    expect(dockerfile).toMatch(/^ENTRYPOINT \["node", "\/opt\/phonehome\/dist\/sensor\/cli\.js"\]$/m);
    expect(dockerfile).toMatch(/apt-get install [^\n]*\btcpdump\b/);
    expect(existsSync(join(ROOT, 'dist/sensor/cli.js'))).toBe(true);
  });

  it('copies from the build context only what .dockerignore lets through, and all of it exists', () => {
    const ignore = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    // an allow-list: everything excluded, then the inputs of the build named one by one
    expect(ignore[0]).toBe('*');
    const allowed = new Set(ignore.slice(1).map((l) => l.replace(/^!/, '').replace(/\/$/, '')));
    const copies = lines.filter((l) => /^COPY /.test(l) && !/--from=/.test(l));
    expect(copies.length).toBeGreaterThan(0);
    for (const c of copies) {
      const sources = c.replace(/^COPY\s+/, '').split(/\s+/).slice(0, -1);
      for (const s of sources) {
        expect(allowed, `${c}: ${s} is excluded by .dockerignore`).toContain(s);
        expect(existsSync(join(ROOT, s)), `${c}: ${s} is not in the repository`).toBe(true);
      }
    }
    // the image's root detection needs package.json beside rules/ (sensor/util/paths.ts)
    expect(dockerfile).toMatch(/^COPY (--from=build \/opt\/phonehome\/)?package\.json /m);
    expect(dockerfile).toMatch(/^COPY rules rules$/m);
  });
});
