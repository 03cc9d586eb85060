#!/usr/bin/env node
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { analyze } from './analyze.js';
import { CaptureError } from './capture/errors.js';
import { formatSummary } from './output/summary.js';

/** A mistake in how the command was called: one line to stderr, exit 2. */
class UsageError extends Error {}

const MAIN_HELP = `phonehome: what your connected devices really do on the network

Usage: phonehome <command> [options]

Commands:
  analyze   read captures, print devices, destinations and flows

Run 'phonehome <command> --help' for a command's options.
Example: phonehome analyze capture.pcap --out results/
`;

const ANALYZE_HELP = `Usage: phonehome analyze <capture|dir|->... [options]

Reads pcap, nanosecond pcap, pcapng (also .gz) files, directories of them, or a
pcap stream on stdin ('-'), and prints the devices seen, where they connect and
what the captures held.

Options:
  --out DIR            write flows.jsonl, dns.jsonl, devices.json, stats.json to DIR
  --json               print the summary as JSON instead of text
  --max-flows N        live flows kept before the oldest is evicted (and emitted) [500000]
  --tcp-timeout S      idle seconds before a TCP flow ends [300]
  --udp-timeout S      idle seconds before a UDP flow ends [60]
  --other-timeout S    idle seconds before other flows end [30]
  -h, --help           show this help

Exit codes: 0 read everything (a truncated last record is only a warning),
1 a file had a corrupt record (everything before it was analysed),
2 bad arguments or an input that is not a capture.

Examples:
  phonehome analyze capture.pcap
  phonehome analyze captures/ --out results/
  tcpdump -i eth0 -U -w - | phonehome analyze - --out results/
`;

const analyzeOptions = {
  out: { type: 'string' },
  json: { type: 'boolean' },
  'max-flows': { type: 'string' },
  'tcp-timeout': { type: 'string' },
  'udp-timeout': { type: 'string' },
  'other-timeout': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} satisfies ParseArgsConfig['options'];

function positiveNumber(name: string, v: string | undefined, integer = false): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new UsageError(`--${name} must be a positive ${integer ? 'integer' : 'number'}, got '${v}'`);
  }
  return n;
}

function parse(argv: string[], options: NonNullable<ParseArgsConfig['options']>) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message.split('\n')[0].replace(/\. To specify .*/, ''));
  }
}

async function runAnalyze(argv: string[]): Promise<number> {
  const { values: v, positionals } = parse(argv, analyzeOptions);
  if (v.help) {
    process.stdout.write(ANALYZE_HELP);
    return 0;
  }
  if (positionals.length === 0) throw new UsageError("analyze needs at least one capture, directory or '-' (see phonehome analyze --help)");
  const result = await analyze(positionals, {
    outDir: v.out as string | undefined,
    maxFlows: positiveNumber('max-flows', v['max-flows'] as string | undefined, true),
    timeouts: {
      ...(v['tcp-timeout'] !== undefined && { tcp: positiveNumber('tcp-timeout', v['tcp-timeout'] as string) }),
      ...(v['udp-timeout'] !== undefined && { udp: positiveNumber('udp-timeout', v['udp-timeout'] as string) }),
      ...(v['other-timeout'] !== undefined && { other: positiveNumber('other-timeout', v['other-timeout'] as string) }),
    },
  });
  if (v.json) process.stdout.write(`${JSON.stringify({ stats: result.stats, devices: result.devices }, null, 2)}\n`);
  else process.stdout.write(formatSummary(result.stats, result.devices));
  for (const f of result.stats.files) {
    for (const w of f.warnings) process.stderr.write(`phonehome: warning: ${w}\n`);
    if (f.error) process.stderr.write(`phonehome: error: ${f.error}\n`);
  }
  return result.exitCode;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'analyze':
      return runAnalyze(rest);
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(MAIN_HELP);
      return command === undefined ? 2 : 0;
    default:
      throw new UsageError(`unknown command '${command}' (commands: analyze; see phonehome --help)`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    if (e instanceof UsageError || e instanceof CaptureError) {
      process.stderr.write(`phonehome: ${e.message}\n`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`phonehome: internal error: ${(e as Error)?.stack ?? e}\n`);
      process.exitCode = 70;
    }
  },
);
