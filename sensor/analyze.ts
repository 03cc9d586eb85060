import { mkdirSync, writeFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import type { RawPacket } from './capture/packet.js';
import { join } from 'node:path';
import type { DeviceRecord, FileStats, RunStats } from '../contract/types.js';
import { Analyzer, type AnalyzerOptions } from './analyzer.js';
import { CaptureError } from './capture/errors.js';
import { expandInputs } from './capture/inputs.js';
import { firstTimestamp, readCaptureFile, readCaptureStream, type ReadResult } from './capture/reader.js';
import { JsonlWriter } from './output/jsonl.js';
import { peakRssBytes } from './util/rss.js';

export interface AnalyzeOptions extends AnalyzerOptions {
  /** write flows.jsonl, dns.jsonl, devices.json, stats.json here */
  outDir?: string;
  stdin?: NodeJS.ReadableStream;
}

export interface AnalyzeResult {
  stats: RunStats;
  devices: DeviceRecord[];
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
  const analyzer = new Analyzer(
    { flow: flowsOut ? (r) => flowsOut.write(r) : undefined, dns: dnsOut ? (r) => dnsOut.write(r) : undefined },
    opts,
  );

  const fileStats: FileStats[] = [];
  let notCapture: CaptureError | null = null;
  const readOne = async (name: string, read: (sink: (p: RawPacket) => void) => Promise<ReadResult>): Promise<void> => {
    let first: number | null = null;
    let last: number | null = null;
    const r = await read((p) => {
      last = p.tsSec + p.tsNsec / 1e9;
      first ??= last;
      analyzer.onPacket(p);
    });
    fileStats.push(fileStat(name, r, first, last));
    if (r.error?.code === 'NOT_A_CAPTURE') notCapture ??= r.error;
  };
  for (const f of files) await readOne(f.path, (sink) => readCaptureFile(f.path, sink));
  if (inputs.stdin) await readOne('-', (sink) => readCaptureStream('-', (opts.stdin ?? process.stdin) as Readable, sink));

  const devices = analyzer.finish();
  const stats: RunStats = {
    packets: analyzer.packets,
    bytes: analyzer.bytes,
    flows: analyzer.flows,
    dns_messages: analyzer.dnsMessages,
    devices: devices.length,
    files: fileStats,
    decode_warnings: { ...analyzer.warnings.counts },
    truncated: fileStats.some((f) => f.truncated),
    skipped_files: inputs.skipped,
    peak_rss_bytes: peakRssBytes(),
  };
  if (opts.outDir) {
    flowsOut!.close();
    dnsOut!.close();
    writeFileSync(join(opts.outDir, 'devices.json'), `${JSON.stringify(devices, null, 2)}\n`);
    writeFileSync(join(opts.outDir, 'stats.json'), `${JSON.stringify(stats, null, 2)}\n`);
  }
  // Only stdin can turn out not to be a capture this late; files were sniffed up front.
  if (notCapture) throw notCapture;
  return { stats, devices, exitCode: fileStats.some((f) => f.error !== null) ? 1 : 0 };
}

function fileStat(name: string, r: ReadResult, first: number | null, last: number | null): FileStats {
  const warnings: string[] = [];
  if (r.truncatedAt !== null) {
    warnings.push(`${name}: capture ends inside a record at byte ${r.truncatedAt} (cut while being written?); every complete packet before it was analysed`);
  }
  return {
    file: name, format: r.format, linktypes: r.linktypes, packets: r.packets, bytes: r.bytes, first_ts: first, last_ts: last,
    truncated: r.truncatedAt !== null, error: r.error ? r.error.message : null, warnings,
  };
}
