import { closeSync, createWriteStream, mkdirSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import type { AlertRecord, DeviceRecord, FileStats, RunStats } from '../../contract/types.js';
import { CaptureError, UsageError } from '../errors.js';
import { expandInputs, type ExpandedInputs } from '../capture/inputs.js';
import { firstTimestamp, readCaptureFile, readCaptureStream, type ReadResult } from '../capture/reader.js';
import type { Detector } from '../detect/engine.js';
import { enrichDevices } from '../enrich/destination.js';
import { pcapMissing, writeEvidence } from '../output/evidence.js';
import { JsonlWriter } from '../output/jsonl.js';
import type { ShardedInput } from '../parallel/shards.js';
import { Pipeline } from '../pipeline/pipeline.js';
import { detectorOf, loadAnalysis, type AnalysisOptions, type AnalysisSetup } from '../pipeline/setup.js';
import { peakRssBytes } from '../util/rss.js';
import { jsonSafe } from '../../contract/escape.js';

export interface AnalyzeOptions extends AnalysisOptions {
  /** write flows.jsonl, dns.jsonl, alerts.jsonl, devices.json, stats.json here */
  outDir?: string;
  stdin?: NodeJS.ReadableStream;
  /** write one pcap per alert with the packets of its flows here */
  evidenceDir?: string;
  /** analyse in this many threads, each owning a share of the flows (stdin is read once, by this thread) */
  workers?: number;
}

export interface AnalyzeResult {
  stats: RunStats;
  devices: DeviceRecord[];
  alerts: AlertRecord[];
  /** profile loading notes (MUD entries that could not be mapped) and threat-intel feed notes (malformed lines skipped) */
  notes: string[];
  /** 0 all read, 1 a file stopped early on a corrupt record */
  exitCode: 0 | 1;
}

/** What the analysis counted, whichever way it ran. */
interface RunCounts {
  devices: DeviceRecord[];
  /** devices evicted from the inventory during the run (--max-devices): written to devices.json as they went */
  evictedDevices: number;
  packets: number;
  bytes: number;
  flows: number;
  dnsMessages: number;
  decodeWarnings: Record<string, number>;
}

/** One run of `phonehome analyze`: its inputs, outputs and what was read of each input. */
interface Run {
  opts: AnalyzeOptions;
  inputs: ExpandedInputs;
  /** files in time order */
  files: string[];
  /** all inputs by name, in reading order ('-' for stdin) */
  names: string[];
  out: Outputs | null;
  stdin: StdinSource | null;
  fileStats: FileStats[];
  notCapture: CaptureError | null;
}

/**
 * `phonehome analyze`: every input through one pipeline, files in time order,
 * so flows continue across rotated files. Throws CaptureError only for inputs
 * that are not captures at all (nothing has been read then).
 */
export async function analyze(args: string[], opts: AnalyzeOptions = {}): Promise<AnalyzeResult> {
  const inputs = expandInputs(args);
  // Every configuration mistake surfaces here, before a single packet is read.
  const setup = await loadAnalysis(opts);
  const files = await inTimeOrder(inputs.files.map((f) => f.path));
  if (opts.evidenceDir) outputDir('--evidence', opts.evidenceDir);
  if (opts.outDir) outputDir('--out', opts.outDir);
  const run: Run = {
    opts, inputs, files, names: [...files, ...(inputs.stdin ? ['-'] : [])],
    out: opts.outDir ? new Outputs(opts.outDir) : null,
    stdin: inputs.stdin ? new StdinSource(opts) : null,
    fileStats: [], notCapture: null,
  };
  const { detector, counts } = (opts.workers ?? 1) > 1 ? await inShards(run, setup) : await inOneThread(run, setup);
  return finishRun(run, detector, counts, [...setup.notes, ...setup.intel.notes]);
}

/** An output folder, made before anything is read; a path that cannot be one is the user's to fix. */
function outputDir(flag: string, dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new UsageError(`${flag} ${dir}: cannot be made a folder (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/** Files by their first packet's time (unreadable ones last), then by name. */
export async function inTimeOrder(paths: string[]): Promise<string[]> {
  const starts = new Map<string, number>();
  for (const p of paths) starts.set(p, (await firstTimestamp(p).catch(() => null)) ?? Infinity);
  return [...paths].sort((a, b) => starts.get(a)! - starts.get(b)! || a.localeCompare(b));
}

function noteRead(run: Run, name: string, r: ReadResult): void {
  run.fileStats.push(fileStat(name, r));
  if (r.error?.unreadable) run.notCapture ??= r.error;
}

async function inOneThread(run: Run, setup: AnalysisSetup): Promise<{ detector: Detector; counts: RunCounts }> {
  const out = run.out;
  let evictedDevices = 0;
  const pipeline = new Pipeline(setup, run.opts, {
    flow: out ? (r) => out.flows.write(r) : undefined,
    dns: out ? (r) => out.dns.write(r) : undefined,
    device: (d) => {
      evictedDevices++;
      out?.devices.write(d);
    },
  });
  const meter = pipeline.meter;
  for (const f of run.files) noteRead(run, f, await readCaptureFile(f, meter.onPacket));
  if (run.stdin) noteRead(run, '-', await readCaptureStream('-', run.stdin.stream(), meter.onPacket));
  const devices = pipeline.flushFlows();
  const counts = { devices, evictedDevices, packets: meter.packets, bytes: meter.bytes, flows: meter.flows, dnsMessages: meter.dnsMessages, decodeWarnings: { ...meter.warnings.counts } };
  return { detector: pipeline.detector, counts };
}

/** Files: every shard reads them itself. With stdin among the inputs, this thread reads everything once. */
async function inShards(run: Run, setup: AnalysisSetup): Promise<{ detector: Detector; counts: RunCounts }> {
  const { opts, out, stdin } = run;
  const streams = (): ShardedInput[] => [
    ...run.files.map((f): ShardedInput => (sink, pace) => readCaptureFile(f, sink, pace)),
    (sink, pace) => readCaptureStream('-', stdin!.stream(), sink, pace),
  ];
  const detector = detectorOf(setup);
  let evictedDevices = 0;
  // Loaded here: a run in one thread (and start-up on many small files) does without the worker machinery.
  const { analyzeSharded } = await import('../parallel/shards.js');
  const r = await analyzeSharded(
    stdin ? { streams: streams() } : { files: run.files },
    opts.workers!,
    { meter: { timeouts: opts.timeouts, maxFlows: opts.maxFlows, localNetworks: opts.localNetworks, maxDevices: opts.maxDevices }, geoip: opts.geoip ?? [] },
    {
      flow: (line, judged) => {
        if (line !== null) out!.flows.writeLine(line);
        if (judged) detector.onFlow(judged);
      },
      dnsLine: (line) => out!.dns.writeLine(line),
      lines: out !== null,
      allFlows: detector.seesAll,
      device: (d) => {
        evictedDevices++;
        out?.devices.write(enrichDevices([d], setup.geo)[0]);
      },
    },
  );
  r.files.forEach((read, i) => noteRead(run, run.names[i], read));
  return { detector, counts: { ...r, devices: enrichDevices(r.devices, setup.geo), evictedDevices, decodeWarnings: r.warnings } };
}

async function finishRun(run: Run, detector: Detector, counts: RunCounts, notes: string[]): Promise<AnalyzeResult> {
  const { opts, fileStats } = run;
  const spanStart = Math.min(...fileStats.map((f) => f.first_ts ?? Infinity));
  const spanEnd = Math.max(...fileStats.map((f) => f.last_ts ?? -Infinity));
  const alerts = detector.finish(spanStart, spanEnd);
  if (opts.evidenceDir) await addEvidence(run, detector, alerts, opts.evidenceDir);
  const stats: RunStats = {
    packets: counts.packets,
    bytes: counts.bytes,
    flows: counts.flows,
    dns_messages: counts.dnsMessages,
    alerts: alerts.length,
    devices: counts.evictedDevices + counts.devices.length,
    files: fileStats,
    // Sorted: with worker threads the router and the shards count different kinds.
    decode_warnings: Object.fromEntries(Object.entries(counts.decodeWarnings).sort(([a], [b]) => a.localeCompare(b))),
    truncated: fileStats.some((f) => f.truncated),
    skipped_files: run.inputs.skipped,
    peak_rss_bytes: peakRssBytes(),
  };
  run.out?.finish(counts.devices, alerts, stats);
  // Only stdin can turn out not to be a capture this late; files were sniffed up front.
  if (run.notCapture) throw run.notCapture;
  return { stats, devices: counts.devices, alerts, notes, exitCode: fileStats.some((f) => f.error !== null) ? 1 : 0 };
}

async function addEvidence(run: Run, detector: Detector, alerts: AlertRecord[], dir: string): Promise<void> {
  const copy = run.stdin?.copy ?? null;
  const kept = detector.evidenceFlows();
  const cuts = await writeEvidence([...run.files, ...(copy ? [copy] : [])], new Map([...kept].map(([id, k]) => [id, k.refs])), dir);
  for (const a of alerts) {
    const cut = cuts.get(a.id);
    if (cut?.file) a.evidence.pcap = cut.file;
    const missing = pcapMissing(a.evidence, kept.get(a.id) ?? { refs: [], unkept: new Set() }, cut);
    if (missing) a.evidence.pcap_missing = missing;
  }
  if (copy) rmSync(copy, { force: true });
}

/** The files of --out. */
class Outputs {
  readonly flows: JsonlWriter;
  readonly dns: JsonlWriter;
  readonly devices: DevicesJson;

  constructor(private readonly dir: string) {
    this.flows = new JsonlWriter(join(dir, 'flows.jsonl'));
    this.dns = new JsonlWriter(join(dir, 'dns.jsonl'));
    this.devices = new DevicesJson(join(dir, 'devices.json'));
  }

  finish(devices: DeviceRecord[], alerts: AlertRecord[], stats: RunStats): void {
    this.flows.close();
    this.dns.close();
    this.devices.finish(devices);
    writeFileSync(join(this.dir, 'alerts.jsonl'), alerts.map((a) => `${jsonSafe(JSON.stringify(a))}\n`).join(''));
    writeFileSync(join(this.dir, 'stats.json'), `${jsonSafe(JSON.stringify(stats, null, 2))}\n`);
  }
}

/**
 * devices.json, written as devices go: those evicted from the inventory during
 * the run first (in the order they were evicted), then those tracked at the
 * end, most bytes sent first. The same text JSON.stringify(list, null, 2) gives.
 */
class DevicesJson {
  private readonly fd: number;
  private count = 0;

  constructor(file: string) {
    this.fd = openSync(file, 'w');
  }

  write(d: DeviceRecord): void {
    const item = jsonSafe(JSON.stringify(d, null, 2)).replaceAll('\n', '\n  ');
    writeSync(this.fd, `${this.count++ === 0 ? '[\n' : ',\n'}  ${item}`);
  }

  finish(devices: DeviceRecord[]): void {
    for (const d of devices) this.write(d);
    writeSync(this.fd, this.count === 0 ? '[]\n' : '\n]\n');
    closeSync(this.fd);
  }
}

/** stdin as an input; evidence is cut from a second read, so the stream is kept on disk while it is analysed. */
class StdinSource {
  readonly copy: string | null;

  constructor(private readonly opts: AnalyzeOptions) {
    this.copy = opts.evidenceDir ? join(opts.evidenceDir, `.stdin-${process.pid}.pcap`) : null;
  }

  stream(): Readable {
    const stream = (this.opts.stdin ?? process.stdin) as Readable;
    if (!this.copy) return stream;
    const tee = new PassThrough();
    stream.pipe(tee);
    stream.pipe(createWriteStream(this.copy));
    return tee;
  }
}

function fileStat(name: string, r: ReadResult): FileStats {
  const warnings: string[] = [...r.warnings];
  if (r.truncatedAt !== null) {
    warnings.push(`${name}: capture ends inside a record at byte ${r.truncatedAt} (cut while being written?); every complete packet before it was analysed`);
  }
  return {
    file: name, format: r.format, linktypes: r.linktypes, packets: r.packets, bytes: r.bytes, first_ts: r.firstTs, last_ts: r.lastTs,
    truncated: r.truncatedAt !== null, error: r.error ? r.error.message : null, warnings,
  };
}
