// Every corpus device appears in the inventory under its MAC, with the
// manufacturer Wireshark's own OUI table names and the country of that
// manufacturer's registered address.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { AlertRecord, DeviceRecord } from '../../../contract/types.js';
import { readCaptureFile } from '../../../sensor/capture/reader.js';
import { Pipeline } from '../../../sensor/pipeline/pipeline.js';
import { loadAnalysis } from '../../../sensor/pipeline/setup.js';
import { packet, tcpFrame, TCP_FLAGS, udpFrame } from '../../helpers/build.js';
import { corpusAvailable, corpusDevices } from '../../helpers/corpus.js';
import { tempDir } from '../../helpers/detection.js';
import { writePcap, type TestPacket } from '../../helpers/pcap.js';
import { phonehome } from '../../helpers/cli.js';
import { phonehomeView } from '../../helpers/phonehome.js';
import { dhcp4, dhcpOption } from '../protocols/build.js';

// Country of each manufacturer's address as registered with the IEEE (public registry entries).
const REGISTERED_COUNTRY: Record<string, string> = {
  '20:f8:5e': 'TW', // Delta Electronics
  'b0:c5:54': 'SG', '1c:5f:2b': 'SG', '90:8d:78': 'SG', '6c:72:20': 'SG', // D-Link International, Singapore
  '74:da:38': 'TW', // Edimax
  '3c:49:37': 'DE', // ASSMANN Electronic
  'ac:cf:23': 'CN', // Hi-flying
  '00:1a:22': 'DE', // eQ-3
  '00:17:88': 'NL', // Philips Lighting
  '84:18:26': 'DE', // Osram
  '5c:cf:7f': 'VG', // Espressif's registration lists a British Virgin Islands address
  '50:c7:bf': 'CN', // TP-LINK
  '94:10:3e': 'US', // Belkin
  '00:24:e4': 'FR', // Withings
};

const MANUF = '/usr/share/wireshark/manuf';

function wiresharkVendor(mac: string): string | null {
  const prefix = mac.slice(0, 8).toUpperCase();
  const line = readFileSync(MANUF, 'utf8').split('\n').find((l) => l.startsWith(prefix));
  return line ? (line.split('\t')[2] ?? line.split('\t')[1]).trim() : null;
}

const norm = (s: string) => s.toLowerCase().replace(/[^a-z0-9]/g, '');

describe.skipIf(!corpusAvailable())('device inventory on the corpus', () => {
  for (const dev of corpusDevices()) {
    it(`${dev.name}: ${dev.mac} is inventoried with its manufacturer and country`, async () => {
      const view = await phonehomeView(dev.files.slice(0, 3));
      const found = view.devices.find((d) => d.mac === dev.mac);
      expect(found, `device ${dev.mac} not in inventory`).toBeDefined();
      expect(found!.vendor_country).toBe(REGISTERED_COUNTRY[dev.mac.slice(0, 8)]);
      if (existsSync(MANUF)) {
        const ws = wiresharkVendor(dev.mac);
        if (ws) expect(norm(found!.vendor ?? '')).toBe(norm(ws));
      }
      expect(found!.ips.length).toBeGreaterThan(0);
      expect(found!.first_seen).toBeLessThanOrEqual(found!.last_seen);
    });
  }
});

const GATEWAY = '00:b5:6d:06:08:ba';
const PLUG = '50:c7:bf:00:c7:03';
/** A DHCPREQUEST (option 53 = 3) naming the host (option 12). */
const dhcpRequest = (mac: string, name: string) =>
  Buffer.from(dhcp4({ mac: [...Buffer.from(mac.replace(/:/g, ''), 'hex')], options: [...dhcpOption(53, [3]), ...dhcpOption(12, [...Buffer.from(name)]), 255] }));
const spoofed = (i: number) => `02:00:00:${[16, 8, 0].map((s) => ((i >> s) & 0xff).toString(16).padStart(2, '0')).join(':')}`;

/**
 * One SYN from each of `n` spoofed MACs to its own Internet address, and a
 * real plug that named itself in DHCP sending a datagram every 10 of them.
 */
function spoofedFlood(n: number): string {
  const pkts: TestPacket[] = [];
  const t0 = 1_700_000_000;
  pkts.push(packet(t0 - 1, udpFrame({ mac: PLUG, ip: '0.0.0.0', port: 68 }, { mac: 'ff:ff:ff:ff:ff:ff', ip: '255.255.255.255', port: 67 }, dhcpRequest(PLUG, 'HS110'))));
  for (let i = 0; i < n; i++) {
    const t = t0 + i * 0.001;
    const dst = `52.${(i >> 16) & 0xff}.${(i >> 8) & 0xff}.${i & 0xff}`;
    pkts.push(packet(t, tcpFrame({ mac: spoofed(i), ip: `192.168.${(i >> 8) & 0xff}.${(i & 0xff) | 1}`, port: 40000 }, { mac: GATEWAY, ip: dst, port: 443 }, TCP_FLAGS.SYN)));
    if (i % 10 === 0) pkts.push(packet(t + 0.0005, udpFrame({ mac: PLUG, ip: '192.168.1.20', port: 40000 + i / 10 }, { mac: GATEWAY, ip: '34.1.2.3', port: 9999 }, Buffer.from('ping'))));
  }
  const f = join(tempDir('flood'), 'spoofed.pcap');
  writePcap(f, 1, pkts);
  return f;
}

describe('device inventory under a flood of spoofed MACs (--max-devices)', () => {
  it('tracks at most the bound, evicts the least recently seen, reports every device once, emits every flow and still judges evicted devices\' flows', async () => {
    const n = 2000;
    const opts = { maxDevices: 300, profilesDir: null };
    const evicted: DeviceRecord[] = [];
    let flows = 0;
    let largest = 0;
    const pipeline: Pipeline = new Pipeline(await loadAnalysis(opts), opts, {
      flow: () => flows++,
      device: (d) => {
        evicted.push(d);
        largest = Math.max(largest, pipeline.meter.inventory.size);
      },
    });
    const input = pipeline.input();
    await readCaptureFile(spoofedFlood(n), input.sink);
    input.end();
    const kept = pipeline.flushFlows();
    const alerts: AlertRecord[] = pipeline.alerts();

    // every flow: one per spoofed MAC, one per plug datagram, the DHCP request
    expect(flows).toBe(n + n / 10 + 1);
    expect(largest).toBeLessThanOrEqual(300);
    expect(kept.length).toBeLessThanOrEqual(300);
    const reported = [...evicted, ...kept].map((d) => d.mac);
    expect(new Set(reported).size).toBe(reported.length);
    expect(new Set(reported)).toEqual(new Set([PLUG, GATEWAY, ...Array.from({ length: n }, (_, i) => spoofed(i))].filter((m) => m !== GATEWAY)));
    // the plug kept sending: never evicted, its DHCP name and every flow counted in the one record
    const plug = kept.find((d) => d.mac === PLUG)!;
    expect(plug.hostnames).toEqual(['HS110']);
    expect(plug.flows).toBe(n / 10 + 1);
    // an evicted device's record says what was seen of it
    const first = evicted.find((d) => d.mac === spoofed(0))!;
    expect(first).toMatchObject({ ips: ['192.168.0.1'], first_seen: 1_700_000_000, last_seen: 1_700_000_000 });
    // evicted devices' flows ended after they left the inventory, and were still judged
    const unprofiled = new Set(alerts.filter((a) => a.rule === 'unprofiled-device').map((a) => a.device.mac));
    for (let i = 0; i < n; i++) expect(unprofiled.has(spoofed(i)), spoofed(i)).toBe(true);
  });

  it('with --workers 2 the shards and the merge stay bounded too, and devices.json reports the same devices as one thread', () => {
    const n = 2000;
    const capture = spoofedFlood(n);
    const devicesOf = (workers: string) => {
      const out = join(tempDir(`flood-out-${workers}`), 'out');
      const r = phonehome(['analyze', capture, '--out', out, '--max-devices', '300', '--no-profiles', '--workers', workers]);
      expect(r.code, r.stderr).toBe(0);
      const stats = JSON.parse(readFileSync(join(out, 'stats.json'), 'utf8')) as { devices: number };
      const devices = JSON.parse(readFileSync(join(out, 'devices.json'), 'utf8')) as DeviceRecord[];
      return { stats, devices };
    };
    const one = devicesOf('1');
    const two = devicesOf('2');
    const macs = (l: DeviceRecord[]) => l.map((d) => d.mac).sort();
    expect(two.devices.length).toBe(two.stats.devices);
    expect(new Set(macs(two.devices)).size).toBe(two.devices.length);
    expect(macs(two.devices)).toEqual(macs(one.devices));
    const plug = (l: DeviceRecord[]) => l.find((d) => d.mac === PLUG)!;
    expect(plug(two.devices)).toEqual(plug(one.devices));
    // Evicted records are written as they leave, the devices still tracked at the end after them
    // (most bytes first): the plug, never evicted and sending most, opens the last 300 or fewer.
    const plugAt = two.devices.findIndex((d) => d.mac === PLUG);
    expect(plugAt).toBeGreaterThanOrEqual(two.devices.length - 300);
    expect(plugAt).toBe(one.devices.findIndex((d) => d.mac === PLUG));
  });
});
