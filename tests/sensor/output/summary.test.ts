// The text report lists the counts it is given: totals (with thousands
// separators and SI byte units), every device with its destinations, alerts by
// severity then newest first (with UTC times), top talkers, decode warnings by count, capture problems;
// long lists are cut with how many more there are. On a real run its totals
// are those of stats.json and tshark's frame count.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { AlertRecord, DeviceDestination, DeviceRecord, RunStats } from '../../../contract/types.js';
import { formatSummary, humanBytes } from '../../../sensor/output/summary.js';
import { phonehome } from '../../helpers/cli.js';
import { FIXTURES } from '../../helpers/corpus.js';

const tmp = mkdtempSync(join(tmpdir(), 'phonehome-summary-'));

function stats(over: Partial<RunStats> = {}): RunStats {
  return {
    packets: 0, bytes: 0, flows: 0, dns_messages: 0, alerts: 0, devices: 0, files: [], decode_warnings: {},
    truncated: false, skipped_files: [], peak_rss_bytes: 0, ...over,
  };
}

const file = (name: string, warnings: string[] = [], error: string | null = null) => ({
  file: name, format: 'pcap', linktypes: [1], packets: 1, bytes: 1, first_ts: 1, last_ts: 2, truncated: false, error, warnings,
});

function destination(i: number, over: Partial<DeviceDestination> = {}): DeviceDestination {
  return { ip: `198.51.100.${i}`, name: `host${i}.example`, ports: [443], protos: ['tcp'], flows: i, bytes_out: 1000 * i, bytes_in: 0, first_seen: 1, last_seen: 2, ...over };
}

function device(over: Partial<DeviceRecord> = {}): DeviceRecord {
  return {
    mac: '00:17:88:24:76:ff', vendor: 'Philips Lighting BV', vendor_country: 'NL', ips: ['192.168.1.20'], hostnames: [], dhcp_fingerprint: null, dhcp_vendor_class: null,
    mud_url: null, ssdp_server: null, user_agents: [], first_seen: 1, last_seen: 2, flows: 3, bytes_out: 4500, external_destinations: 1, destinations: [], ...over,
  };
}

function alert(i: number, severity: AlertRecord['severity'], ts: number): AlertRecord {
  return {
    id: `a${i}`, ts, rule: 'direct-ip', severity, message: `message ${i}`,
    device: { mac: null, ip: '192.168.1.2', vendor: null, vendor_country: null, profile: null }, destination: null,
    evidence: { first_seen: ts, last_seen: ts, flows: 1, packets: 1, bytes_out: 1, bytes_in: 1, uids: [] }, mitre: [],
  };
}

describe('humanBytes', () => {
  it('uses SI units (1 kB = 1000 B) with one decimal above bytes', () => {
    const cases: [number, string][] = [[0, '0 B'], [999, '999 B'], [1000, '1.0 kB'], [1536, '1.5 kB'], [1_234_567, '1.2 MB'], [98_765_432_100, '98.8 GB'], [5e12, '5.0 TB'], [3e15, '3000.0 TB']];
    for (const [n, text] of cases) expect(humanBytes(n), String(n)).toBe(text);
  });

  it('a value that rounds to 1000 of a unit is written in the next unit', () => {
    expect(humanBytes(999_950)).toBe('1.0 MB');
  });
});

describe('formatSummary', () => {
  it('the first line gives the files, packets, bytes, flows, DNS messages, devices and alerts it is given', () => {
    const text = formatSummary(stats({ files: [file('a'), file('b')], packets: 1_234_567, bytes: 98_765_432, flows: 12_345, dns_messages: 1001 }), [device(), device({ mac: '11:22:33:44:55:66' })], [alert(1, 'low', 1)]);
    expect(text.split('\n')[0]).toBe('2 captures, 1,234,567 packets, 98.8 MB, 12,345 flows, 1,001 DNS messages, 2 local devices, 1 alerts');
    expect(formatSummary(stats({ files: [file('a')] }), []).split('\n')[0]).toBe('1 capture, 0 packets, 0 B, 0 flows, 0 DNS messages, 0 local devices, 0 alerts');
  });

  it('with nothing found it says so', () => {
    const text = formatSummary(stats({ files: [file('a')] }), []);
    expect(text).toContain('Devices\n  (none seen)\n');
    expect(text).toContain('Alerts (0)\n  (none)\n');
    expect(text).not.toContain('Top talkers');
    expect(text).not.toContain('Decode warnings');
    expect(text).not.toContain('Capture problems');
    expect(text.endsWith('\n')).toBe(true);
  });

  it('a device: MAC (or first IP), vendor and country, addresses, names, counts, and its destinations', () => {
    const d = device({ hostnames: ['hue-bridge', 'Philips-hue'], destinations: [destination(1, { ports: [80, 443], protos: ['tcp', 'udp'] }), destination(2, { name: null })] });
    const raw = device({ mac: null, vendor: null, vendor_country: null, ips: ['10.0.0.9', '10.0.0.10'], flows: 0, bytes_out: 0, external_destinations: 0 });
    const lines = formatSummary(stats(), [d, raw]).split('\n');
    const at = lines.indexOf('Devices');
    expect(lines[at + 1]).toBe('  00:17:88:24:76:ff  Philips Lighting BV (NL)  192.168.1.20  names: hue-bridge, Philips-hue');
    expect(lines[at + 2]).toBe('    3 flows, 4.5 kB out to 1 external destinations');
    expect(lines[at + 3]).toMatch(/^ {6}-> 198\.51\.100\.1 +host1\.example +tcp\/udp 80,443 +1 flows, 1\.0 kB out$/);
    expect(lines[at + 4]).toMatch(/^ {6}-> 198\.51\.100\.2 +\(no name\) +tcp 443 +2 flows, 2\.0 kB out$/);
    expect(lines[at + 5]).toBe('  10.0.0.9  unknown vendor  10.0.0.9 10.0.0.10');
    expect(lines[at + 6]).toBe('    0 flows, 0 B out to 0 external destinations');
  });

  it('shows 10 destinations of a device and says how many more there are', () => {
    const d = device({ destinations: Array.from({ length: 23 }, (_, i) => destination(i + 1)) });
    const text = formatSummary(stats(), [d]);
    expect(text.match(/^ {6}-> /gm)).toHaveLength(10);
    expect(text).toContain('      ... and 13 more (see devices.json)\n');
    expect(text).toContain('198.51.100.10 ');
    expect(text).not.toContain('198.51.100.11 ');
  });

  it('alerts most severe first, then newest first, with their UTC time (ISO 8601, seconds); 30 shown and the rest counted', () => {
    const t = Date.UTC(2024, 0, 2, 3, 4, 5) / 1000;
    const alerts = [alert(1, 'low', t + 10), alert(2, 'critical', t + 20), alert(3, 'high', t), alert(4, 'critical', t + 5.75), alert(5, 'info', t), alert(6, 'low', t + 3600)];
    const lines = formatSummary(stats(), [], alerts).split('\n');
    const at = lines.indexOf('Alerts (6)');
    expect(lines[at + 1]).toBe('  by rule: 6 direct-ip');
    const shown = lines.slice(at + 2, at + 8).map((l) => l.trim().split(/\s+/));
    expect(shown.map((w) => [w[0], w[3]])).toEqual([['critical', 'message'], ['critical', 'message'], ['high', 'message'], ['low', 'message'], ['low', 'message'], ['info', 'message']]);
    expect(shown.map((w) => w[4])).toEqual(['2', '4', '3', '6', '1', '5']);
    expect(lines[at + 2]).toBe(`  ${'critical'.padEnd(8)} ${'direct-ip'.padEnd(24)} 2024-01-02T03:04:25Z  message 2`);
    expect(lines[at + 3]).toBe(`  ${'critical'.padEnd(8)} ${'direct-ip'.padEnd(24)} 2024-01-02T03:04:10Z  message 4`);
    expect(lines[at + 5]).toContain(' 2024-01-02T04:04:05Z  message 6');
    const many = Array.from({ length: 47 }, (_, i) => alert(i, 'medium', t + i));
    const text = formatSummary(stats(), [], many);
    expect(text).toContain('Alerts (47)');
    expect(text.match(/^ {2}medium /gm)).toHaveLength(30);
    expect(text).toContain('  ... and 17 more (see alerts.jsonl)\n');
    // the newest 30: messages 46 down to 17
    expect(text).toContain('message 17\n');
    expect(text).not.toContain('message 16\n');
    expect(text.indexOf('message 46\n')).toBeLessThan(text.indexOf('message 45\n'));
  });

  it('counts alerts per rule, most first (ties by name), so a flood of one rule does not hide another that fired', () => {
    const of = (rule: string, n: number) => Array.from({ length: n }, (_, i) => ({ ...alert(i, 'medium', 1000 + i), rule }));
    const alerts = [...of('direct-ip', 40), ...of('scan', 1), ...of('dga', 1), ...of('geo-callback', 3)];
    const lines = formatSummary(stats(), [], alerts).split('\n');
    expect(lines[lines.indexOf('Alerts (45)') + 1]).toBe('  by rule: 40 direct-ip, 3 geo-callback, 1 dga, 1 scan');
    // the 30 listed are all direct-ip: only the count line shows scan and dga fired
    expect(lines.filter((l) => /^ {2}medium +scan /.test(l))).toHaveLength(0);
  });

  it('top talkers: the first five devices (as given, largest first) that sent bytes out', () => {
    const devices = Array.from({ length: 8 }, (_, i) => device({ mac: `02:00:00:00:00:0${i}`, bytes_out: i === 2 ? 0 : (8 - i) * 1_000_000, vendor: i % 2 ? null : 'Acme' }));
    const lines = formatSummary(stats(), devices).split('\n');
    const at = lines.indexOf('Top talkers (bytes out to the Internet)');
    expect(lines.slice(at + 1, at + 6).map((l) => l.trim().split(/\s+/).slice(0, 3).join(' '))).toEqual([
      '02:00:00:00:00:00 8.0 MB', '02:00:00:00:00:01 7.0 MB', '02:00:00:00:00:03 5.0 MB', '02:00:00:00:00:04 4.0 MB', '02:00:00:00:00:05 3.0 MB',
    ]);
    expect(lines[at + 6]).toBe('');
  });

  it('decode warnings by count, largest first; capture warnings and errors; skipped files', () => {
    const text = formatSummary(
      stats({ decode_warnings: { tcp_truncated: 2, ipv4_fragment: 40, unsupported_linktype_147: 7 }, files: [file('a.pcap', ['a.pcap: capture ends inside a record at byte 100']), file('b.pcap', [], 'b.pcap at byte 24: record claims ...')], skipped_files: ['x.txt', 'y.txt', 'z.md'] }),
      [],
    );
    const lines = text.split('\n');
    const at = lines.indexOf('Decode warnings');
    expect(lines.slice(at + 1, at + 4).map((l) => l.trim().split(/\s+/))).toEqual([['ipv4_fragment', '40'], ['unsupported_linktype_147', '7'], ['tcp_truncated', '2']]);
    expect(text).toContain('Capture problems\n  a.pcap: capture ends inside a record at byte 100\n  b.pcap at byte 24: record claims ...\n');
    expect(text).toContain('Skipped 3 file(s) in directories that are not captures.');
  });
});

describe('formatSummary with names a device chose', () => {
  it('writes every control character of host names, destination names, alert messages and capture problems as an escape', () => {
    const evil = 'x\x1b]0;owned\x07\x1b[2J\u009b\x7f\n\u202e';
    const a = { ...alert(1, 'high', 5), message: `connected to ${evil}` };
    const text = formatSummary(
      stats({ files: [file(`${evil}.pcap`, [`${evil}.pcap: capture ends inside a record at byte 100`])] }),
      [device({ hostnames: [evil], vendor: evil, destinations: [destination(1, { name: evil })] })],
      [a],
    );
    expect(text).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f\u202e]/);
    const shown = 'x\\x1b]0;owned\\x07\\x1b[2J\\u009b\\x7f\\x0a\\u202e';
    expect(text).toContain(`names: ${shown}`);
    expect(text).toContain(`  ${shown}  `); // the vendor
    expect(text).toContain(`-> 198.51.100.1     ${shown}`);
    expect(text).toContain(`connected to ${shown}\n`);
    expect(text).toContain(`  ${shown}.pcap: capture ends inside a record at byte 100\n`);
  });
});

describe('the summary phonehome analyze prints', () => {
  it('gives the totals of stats.json, and the packets and bytes tshark reads in the same captures', () => {
    const out = join(tmp, 'run');
    const r = phonehome(['analyze', FIXTURES, '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const s: RunStats = JSON.parse(readFileSync(join(out, 'stats.json'), 'utf8'));
    const devices: DeviceRecord[] = JSON.parse(readFileSync(join(out, 'devices.json'), 'utf8'));
    const alerts = readFileSync(join(out, 'alerts.jsonl'), 'utf8').split('\n').filter(Boolean);
    const captures = readdirSync(FIXTURES, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.pcap'));
    const lens = captures.flatMap((f) => execFileSync('tshark', ['-n', '-r', join(FIXTURES, f), '-T', 'fields', '-e', 'frame.len'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim().split('\n').map(Number));
    const frames = lens.length;
    const bytes = lens.reduce((a, b) => a + b, 0);
    const first = r.stdout.split('\n')[0];
    const m = /^(\d+) captures, ([\d,]+) packets, [\d.]+ [kMG]?B, ([\d,]+) flows, ([\d,]+) DNS messages, (\d+) local devices, (\d+) alerts$/.exec(first);
    expect(m, first).not.toBeNull();
    const num = (x: string) => Number(x.replace(/,/g, ''));
    expect(num(m![1])).toBe(captures.length);
    expect(num(m![2])).toBe(frames);
    expect(num(m![2])).toBe(s.packets);
    expect(num(m![3])).toBe(s.flows);
    expect(num(m![4])).toBe(s.dns_messages);
    expect(num(m![5])).toBe(devices.length);
    expect(num(m![6])).toBe(alerts.length);
    expect(s.bytes).toBe(bytes);
    // 993,927 bytes in the bundled captures: "993.9 kB"
    expect(first).toContain(`packets, ${(bytes / 1000).toFixed(1)} kB,`);
    // every alert of alerts.jsonl, most severe first, newest first, each at its own time
    const records: AlertRecord[] = alerts.map((l) => JSON.parse(l));
    const lines = r.stdout.split('\n');
    const at = lines.indexOf(`Alerts (${records.length})`);
    // the count per rule, as alerts.jsonl has them
    const perRule = new Map<string, number>();
    for (const a of records) perRule.set(a.rule, (perRule.get(a.rule) ?? 0) + 1);
    const counted = lines[at + 1].replace('  by rule: ', '').split(', ').map((c) => c.split(' '));
    expect(new Map(counted.map(([n, rule]) => [rule, Number(n)]))).toEqual(perRule);
    const rows = lines.slice(at + 2, at + 2 + Math.min(30, records.length)).map((l) => /^ {2}(\w+) +(\S+) +(\S+) {2}(.*)$/.exec(l)!);
    expect(rows.length).toBeGreaterThan(1);
    expect(rows.every(Boolean)).toBe(true);
    const rank = ['critical', 'high', 'medium', 'low', 'info'];
    const when = (iso: string) => Date.parse(iso) / 1000;
    for (let i = 1; i < rows.length; i++) {
      const [prev, cur] = [rows[i - 1], rows[i]];
      const order = rank.indexOf(prev[1]) - rank.indexOf(cur[1]);
      expect(order < 0 || (order === 0 && when(prev[3]) >= when(cur[3])), `${prev[0]} before ${cur[0]}`).toBe(true);
    }
    for (const row of rows) {
      expect(row[3]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      expect(records.some((a) => a.message === row[4] && a.rule === row[2] && a.severity === row[1] && Math.floor(a.ts) === when(row[3])), row[0]).toBe(true);
    }
  }, 60_000);
});
