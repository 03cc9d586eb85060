import type { AlertRecord, DeviceRecord, RunStats } from '../../contract/types.js';
import { terminalSafe } from '../../contract/escape.js';
import { grouped } from '../util/format.js';

const MAX_DESTINATIONS = 10;
const MAX_ALERTS = 30;

export function humanBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  // 999,950 B is "1.0 MB", not "1000.0 kB": a value is moved up while it would print as 1000.0.
  while ((i === 0 ? v >= 1000 : v >= 999.95) && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

const SEVERITY_ORDER: readonly AlertRecord['severity'][] = ['critical', 'high', 'medium', 'low', 'info'];

/** Most severe first; within a severity the newest first (then by id, so equal times keep one order). */
export function bySeverityThenNewest(a: AlertRecord, b: AlertRecord): number {
  return SEVERITY_ORDER.indexOf(a.severity) - SEVERITY_ORDER.indexOf(b.severity) || b.ts - a.ts || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** Epoch seconds as UTC ISO 8601 to the second: 2024-01-02T03:04:05Z. */
export function utcSeconds(ts: number): string {
  return `${new Date(Math.floor(ts) * 1000).toISOString().slice(0, 19)}Z`;
}

/**
 * The readable report `phonehome analyze` prints. Host names, server names and
 * alert messages are what devices sent: every line is made safe for a terminal.
 */
export function formatSummary(stats: RunStats, devices: DeviceRecord[], alerts: AlertRecord[] = []): string {
  const lines: string[] = [];
  const nFiles = stats.files.length;
  lines.push(
    `${nFiles} capture${nFiles === 1 ? '' : 's'}, ${grouped(stats.packets)} packets, ${humanBytes(stats.bytes)}, ` +
      `${grouped(stats.flows)} flows, ${grouped(stats.dns_messages)} DNS messages, ${devices.length} local devices, ${alerts.length} alerts`,
  );
  lines.push('', 'Devices');
  if (devices.length === 0) lines.push('  (none seen)');
  for (const d of devices) {
    const who = d.mac ?? d.ips[0];
    const vendor = d.vendor ? `${d.vendor}${d.vendor_country ? ` (${d.vendor_country})` : ''}` : 'unknown vendor';
    const names = d.hostnames.length ? `  names: ${d.hostnames.join(', ')}` : '';
    lines.push(`  ${who}  ${vendor}  ${d.ips.join(' ') || 'no IP'}${names}`);
    lines.push(`    ${d.flows} flows, ${humanBytes(d.bytes_out)} out to ${d.external_destinations} external destinations`);
    for (const dst of d.destinations.slice(0, MAX_DESTINATIONS)) {
      const ports = `${dst.protos.join('/')} ${dst.ports.join(',')}`;
      lines.push(`      -> ${dst.ip.padEnd(16)} ${(dst.name ?? '(no name)').padEnd(40)} ${ports.padEnd(14)} ${dst.flows} flows, ${humanBytes(dst.bytes_out)} out`);
    }
    if (d.destinations.length > MAX_DESTINATIONS) lines.push(`      ... and ${d.destinations.length - MAX_DESTINATIONS} more (see devices.json)`);
  }
  lines.push('', `Alerts (${alerts.length})`);
  if (alerts.length === 0) lines.push('  (none)');
  else lines.push(`  by rule: ${countsByRule(alerts)}`);
  for (const a of [...alerts].sort(bySeverityThenNewest).slice(0, MAX_ALERTS)) {
    lines.push(`  ${a.severity.padEnd(8)} ${a.rule.padEnd(24)} ${utcSeconds(a.ts)}  ${a.message}`);
  }
  if (alerts.length > MAX_ALERTS) lines.push(`  ... and ${alerts.length - MAX_ALERTS} more (see alerts.jsonl)`);
  const talkers = devices.filter((d) => d.bytes_out > 0).slice(0, 5);
  if (talkers.length) {
    lines.push('', 'Top talkers (bytes out to the Internet)');
    for (const d of talkers) lines.push(`  ${(d.mac ?? d.ips[0]).padEnd(18)} ${humanBytes(d.bytes_out).padStart(10)}  ${d.vendor ?? ''}`);
  }
  const warnings = Object.entries(stats.decode_warnings).sort((a, b) => b[1] - a[1]);
  if (warnings.length) {
    lines.push('', 'Decode warnings');
    for (const [kind, n] of warnings) lines.push(`  ${kind.padEnd(28)} ${n}`);
  }
  const problems = stats.files.flatMap((f) => [...f.warnings, ...(f.error ? [f.error] : [])]);
  if (problems.length) {
    lines.push('', 'Capture problems');
    for (const p of problems) lines.push(`  ${p}`);
  }
  if (stats.skipped_files.length) lines.push('', `Skipped ${stats.skipped_files.length} file(s) in directories that are not captures.`);
  return `${lines.map(terminalSafe).join('\n')}\n`;
}

/** Alerts per rule, most first: one rule's flood does not hide that others fired. */
function countsByRule(alerts: readonly AlertRecord[]): string {
  const n = new Map<string, number>();
  for (const a of alerts) n.set(a.rule, (n.get(a.rule) ?? 0) + 1);
  return [...n].sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1)).map(([rule, k]) => `${k} ${rule}`).join(', ');
}
