// unprofiled-device: a device talks to the Internet and no profile covers it.
// A real Hue bridge (covered by the shipped profiles through its OUI) and
// planted devices; the flow records themselves say how many Internet flows
// each device opened.
import { beforeAll, describe, expect, it } from 'vitest';
import type { FlowRecord } from '../../../../contract/types.js';
import { packet, tcpSession, udpFrame, type Endpoint } from '../../../helpers/build.js';
import { alertsOf, capture, COUNTRY_DB, detectionsFile, notInternet, profilesDir, runPipeline, type PipelineRun } from '../../../helpers/detection.js';
import type { TestPacket } from '../../../helpers/pcap.js';
import { ROUTER, Scenario } from '../../../helpers/scenarios.js';

const T0 = 1_700_000_000;
const HUE = '00:17:88:24:76:ff';
const chatty: Endpoint = { mac: '02:0b:00:00:00:01', ip: '192.168.77.81', port: 44000 };
const local: Endpoint = { mac: '02:0b:00:00:00:02', ip: '192.168.77.82', port: 44100 };
const windowed: Endpoint = { mac: '02:0b:00:00:00:03', ip: '192.168.77.83', port: 44200 };
// Espressif's OUI: covered only by the vendor-name profile below
const esp: Endpoint = { mac: '5c:cf:7f:00:00:04', ip: '192.168.77.84', port: 44300 };
const server = (ip: string, port = 443): Endpoint => ({ mac: ROUTER.mac, ip, port });

const VENDOR_PROFILE = `profile: espressif-things
match:
  vendor: Espressif
documented: []
`;

let file = '';
let shipped: PipelineRun;
let own: PipelineRun;
/** the windowed device's own packets */
const windowedPackets: TestPacket[] = [];

/** Flows a device opened to the Internet, by the records' own addresses. */
const internetFlows = (flows: FlowRecord[], mac: string) => flows.filter((f) => f.src_mac === mac && !notInternet(f.dst_ip));

beforeAll(async () => {
  const s = new Scenario(T0, 3600);
  await s.background(['HueBridge'], [0]);
  let p = 0;
  // several destinations, several flows each
  for (const [i, ip] of ['216.160.83.57', '81.2.69.150', '89.160.20.115'].entries()) {
    for (let k = 0; k < 3; k++) s.tls(T0 + 200 + i * 50 + k * 10, { ...chatty, port: chatty.port + p++ }, server(ip), null);
  }
  s.packets.push(packet(T0 + 400, udpFrame({ ...chatty, port: 123 }, server('81.2.69.160', 123), Buffer.alloc(48))));
  // only local traffic: the router's web page and SSDP
  s.packets.push(...tcpSession(T0 + 300, local, { ...ROUTER, port: 80 }));
  s.packets.push(packet(T0 + 310, udpFrame({ ...local, port: 1900 }, { mac: '01:00:5e:7f:ff:fa', ip: '239.255.255.250', port: 1900 }, Buffer.from('M-SEARCH * HTTP/1.1\r\n\r\n'))));
  // two flows, then two more past a 600-second window
  for (const t of [0, 100, 700, 800]) {
    const before = s.packets.length;
    s.tls(T0 + 500 + t, { ...windowed, port: windowed.port + t }, server('81.2.69.151'), null);
    windowedPackets.push(...s.packets.slice(before));
  }
  s.tls(T0 + 50, esp, server('216.160.83.58'), null);
  file = capture(s);
  shipped = await runPipeline([file], { geoip: [COUNTRY_DB] });
  own = await runPipeline([file], {
    geoip: [COUNTRY_DB], profilesDir: profilesDir({ 'espressif.yaml': VENDOR_PROFILE }),
    detectionsFile: detectionsFile((doc) => (doc.suppression_window_s = 600)),
  });
}, 120_000);

describe('unprofiled-device', () => {
  it('raises one alert per device, with no destination, counting every flow it opened to the Internet', () => {
    const a = alertsOf(shipped.alerts, 'unprofiled-device', chatty.mac);
    expect(a).toHaveLength(1);
    const flows = internetFlows(shipped.flows, chatty.mac);
    expect(flows).toHaveLength(10);
    expect(a[0].evidence.flows).toBe(10);
    expect(a[0].evidence.uids).toEqual(flows.map((f) => f.uid));
    expect(a[0].destination).toBeNull();
    expect(a[0].device.profile).toBeNull();
    expect(a[0]).toMatchObject({ severity: 'low', message: `${chatty.mac} talks to the Internet but no device profile covers it` });
  });

  it('stays quiet for a device that only talks on the local network', () => {
    expect(shipped.flows.filter((f) => f.src_mac === local.mac).length).toBe(2);
    expect(shipped.alerts.filter((a) => a.device.mac === local.mac)).toEqual([]);
  });

  it('stays quiet for a device a profile covers, by OUI (the shipped Hue profile) or by vendor name', () => {
    expect(internetFlows(shipped.flows, HUE).length).toBeGreaterThan(50);
    expect(alertsOf(shipped.alerts, 'unprofiled-device', HUE)).toEqual([]);
    expect(alertsOf(own.alerts, 'unprofiled-device', esp.mac)).toEqual([]);
    // without those profiles, both are reported, with every Internet flow they opened
    expect(alertsOf(shipped.alerts, 'unprofiled-device', esp.mac).map((a) => a.evidence.flows)).toEqual([1]);
    expect(alertsOf(own.alerts, 'unprofiled-device', HUE).map((a) => a.evidence.flows)).toEqual([internetFlows(own.flows, HUE).length]);
  });

  it('raises one alert per device and run: past the suppression window its flows still add to that alert', () => {
    expect(alertsOf(shipped.alerts, 'unprofiled-device', windowed.mac).map((a) => a.evidence.flows)).toEqual([4]);
    // a 600-second window, and flows at 500, 600, 1200 and 1300 s
    const a = alertsOf(own.alerts, 'unprofiled-device', windowed.mac);
    const flows = internetFlows(own.flows, windowed.mac);
    expect(flows.map((f) => Math.round(f.ts - T0))).toEqual([500, 600, 1200, 1300]);
    expect(a.map((x) => [x.ts - flows[0].ts, x.evidence.flows, x.evidence.uids])).toEqual([[0, 4, flows.map((f) => f.uid)]]);
    expect(a[0].evidence.last_seen).toBeCloseTo(flows[3].ts + flows[3].duration, 6);
    // the streaming sink heard it once
    expect(own.fired.filter((x) => x.rule === 'unprofiled-device' && x.device.mac === windowed.mac)).toHaveLength(1);
  });

  it('has the same id in every run over the device: a restarted sensor, or a second one, adds to the alert the collector has', async () => {
    // Two halves of the same capture, analysed apart as a sensor that restarted would: different first flows, one id.
    const all = internetFlows(own.flows, windowed.mac);
    const first = await runPipeline(capture(windowedPackets.filter((p) => p.tsSec - T0 < 1000)), { profilesDir: null });
    const second = await runPipeline(capture(windowedPackets.filter((p) => p.tsSec - T0 >= 1000)), { profilesDir: null });
    const [a] = alertsOf(first.alerts, 'unprofiled-device', windowed.mac);
    const [b] = alertsOf(second.alerts, 'unprofiled-device', windowed.mac);
    expect([a.evidence.uids, b.evidence.uids]).toEqual([all.slice(0, 2).map((f) => f.uid), all.slice(2).map((f) => f.uid)]);
    expect(a.id).toBe(b.id);
    // Other devices keep other ids.
    const others = first.alerts.filter((x) => x.rule === 'unprofiled-device' && x.device.mac !== windowed.mac);
    for (const o of others) expect(o.id).not.toBe(a.id);
  });
});
