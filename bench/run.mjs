// phonehome against tcpdump, tshark, Argus and pcap-parser on the same captures, in
// one run: packets/s, MB/s, peak RSS and ratios. Builds its captures from the
// corpus (merged, then concatenated ten times), a generated flood of
// distinct short flows, and the three floods memory is bounded against
// (bench/floods.mjs: spoofed MACs, destinations, a scan).
// Usage: npm run bench [-- --reps 3 --copies 10 --flood 2000000 --corpus DIR --only floods]
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { FLOODS } from './floods.mjs';

const root = resolve(import.meta.dirname, '..');
const { values: o } = parseArgs({
  options: {
    reps: { type: 'string', default: '3' },
    copies: { type: 'string', default: '10' },
    flood: { type: 'string', default: '2000000' },
    corpus: { type: 'string', default: resolve(root, '../shared/corpus/iot-sentinel') },
    only: { type: 'string' },
    macs: { type: 'string', default: '300000' },
  },
});
const out = join(root, 'bench', 'out');
mkdirSync(out, { recursive: true });
const CLI = join(root, 'dist', 'sensor', 'cli.js');
const haveTime = existsSync('/usr/bin/time');

/** The anomaly rules (rules/README.md): the bench times analyze with and without them. */
const ANOMALY_RULES = ['threat-intel', 'cleartext-credentials', 'port-mapping', 'dns-tunnel', 'dga', 'scan', 'inbound-exposure', 'long-connection', 'new-behaviour', 'abnormal-upload'];

function captures(dir) {
  const r = [];
  for (const n of readdirSync(dir).sort()) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) r.push(...captures(p));
    else if (n.endsWith('.pcap')) r.push(p);
  }
  return r;
}

function build() {
  const merged = join(out, 'corpus-merged.pcap');
  const copies = Number(o.copies);
  const big = join(out, `corpus-x${copies}.pcap`);
  if (!existsSync(merged)) execFileSync('mergecap', ['-F', 'pcap', '-w', merged, ...captures(o.corpus)]);
  if (!existsSync(big)) execFileSync('mergecap', ['-a', '-F', 'pcap', '-w', big, ...Array(copies).fill(merged)]);
  const flood = join(out, `flood-${o.flood}.pcap`);
  if (!existsSync(flood)) writeFlood(flood, Number(o.flood));
  return { big, flood };
}

/** n distinct two-packet UDP flows from one device to many servers (a scan or a flood). */
function writeFlood(file, n) {
  const fd = openSync(file, 'w');
  const h = Buffer.alloc(24);
  h.writeUInt32LE(0xa1b2c3d4, 0); h.writeUInt16LE(2, 4); h.writeUInt16LE(4, 6); h.writeUInt32LE(65535, 16); h.writeUInt32LE(1, 20);
  writeSync(fd, h);
  const frame = Buffer.from('00b56d0608ba50c7bf00c7030800450000230000400040110000c0a801140000000000000000000f000000000000000000', 'hex');
  const chunk = [];
  for (let i = 0; i < n; i++) {
    for (let dir = 0; dir < 2; dir++) {
      const rec = Buffer.alloc(16 + frame.length);
      const t = 1_700_000_000 + i * 0.0005 + dir * 0.0001;
      rec.writeUInt32LE(Math.floor(t), 0); rec.writeUInt32LE(Math.round((t % 1) * 1e6), 4);
      rec.writeUInt32LE(frame.length, 8); rec.writeUInt32LE(frame.length, 12);
      frame.copy(rec, 16);
      const f = rec.subarray(16);
      const a = 0xc0a80114; const b = (0x34000000 + i) >>> 0; const sp = 1024 + (i % 60000); const dp = 443;
      f.writeUInt32BE(dir ? b : a, 26); f.writeUInt32BE(dir ? a : b, 30);
      f.writeUInt16BE(dir ? dp : sp, 34); f.writeUInt16BE(dir ? sp : dp, 36);
      chunk.push(rec);
    }
    if (chunk.length >= 20000) { writeSync(fd, Buffer.concat(chunk)); chunk.length = 0; }
  }
  if (chunk.length) writeSync(fd, Buffer.concat(chunk));
  closeSync(fd);
}

function packetsOf(file) {
  // capinfos would do; counting with tshark keeps to one oracle.
  const r = spawnSync('capinfos', ['-c', '-M', file], { encoding: 'utf8' });
  const m = /Number of packets:\s+(\d+)/.exec(r.stdout);
  return m ? Number(m[1]) : NaN;
}

/** Runs a command `reps` times; best wall time and its peak RSS (GNU time). */
function measure(label, cmd, args, reps, parse) {
  let best = null;
  for (let i = 0; i < reps; i++) {
    const full = haveTime ? ['/usr/bin/time', ['-f', '%e %M', cmd, ...args]] : [cmd, args];
    const t0 = process.hrtime.bigint();
    const r = spawnSync(full[0], full[1], { encoding: 'utf8', maxBuffer: 1 << 30 });
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    if (r.status !== 0 && r.status !== 1) throw new Error(`${label} failed: ${r.stderr.slice(-500)}`);
    const tm = haveTime ? /(\d+\.\d+) (\d+)\s*$/.exec(r.stderr) : null;
    const rss = tm ? Number(tm[2]) * 1024 : NaN;
    const extra = parse ? parse(r.stdout) : {};
    if (!best || wall < best.wall) best = { wall, rss, ...extra };
  }
  return best;
}

const mib = (b) => (Number.isFinite(b) ? `${(b / 2 ** 20).toFixed(0)} MiB` : 'n/a');
const fmt = (n) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : `${(n / 1e3).toFixed(0)} k`);

const want = (k) => !o.only || o.only.split(',').includes(k);
if (o.only === 'floods') {
  boundedFloods();
  process.exit(0);
}
const { big, flood } = build();
for (const f of [big, flood]) execFileSync('cat', [f], { stdio: ['ignore', 'ignore', 'ignore'] });
const pkts = packetsOf(big);
const bytes = statSync(big).size;
const reps = Number(o.reps);
console.log(`machine: ${cpus().length} x ${cpus()[0].model}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`);
console.log(`capture: ${big} (${fmt(pkts)}packets, ${(bytes / 1e6).toFixed(0)} MB), best of ${reps}\n`);
const rows = [];
const row = (tool, r) => rows.push({ tool, ...r, pps: pkts / r.wall, mbs: bytes / 1e6 / r.wall });
const outDir = join(tmpdir(), `phonehome-bench-out-${process.pid}`);
if (want('phonehome')) {
  row('phonehome analyze (full analysis)', measure('phonehome', process.execPath, [CLI, 'analyze', big, '--json'], reps));
  row('phonehome analyze --workers 2', measure('phonehome-2', process.execPath, [CLI, 'analyze', big, '--json', '--workers', '2'], reps));
  row('phonehome analyze --out (all records)', measure('phonehome-out', process.execPath, [CLI, 'analyze', big, '--out', outDir], reps));
  row('phonehome analyze --out --workers 2', measure('phonehome-out-2', process.execPath, [CLI, 'analyze', big, '--out', outDir, '--workers', '2'], reps));
  execFileSync('rm', ['-rf', outDir]);
}
if (want('rules')) {
  // The anomaly rules' cost: the same build, the same capture, with and without them (both runs read the detections file).
  const on = join(root, 'rules', 'detections.yaml');
  const off = join(out, 'detections-anomaly-rules-off.yaml');
  let text = readFileSync(on, 'utf8');
  for (const id of ANOMALY_RULES) text = text.replace(new RegExp(`(\\n  ${id}:\\n    enabled: )true`), '$1false');
  writeFileSync(off, text);
  row('phonehome analyze, anomaly rules off', measure('rules-off', process.execPath, [CLI, 'analyze', big, '--json', '--detections', off], reps));
  row('phonehome analyze, anomaly rules on', measure('rules-on', process.execPath, [CLI, 'analyze', big, '--json', '--detections', on], reps));
}
if (want('layers')) {
  // The first stages alone: where a full analysis spends its time.
  const layers = join(root, 'bench', 'layers.mjs');
  row('  phonehome stages: read + frame', measure('frame', process.execPath, [layers, big, 'frame'], reps));
  row('  phonehome stages: + decode', measure('decode', process.execPath, [layers, big, 'decode'], reps));
  row('  phonehome stages: + flow table', measure('flows', process.execPath, [layers, big, 'flows'], reps));
  row('  floor: + typed-array 5-tuple counts', measure('tuples', process.execPath, [layers, big, 'tuples'], reps));
}
if (want('pcap-parser')) row('pcap-parser (framing only)', measure('pcap-parser', process.execPath, ['-e', `const p=require(${JSON.stringify(join(root, 'node_modules/pcap-parser'))}).parse(process.argv[1]);let n=0;p.on('packet',()=>n++);p.on('end',()=>console.log(n))`, big], reps));
if (want('tcpdump')) row('tcpdump -nn -r (to /dev/null)', measure('tcpdump', 'sh', ['-c', `tcpdump -nn -r '${big}' > /dev/null 2>&1`], reps));
if (want('tshark')) row('tshark -q -z conv,ip', measure('tshark', 'tshark', ['-n', '-q', '-z', 'conv,ip', '-r', big], reps));
// Argus: a flow meter in C writing bidirectional flow records, the fairest peer of `analyze --out`.
if (want('argus')) {
  const argus = ['/usr/sbin/argus', '/usr/bin/argus'].find((p) => existsSync(p));
  if (!argus) console.log('argus not installed (apt-get install argus-server): its row is left out\n');
  else {
    const file = join(tmpdir(), `phonehome-bench-${process.pid}.argus`);
    row('argus -r -w (flow records)', measure('argus', argus, ['-r', big, '-w', file], reps));
    execFileSync('rm', ['-f', file]);
  }
}
const tshark = rows.find((r) => r.tool.startsWith('tshark'));
console.log(`${'tool'.padEnd(42)} ${'packets/s'.padStart(11)} ${'MB/s'.padStart(8)} ${'peak RSS'.padStart(9)} ${'vs tshark'.padStart(10)}`);
for (const r of rows) console.log(`${r.tool.padEnd(42)} ${fmt(r.pps).padStart(11)} ${r.mbs.toFixed(0).padStart(8)} ${mib(r.rss).padStart(9)} ${tshark ? `${(r.pps / tshark.pps).toFixed(1)}x`.padStart(10) : ''}`);

const one = rows.find((r) => r.tool === 'phonehome analyze (full analysis)');
if (want('layers')) {
  // What every run pays before its first packet: Node, modules, profiles, GeoIP, the OUI registry.
  const empty = join(out, 'empty.pcap');
  if (!existsSync(empty)) {
    const h = Buffer.alloc(24);
    h.writeUInt32LE(0xa1b2c3d4, 0); h.writeUInt16LE(2, 4); h.writeUInt16LE(4, 6); h.writeUInt32LE(65535, 16); h.writeUInt32LE(1, 20);
    writeFileSync(empty, h);
  }
  const node = measure('node', process.execPath, ['-e', '0'], reps);
  const start = measure('start-up', process.execPath, [CLI, 'analyze', empty, '--json'], reps);
  console.log(`\nstart-up: phonehome analyze of an empty capture ${start.wall.toFixed(2)} s (node alone ${node.wall.toFixed(2)} s)${one ? `, ${((100 * start.wall * one.pps) / pkts).toFixed(0)} % of the full analysis above` : ''}`);
}
const rulesOff = rows.find((r) => r.tool.endsWith('anomaly rules off'));
const rulesOn = rows.find((r) => r.tool.endsWith('anomaly rules on'));
if (rulesOff && rulesOn) console.log(`\nanomaly rules: ${fmt(rulesOff.pps)}packets/s without them, ${fmt(rulesOn.pps)}packets/s with them (${((100 * rulesOff.pps) / rulesOn.pps - 100).toFixed(0)} % more time)`);
const argusRow = rows.find((r) => r.tool.startsWith('argus'));
const outRow = rows.find((r) => r.tool === 'phonehome analyze --out (all records)');
if (argusRow && one && outRow) console.log(`\nagainst Argus: analyze ${(one.pps / argusRow.pps).toFixed(2)}x, analyze --out ${(outRow.pps / argusRow.pps).toFixed(2)}x its packets/s`);
const two = rows.find((r) => r.tool === 'phonehome analyze --workers 2');
if (one && two) console.log(`\nscaling: 1 thread ${fmt(one.pps)}packets/s, 2 workers ${fmt(two.pps)}packets/s (${(two.pps / one.pps).toFixed(2)}x) on ${cpus().length} cores`);

if (want('flood')) {
  const floodPkts = packetsOf(flood);
  for (const workers of ['1', '2']) {
    const r = measure('flood', process.execPath, [CLI, 'analyze', flood, '--json', '--workers', workers], 1, (s) => {
      const j = JSON.parse(s);
      return { flows: j.stats.flows };
    });
    console.log(`${workers === '1' ? '\n' : ''}flood, --workers ${workers}: ${fmt(floodPkts)}packets in ${fmt(floodPkts / 2)}distinct flows, default --max-flows: ${fmt(floodPkts / r.wall)}packets/s, peak RSS ${mib(r.rss)}, flows emitted ${r.flows}`);
  }
}

if (want('floods')) boundedFloods();

/**
 * The floods memory must stay bounded under (each under 1 GiB peak RSS, every
 * flow emitted): one SYN from each of --macs spoofed MACs, --flood distinct
 * destinations from one device, --flood scanning SYNs from one device.
 */
/** Lines of a file of any size (flows.jsonl of a flood passes the largest string Node can hold). */
function countLines(file) {
  const fd = openSync(file, 'r');
  const buf = Buffer.alloc(1 << 20);
  let n = 0;
  try {
    for (let got; (got = readSync(fd, buf, 0, buf.length, null)) > 0; ) for (let i = 0; i < got; i++) if (buf[i] === 10) n++;
  } finally {
    closeSync(fd);
  }
  return n;
}

function boundedFloods() {
  const n = Number(o.flood);
  const cases = [
    ['spoofed MACs', 'macs', Number(o.macs)],
    ['destinations from one device', 'destinations', n],
    ['scanning flows (one device, SYNs to host/port pairs)', 'scan', n],
  ];
  const dir = join(tmpdir(), `phonehome-bench-floods-${process.pid}`);
  console.log(`\nbounded floods (analyze --out, defaults; limit 1 GiB peak RSS):`);
  for (const [label, kind, count] of cases) {
    const file = join(out, `flood-${kind}-${count}.pcap`);
    const truth = FLOODS[kind](file, count);
    execFileSync('rm', ['-rf', dir]);
    const r = measure(kind, process.execPath, [CLI, 'analyze', file, '--out', dir], 1);
    const lines = (f) => countLines(join(dir, f));
    const devices = JSON.parse(readFileSync(join(dir, 'devices.json'), 'utf8')).length;
    const ok = lines('flows.jsonl') === truth.flows && r.rss < 2 ** 30 ? 'ok' : 'OVER';
    console.log(`  ${fmt(count)} ${label}: peak RSS ${mib(r.rss)} ${ok}, ${r.wall.toFixed(1)} s, flows emitted ${lines('flows.jsonl')} of ${truth.flows}, devices reported ${devices}, alerts ${lines('alerts.jsonl')}`);
  }
  execFileSync('rm', ['-rf', dir]);
}

if (want('sensor')) {
  // The continuous sensor on a live stdin stream: how fast it reads, and how far behind
  // the stream its own lag metric says it is. The collector is unreachable on purpose:
  // events go to the spool, so delivery does not set the pace.
  const metricsPort = await new Promise((res) => { const s = createServer(); s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => res(p)); }); });
  const spool = join(tmpdir(), `phonehome-bench-spool-${process.pid}`);
  const sh = spawn('sh', ['-c', `'${process.execPath}' '${join(root, 'bench/live-replay.mjs')}' '${big}' | '${process.execPath}' '${CLI}' sensor --input - --collector http://127.0.0.1:9 --token bench-token-0123456789 --spool '${spool}' --spool-max-mb 4096 --metrics-port ${metricsPort} --log-level fatal`], { stdio: 'ignore', detached: true });
  const scrape = async () => {
    try {
      const t = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      const v = (name) => Number((new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'm').exec(t) ?? [])[1] ?? NaN);
      return { packets: v('phonehome_sensor_packets_total'), lag: v('phonehome_sensor_lag_seconds') };
    } catch {
      return null;
    }
  };
  let t0 = null;
  let maxLag = 0;
  let last = null;
  for (let i = 0; i < 6000; i++) {
    await new Promise((r) => setTimeout(r, 100));
    const m = await scrape();
    if (!m || !(m.packets > 0)) continue;
    t0 ??= performance.now();
    if (Number.isFinite(m.lag)) maxLag = Math.max(maxLag, m.lag);
    last = m;
    if (m.packets >= pkts) break;
  }
  const secs = (performance.now() - t0) / 1000;
  try { process.kill(-sh.pid, 'SIGKILL'); } catch {}
  execFileSync('rm', ['-rf', spool]);
  console.log(`\nsensor on a live stdin stream (timestamps re-stamped to now): ${fmt(last.packets / secs)}packets/s, largest lag metric seen ${maxLag.toFixed(2)} s`);
  // The same stream into analyze, and into nothing but a pipe reader: the stream itself
  // (the replayer re-stamping every packet, the pipe) shares the two cores, so these say
  // how much of the gap to analyze-on-a-file is the sensor and how much is the input.
  const replay = `'${process.execPath}' '${join(root, 'bench/live-replay.mjs')}' '${big}'`;
  const sink = measure('replay-cat', 'sh', ['-c', `${replay} | cat > /dev/null`], reps);
  const onStream = measure('replay-analyze', 'sh', ['-c', `${replay} | '${process.execPath}' '${CLI}' analyze - --json > /dev/null`], reps);
  // The sensor serialises every flow, as analyze --out does.
  const outStream = measure('replay-analyze-out', 'sh', ['-c', `${replay} | '${process.execPath}' '${CLI}' analyze - --out '${outDir}' > /dev/null`], reps);
  execFileSync('rm', ['-rf', outDir]);
  console.log(`the same stream into phonehome analyze -: ${fmt(pkts / onStream.wall)}packets/s; analyze - --out: ${fmt(pkts / outStream.wall)}packets/s; cat (the stream alone): ${fmt(pkts / sink.wall)}packets/s`);
  streamPeers(replay, spool);
}

/**
 * The sensor and Argus each reading the same live stream through a pipe, timed
 * alike: the whole pipeline, start-up and the replayer included. Argus reading a
 * file never waits for a writer, so this is the like-for-like peer of the sensor.
 */
function streamPeers(replay, spool) {
  const argus = ['/usr/sbin/argus', '/usr/bin/argus'].find((p) => existsSync(p));
  if (!argus) return console.log('argus not installed: the live-stream comparison is left out');
  const records = join(tmpdir(), `phonehome-bench-stream-${process.pid}.argus`);
  const peer = measure('replay-argus', 'sh', ['-c', `${replay} | '${argus}' -r - -w '${records}'`], reps);
  // --once: read the stream to its end, spool every event, give up delivering to
  // the unreachable collector almost at once (exit 1: batches stay in the spool).
  const sensor = measure('replay-sensor-once', 'sh', ['-c', `rm -rf '${spool}'; ${replay} | '${process.execPath}' '${CLI}' sensor --input - --once --drain-timeout 0.05 --collector http://127.0.0.1:9 --token bench-token-0123456789 --spool '${spool}' --spool-max-mb 4096 --log-level fatal`], reps);
  execFileSync('rm', ['-rf', spool, records]);
  console.log(`the same stream, whole pipeline timed alike: sensor --once ${fmt(pkts / sensor.wall)}packets/s, argus -r - ${fmt(pkts / peer.wall)}packets/s: the sensor ${(peer.wall / sensor.wall).toFixed(2)}x Argus's packets/s`);
}
