import { createWriteStream, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import type { AlertRecord, DeviceRecord, FileStats, RunStats } from '../contract/types.js';
import type { RawPacket } from './capture/packet.js';
import { loadDetectionConfig } from './detect/config.js';
import { Detector } from './detect/engine.js';
import { loadProfiles } from './detect/profiles.js';
import { enrichFlow } from './enrich/flows.js';
import { GeoIp } from './enrich/geoip.js';
import { writeEvidence } from './output/evidence.js';
import { Analyzer, type AnalyzerOptions } from './analyzer.js';
import { analyzeSharded, type ShardedInput } from './parallel/shards.js';
import { CaptureError } from './capture/errors.js';
import { expandInputs } from './capture/inputs.js';
import { firstTimestamp, readCaptureFile, readCaptureStream, type ReadResult } from './capture/reader.js';
import { JsonlWriter } from './output/jsonl.js';
import { RULES_DIR } from './util/paths.js';
import { peakRssBytes } from './util/rss.js';

export interface AnalyzeOptions extends AnalyzerOptions {
  /** write flows.jsonl, dns.jsonl, alerts.jsonl, devices.json, stats.json here */
  outDir?: string;
  stdin?: NodeJS.ReadableStream;
  /** device profiles folder; the shipped rules/devices by default, null for none */
  profilesDir?: string | null;
  /** detection settings file; the shipped rules/detections.yaml by default */
  detectionsFile?: string;
  /** MaxMind DB files, asked before the embedded country database */
  geoip?: string[];
  /** replaces the watched countries of the detections file */
  watchCountries?: string[];
  /** write one pcap per alert with the packets of its flows here */
  evidenceDir?: string;
  /** analyse in this many threads, each owning a share of the flows (stdin is read once, by this thread) */
  workers?: number;
}

export const DEFAULT_PROFILES_DIR = join(RULES_DIR, 'devices');

export interface AnalyzeResult {
  stats: RunStats;
  devices: DeviceRecord[];
  alerts: AlertRecord[];
  /** profile loading notes (MUD entries that could not be mapped) */
  notes: string[];
  /** 0 all read, 1 a file stopped early on a corrupt record */
  exitCode: 0 | 1;
}

/**
 * `phonehome analyze`: every input through one Analyzer, files in time order,
 * so flows continue across rotated files. Throws CaptureError only for inputs
 * that are not captures at all (nothing has been read then).
 */
export async function analyze(args: string[], opts: AnalyzeOptions = {}): Promise<AnalyzeResult> {
  const inputs = expandInputs(args);
  // Every configuration mistake surfaces here, before a single packet is read.
  const config = loadDetectionConfig(opts.detectionsFile);
  if (opts.watchCountries) config.watchCountries = opts.watchCountries;
  const profilesDir = opts.profilesDir === undefined ? (existsSync(DEFAULT_PROFILES_DIR) ? DEFAULT_PROFILES_DIR : null) : opts.profilesDir;
  const { profiles, warnings: notes } = profilesDir ? loadProfiles(profilesDir) : { profiles: [], warnings: [] };
  const geo = await GeoIp.open(opts.geoip ?? []);
  const detector = new Detector({ config, profiles, geo });
  const starts = new Map<string, number>();
  for (const f of inputs.files) starts.set(f.path, (await firstTimestamp(f.path).catch(() => null)) ?? Infinity);
  const files = [...inputs.files].sort((a, b) => starts.get(a.path)! - starts.get(b.path)! || a.path.localeCompare(b.path));

  let flowsOut: JsonlWriter | null = null;
  let dnsOut: JsonlWriter | null = null;
  if (opts.outDir) {
    mkdirSync(opts.outDir, { recursive: true });
    flowsOut = new JsonlWriter(join(opts.outDir, 'flows.jsonl'));
    dnsOut = new JsonlWriter(join(opts.outDir, 'dns.jsonl'));
  }
  if (opts.evidenceDir) mkdirSync(opts.evidenceDir, { recursive: true });
  const fileStats: FileStats[] = [];
  let notCapture: CaptureError | null = null;
  // Evidence is cut from a second read, so a stream is kept on disk while it is analysed.
  const stdinCopy = inputs.stdin && opts.evidenceDir ? join(opts.evidenceDir, `.stdin-${process.pid}.pcap`) : null;
  const stdinStream = (): Readable => {
    let stream = (opts.stdin ?? process.stdin) as Readable;
    if (stdinCopy) {
      const tee = new PassThrough();
      stream.pipe(tee);
      stream.pipe(createWriteStream(stdinCopy));
      stream = tee;
    }
    return stream;
  };
  const inputNames = [...files.map((f) => f.path), ...(inputs.stdin ? ['-'] : [])];
  const workers = opts.workers ?? 1;
  if (workers > 1) {
    // Files: every shard reads them itself. With stdin among the inputs, this thread reads everything once.
    const streams = (): ShardedInput[] => [
      ...files.map((f): ShardedInput => (sink, pace) => readCaptureFile(f.path, sink, pace)),
      (sink, pace) => readCaptureStream('-', stdinStream(), sink, pace),
    ];
    const r = await analyzeSharded(
      inputs.stdin ? { streams: streams() } : { files: files.map((f) => f.path) },
      workers,
      { analyzer: { timeouts: opts.timeouts, maxFlows: opts.maxFlows }, geoip: opts.geoip ?? [] },
      {
        flow: (line, judged) => {
          if (line !== null) flowsOut!.writeLine(line);
          if (judged) detector.onFlow(...judged);
        },
        dnsLine: (line) => dnsOut!.writeLine(line),
        lines: flowsOut !== null,
      },
    );
    r.files.forEach((read, i) => {
      fileStats.push(fileStat(inputNames[i], read));
      if (read.error?.code === 'NOT_A_CAPTURE') notCapture ??= read.error;
    });
    return finishRun({ ...r, decodeWarnings: r.warnings });
  }
  const analyzer: Analyzer = new Analyzer(
    {
      flow: (r, facts, resolved) => {
        enrichFlow(r, geo);
        flowsOut?.write(r);
        detector.onFlow(r, facts, resolved);
      },
      dns: dnsOut ? (r) => dnsOut!.write(r) : undefined,
      outboundOnly: flowsOut === null,
    },
    opts,
  );
  const readOne = async (name: string, read: (sink: (p: RawPacket) => void) => Promise<ReadResult>): Promise<void> => {
    const r = await read(analyzer.onPacket);
    fileStats.push(fileStat(name, r));
    if (r.error?.code === 'NOT_A_CAPTURE') notCapture ??= r.error;
  };
  for (const f of files) await readOne(f.path, (sink) => readCaptureFile(f.path, sink));
  if (inputs.stdin) await readOne('-', (sink) => readCaptureStream('-', stdinStream(), sink));

  const devices = analyzer.finish();
  return finishRun({
    devices, packets: analyzer.packets, bytes: analyzer.bytes, flows: analyzer.flows, dnsMessages: analyzer.dnsMessages, decodeWarnings: { ...analyzer.warnings.counts },
  });

  async function finishRun(run: { devices: DeviceRecord[]; packets: number; bytes: number; flows: number; dnsMessages: number; decodeWarnings: Record<string, number> }): Promise<AnalyzeResult> {
    const devices = run.devices;
    const spanStart = Math.min(...fileStats.map((f) => f.first_ts ?? Infinity));
    const spanEnd = Math.max(...fileStats.map((f) => f.last_ts ?? -Infinity));
    const alerts = detector.finish(spanStart, spanEnd);
    if (opts.evidenceDir) {
      const sources = [...files.map((f) => f.path), ...(stdinCopy ? [stdinCopy] : [])];
      const names = await writeEvidence(sources, detector.evidenceFlows(), opts.evidenceDir);
      for (const a of alerts) {
        const name = names.get(a.id);
        if (name) a.evidence.pcap = name;
      }
      if (stdinCopy) rmSync(stdinCopy, { force: true });
    }
    const stats: RunStats = {
      packets: run.packets,
      bytes: run.bytes,
      flows: run.flows,
      dns_messages: run.dnsMessages,
      alerts: alerts.length,
      devices: devices.length,
      files: fileStats,
      // Sorted: with worker threads the router and the shards count different kinds.
      decode_warnings: Object.fromEntries(Object.entries(run.decodeWarnings).sort(([a], [b]) => a.localeCompare(b))),
      truncated: fileStats.some((f) => f.truncated),
      skipped_files: inputs.skipped,
      peak_rss_bytes: peakRssBytes(),
    };
    if (opts.outDir) {
      flowsOut!.close();
      dnsOut!.close();
      writeFileSync(join(opts.outDir, 'devices.json'), `${JSON.stringify(devices, null, 2)}\n`);
      writeFileSync(join(opts.outDir, 'alerts.jsonl'), alerts.map((a) => `${JSON.stringify(a)}\n`).join(''));
      writeFileSync(join(opts.outDir, 'stats.json'), `${JSON.stringify(stats, null, 2)}\n`);
    }
    // Only stdin can turn out not to be a capture this late; files were sniffed up front.
    if (notCapture) throw notCapture;
    return { stats, devices, alerts, notes, exitCode: fileStats.some((f) => f.error !== null) ? 1 : 0 };
  }
}

function fileStat(name: string, r: ReadResult): FileStats {
  const warnings: string[] = [];
  if (r.truncatedAt !== null) {
    warnings.push(`${name}: capture ends inside a record at byte ${r.truncatedAt} (cut while being written?); every complete packet before it was analysed`);
  }
  return {
    file: name, format: r.format, linktypes: r.linktypes, packets: r.packets, bytes: r.bytes, first_ts: r.firstTs, last_ts: r.lastTs,
    truncated: r.truncatedAt !== null, error: r.error ? r.error.message : null, warnings,
  };
}
