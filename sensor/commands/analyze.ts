import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyze, type AnalyzeResult } from '../run/analyze.js';
import { phonehomeVersion } from '../util/paths.js';
import { formatSummary } from '../output/summary.js';
import { jsonSafe, terminalSafe } from '../../contract/escape.js';
import type { SiemFormat } from '../../contract/siem.js';
import { UsageError } from '../errors.js';
import { ANALYSIS_OPTIONS, analysisSettings, parse, siemFormat } from './args.js';

export const ANALYZE_HELP = `Usage: phonehome analyze <capture|dir|->... [options]

Reads pcap, nanosecond pcap, pcapng (also .gz) files, directories of them, or a
pcap stream on stdin ('-'); prints the devices seen, where they connect, and the
alerts: undocumented destinations, callbacks to watched countries, beacons,
hard-coded addresses, destinations listed in threat-intel feeds and devices no
profile covers.

Options:
  --out DIR              write flows.jsonl, dns.jsonl, alerts.jsonl, devices.json, stats.json
  --json                 print the summary as JSON instead of text
  --format eve|ecs       the alerts for a SIEM, one JSON document a line: Suricata EVE
                         alert records (eve) or Elastic Common Schema documents (ecs),
                         with Community ID; written to DIR/alerts.eve.json or
                         DIR/alerts.ecs.json with --out, else printed instead of the summary
  --profiles DIR         device profiles (YAML or MUD .json) [the shipped rules/devices]
  --no-profiles          use no device profiles
  --detections FILE      detection settings [the shipped rules/detections.yaml]
  --geoip FILE           a MaxMind DB (GeoLite2/GeoIP2 Country, City or ASN); repeatable;
                         asked before the embedded country database
  --intel FILE           a threat-intel feed: a plain list (addresses, networks,
                         domains, JA4s; one per line), a Zeek intel file or a CSV
                         with a header (abuse.ch Feodo Tracker, ThreatFox, URLhaus
                         exports); repeatable; threat-intel alerts name the feed
  --watch-countries LIST countries whose destinations raise geo-callback alerts (CN,HK,RU)
  --local-networks LIST  networks that are local besides the private, link-local, CGNAT
                         and ULA ranges, e.g. a public /24 or an IPv6 /64 (192.0.2.0/24,2001:db8:1::/64)
  --evidence DIR         write one pcap per alert with the packets of its flows
  --max-flows N          live flows kept before the oldest is evicted (and written) [500000]
  --max-devices N        devices tracked at once; past it the least recently
                         seen are evicted and still reported [50000]
  --max-alerts N         alerts itemised per run; past it further alerts are
                         counted in one roll-up alert per rule [10000]
  --tcp-timeout S        idle seconds before a TCP flow ends [300]
  --udp-timeout S        idle seconds before a UDP flow ends [60]
  --other-timeout S      idle seconds before other flows end [30]
  --state DIR            keep what new-behaviour and abnormal-upload learn of each
                         device in DIR/baseline.json, read at the start and written
                         at the end; without it they learn afresh in every run
                         (reset a device: phonehome baseline reset --help)
  --workers N            analyse in N threads (this one and N-1 workers), each owning
                         a share of the flows; same results as one thread [1]
  -h, --help             show this help

Exit codes: 0 read everything (a truncated last record is only a warning),
1 a file had a corrupt record (everything before it was analysed),
2 bad arguments, configuration or input that is not a capture.

Examples:
  phonehome analyze capture.pcap
  phonehome analyze captures/ --out results/ --evidence results/evidence/
  phonehome analyze big-capture.pcap --workers 2
  phonehome analyze monday/ --state state/ && phonehome analyze tuesday/ --state state/
  phonehome analyze capture.pcap --geoip GeoLite2-City.mmdb --geoip GeoLite2-ASN.mmdb
  phonehome analyze capture.pcap --format eve | jq -c 'select(.alert.severity == 1)'
  phonehome analyze captures/ --out results/ --format ecs
  phonehome analyze captures/ --intel feeds/feodo.csv --intel feeds/threatfox.csv --intel feeds/mine.txt
  tcpdump -i eth0 -U -w - | phonehome analyze - --out results/
`;

const options = {
  out: { type: 'string' },
  json: { type: 'boolean' },
  format: { type: 'string' },
  ...ANALYSIS_OPTIONS,
  evidence: { type: 'string' },
  workers: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export async function runAnalyze(argv: string[]): Promise<number> {
  const { values: v, positionals } = parse(argv, options);
  if (v.help) {
    process.stdout.write(ANALYZE_HELP);
    return 0;
  }
  if (positionals.length === 0) throw new UsageError("analyze needs at least one capture, directory or '-' (see phonehome analyze --help)");
  const workers = v.workers === undefined ? 1 : Number(v.workers);
  if (!Number.isInteger(workers) || workers < 1 || workers > 64) throw new UsageError(`--workers must be a whole number from 1 to 64, got '${v.workers}'`);
  const format = siemFormat(v.format);
  if (format && v.json && !v.out) throw new UsageError('--format without --out prints the alerts instead of the summary, so it cannot be combined with --json (add --out DIR to have both)');
  // The records take their 5-tuple and Community ID from flows.jsonl: without --out it is written to a folder of its own and removed.
  const scratch = format && !v.out ? mkdtempSync(join(tmpdir(), 'phonehome-siem-')) : null;
  try {
    const outDir = v.out ?? scratch ?? undefined;
    const result = await analyze(positionals, { ...analysisSettings(v), outDir, evidenceDir: v.evidence, workers });
    if (format) await writeSiem(format, result, outDir!, scratch === null);
    if (!format || v.out) printSummary(result, Boolean(v.json));
    return report(result);
  } finally {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  }
}

function printSummary(result: AnalyzeResult, json: boolean): void {
  if (json) process.stdout.write(`${jsonSafe(JSON.stringify({ stats: result.stats, devices: result.devices, alerts: result.alerts }, null, 2))}\n`);
  else process.stdout.write(formatSummary(result.stats, result.devices, result.alerts));
}

/** The alerts in a SIEM's shape: into the --out folder, or to stdout. */
async function writeSiem(format: SiemFormat, result: AnalyzeResult, dir: string, toFile: boolean): Promise<void> {
  // Loaded only with --siem: start-up counts for people who run analyze on many small files.
  const { firstFlows, siemFileName, siemLines } = await import('../output/siem.js');
  const flows = await firstFlows(result.alerts, join(dir, 'flows.jsonl'));
  const text = siemLines(format, result.alerts, flows, hostname(), phonehomeVersion());
  if (toFile) writeFileSync(join(dir, siemFileName(format)), text);
  else process.stdout.write(text);
}

function report(result: AnalyzeResult): number {
  for (const n of result.notes) process.stderr.write(`phonehome: note: ${terminalSafe(n)}\n`);
  for (const f of result.stats.files) {
    for (const w of f.warnings) process.stderr.write(`phonehome: warning: ${terminalSafe(w)}\n`);
    if (f.error) process.stderr.write(`phonehome: error: ${terminalSafe(f.error)}\n`);
  }
  return result.exitCode;
}
