// A device announcing a MUD URL in DHCP gets the profile with that mud-url;
// alerts repeat only after the suppression window.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { AlertRecord, DeviceRecord } from '../../../contract/types.js';
import { packet, tcpSession, udpFrame, type Endpoint } from '../../helpers/build.js';
import { phonehome } from '../../helpers/cli.js';
import { writePcap, type TestPacket } from '../../helpers/pcap.js';

const tmp = mkdtempSync(join(tmpdir(), 'phonehome-mud-'));
const T0 = 1_700_000_000;
const dev: Endpoint = { mac: '02:aa:bb:cc:dd:01', ip: '192.168.5.10', port: 68 };
const MUD_URL = 'https://mud.example-lighting.com/bulb2000.json';

/** A DHCPREQUEST from the device carrying option 161 (RFC 8520 MUD URL). */
function dhcpRequestWithMud(): Buffer {
  const b = Buffer.alloc(240);
  b[0] = 1;
  b[1] = 1;
  b[2] = 6;
  b.writeUInt32BE(0x12345678, 4);
  Buffer.from(dev.mac.replace(/:/g, ''), 'hex').copy(b, 28);
  b.writeUInt32BE(0x63825363, 236);
  const url = Buffer.from(MUD_URL);
  const opts = Buffer.concat([Buffer.from([53, 1, 3]), Buffer.from([12, 6]), Buffer.from('bulb-1'), Buffer.from([161, url.length]), url, Buffer.from([255])]);
  return Buffer.concat([b, opts]);
}

function analyze(pkts: TestPacket[], profile: string, extra: string[] = []) {
  const f = join(tmp, `c${Math.random()}.pcap`);
  writePcap(f, 1, pkts);
  const profiles = join(tmp, `p${Math.random()}`);
  mkdirSync(profiles);
  writeFileSync(join(profiles, 'p.yaml'), profile);
  const out = join(tmp, `o${Math.random()}`);
  const r = phonehome(['analyze', f, '--profiles', profiles, '--out', out, ...extra]);
  expect(r.code, r.stderr).toBe(0);
  const alerts = readFileSync(join(out, 'alerts.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as AlertRecord);
  const devices = JSON.parse(readFileSync(join(out, 'devices.json'), 'utf8')) as DeviceRecord[];
  return { alerts, devices };
}

const server: Endpoint = { mac: '00:11:22:33:44:55', ip: '198.51.200.9', port: 443 };
const telemetry: Endpoint = { mac: '00:11:22:33:44:55', ip: '203.0.200.7', port: 443 };

describe('MUD URL from DHCP', () => {
  it('shows in the inventory and selects the profile whose mud-url matches', () => {
    const pkts = [
      packet(T0, udpFrame({ ...dev, ip: '0.0.0.0' }, { mac: 'ff:ff:ff:ff:ff:ff', ip: '255.255.255.255', port: 67 }, dhcpRequestWithMud())),
      ...tcpSession(T0 + 5, { ...dev, port: 40000 }, server),
      ...tcpSession(T0 + 9, { ...dev, port: 40001 }, telemetry),
    ];
    const profile = `profile: bulb2000\nmud-url: "${MUD_URL}"\ndocumented:\n  - cidr: ${server.ip}\n    proto: tcp\n    ports: [443]\n`;
    const { alerts, devices } = analyze(pkts, profile);
    const d = devices.find((x) => x.mac === dev.mac)!;
    expect(d.mud_url).toBe(MUD_URL);
    expect(d.hostnames).toContain('bulb-1');
    const mine = alerts.filter((a) => a.device.mac === dev.mac);
    expect(mine.filter((a) => a.rule === 'unprofiled-device')).toEqual([]);
    const undocumented = mine.filter((a) => a.rule === 'undocumented-destination');
    expect(undocumented.map((a) => [a.destination?.ip, a.device.profile])).toEqual([[telemetry.ip, 'bulb2000']]);
  });
});

describe('suppression window', () => {
  it('flows to one destination within the window are one alert; after it, a new alert', () => {
    const pkts = [0, 600, 1200, 90_000, 90_600].flatMap((dt, i) => tcpSession(T0 + dt, { ...dev, port: 41000 + i }, telemetry));
    const profile = `profile: bulb2000\nmatch:\n  mac: ["${dev.mac}"]\ndocumented: []\n`;
    const { alerts } = analyze(pkts, profile);
    const u = alerts.filter((a) => a.rule === 'undocumented-destination');
    expect(u.map((a) => a.evidence.flows)).toEqual([3, 2]);
    expect(new Set(u.map((a) => a.id)).size).toBe(2);
    expect(u[1].ts).toBe(T0 + 90_000);
  });

  it('past 500 destinations a device rolls up into one alert per rule; a window ending then neither repeats nor loses an alert', () => {
    const dests = Array.from({ length: 510 }, (_, i): Endpoint => ({ mac: server.mac, ip: `45.${10 + (i >> 8)}.${i & 255}.7`, port: 443 }));
    const pkts = [
      ...dests.flatMap((d, i) => tcpSession(T0 + i, { ...dev, port: 20000 + i }, d)),
      // After the window: the first destination again.
      ...tcpSession(T0 + 90_000, { ...dev, port: 30000 }, dests[0]),
    ];
    const profile = `profile: bulb2000\nmatch:\n  mac: ["${dev.mac}"]\ndocumented: []\n`;
    const u = analyze(pkts, profile).alerts.filter((a) => a.rule === 'undocumented-destination');
    expect(new Set(u.map((a) => a.id)).size).toBe(u.length);
    const itemised = u.filter((a) => a.destination !== null);
    expect(itemised).toHaveLength(500);
    expect(new Set(itemised.map((a) => a.destination!.ip)).size).toBe(500);
    const rollup = u.filter((a) => a.destination === null);
    expect(rollup).toHaveLength(1);
    expect(rollup[0].message).toMatch(/more than 500 distinct destinations/);
    // Every one of the 511 flows is counted exactly once.
    expect(u.reduce((n, a) => n + a.evidence.flows, 0)).toBe(511);
    expect(rollup[0].evidence.flows).toBe(11);
  }, 60_000);

  it('the same input gives the same alert ids', () => {
    const pkts = [0, 600].flatMap((dt, i) => tcpSession(T0 + dt, { ...dev, port: 42000 + i }, telemetry));
    const profile = `profile: bulb2000\nmatch:\n  mac: ["${dev.mac}"]\ndocumented: []\n`;
    expect(analyze(pkts, profile).alerts.map((a) => a.id)).toEqual(analyze(pkts, profile).alerts.map((a) => a.id));
  });
});
