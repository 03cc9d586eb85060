// Ingest load: sustained events/s and latency percentiles for the collector on
// SQLite and PostgreSQL, with autocannon as the load generator on loopback.
// Usage: node bench/ingest.mjs [--seconds 20] [--batch 100] [--connections 4] [--pg postgres://...]
// With --pg it also runs two collectors on the one PostgreSQL database, each loaded by its own
// generator with half the connections, and prints their sum.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';

const { values: o } = parseArgs({ options: { seconds: { type: 'string', default: '20' }, batch: { type: 'string', default: '100' }, connections: { type: 'string', default: '4' }, pg: { type: 'string' } } });
const CLI = new URL('../dist/sensor/cli.js', import.meta.url).pathname;
const TOKEN = 'bench-sensor-token-0123456789';

const freePort = () => new Promise((res) => { const s = createServer(); s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => res(p)); }); });

async function startCollector(db) {
  const port = await freePort();
  const proc = spawn(process.execPath, [CLI, 'collector', '--listen', `127.0.0.1:${port}`, '--db', db, '--sensor-token', `bench:${TOKEN}`, '--api-token', 'bench-api-token-0123456789', '--log-level', 'warn'], { stdio: 'inherit', env: { ...process.env, PHONEHOME_RATE_LIMIT_PER_MINUTE: '100000000' } });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) { try { if ((await fetch(`${url}/healthz`)).ok) break; } catch {} await new Promise((r) => setTimeout(r, 50)); }
  return { url, proc };
}

/**
 * Every event of every run is new to the database: keys and flow uids carry
 * this invocation's id and a range per generator. A repeated key is a
 * duplicate the collector acknowledges without storing its flow, which is
 * cheaper and not what is being measured.
 */
const RUN = Date.now().toString(36);
let nextRange = 0;

function flow(i) {
  return {
    uid: `Cbench${RUN}x${i}`, community_id: '1:xyz', ts: T0 + (i % 1_000_000) / 1000, duration: 1.2, proto: 'tcp', src_ip: '192.168.1.20', src_port: 40000 + (i % 20000),
    dst_ip: `52.49.${(i >> 8) & 255}.${i & 255}`, dst_port: 443, src_mac: '50:c7:bf:00:c7:03', dst_mac: '00:b5:6d:06:08:ba', src_pkts: 10, src_bytes: 1200,
    dst_pkts: 8, dst_bytes: 4000, state: 'SF', sni: 'devs.tplinkcloud.com', alpn: null, http_host: null, user_agent: null, dns_name: null,
    server_name: 'devs.tplinkcloud.com', dst_country: 'IE', dst_asn: 16509, end_reason: 'closed',
  };
}

/** Live traffic: flows of the last minutes, so PostgreSQL stores them in today's partition. */
const T0 = Math.floor(Date.now() / 1000) - 1000;

/** One load generator against one collector; `from` keeps its events' keys apart from another generator's. */
function load(url, connections, from) {
  const size = Number(o.batch);
  let n = from;
  return autocannon({
    url: `${url}/api/v1/events`,
    connections,
    duration: Number(o.seconds),
    requests: [{
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      setupRequest: (req) => {
        const events = [];
        for (let i = 0; i < size; i++, n++) events.push({ kind: 'flow', key: `flow:${RUN}:${n}`, data: flow(n) });
        return { ...req, body: JSON.stringify({ batch_id: `b${n}`, sensor: { name: 'bench', version: 'bench', lag_s: 0 }, events }) };
      },
    }],
  });
}

/** `count` collectors on one database, each with its own generator: events/s summed, the worst p50/p99. */
async function run(label, db, count = 1) {
  const collectors = [];
  for (let i = 0; i < count; i++) collectors.push(await startCollector(db));
  const each = Math.max(1, Math.round(Number(o.connections) / count));
  const results = await Promise.all(collectors.map((c, i) => load(c.url, each, nextRange++ * 1e9)));
  for (const c of collectors) c.proc.kill('SIGTERM');
  const size = Number(o.batch);
  const eps = results.reduce((s, r) => s + (r['2xx'] * size) / Number(o.seconds), 0);
  const rps = results.reduce((s, r) => s + r.requests.average, 0);
  const worst = (k) => Math.max(...results.map((r) => r.latency[k]));
  const sum = (k) => results.reduce((s, r) => s + r[k], 0);
  console.log(`${label.padEnd(22)} ${String(Math.round(eps)).padStart(8)} events/s  ${String(Math.round(rps)).padStart(6)} req/s  p50 ${worst('p50')} ms  p99 ${worst('p99')} ms  non-2xx ${sum('non2xx')}  errors ${sum('errors')}`);
}

console.log(`collector ingest: batches of ${o.batch} flow events, ${o.connections} connections, ${o.seconds} s, node ${process.version}`);
const dir = mkdtempSync(join(tmpdir(), 'phonehome-bench-'));
await run('sqlite', `sqlite:${join(dir, 'bench.db')}`);
if (o.pg) {
  await run('postgres', o.pg);
  await run('postgres, 2 collectors', o.pg, 2);
} else console.log('postgres   (skipped: pass --pg postgres://... to measure it)');
rmSync(dir, { recursive: true, force: true });
