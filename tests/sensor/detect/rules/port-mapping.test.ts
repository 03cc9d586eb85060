// port-mapping: planted devices ask the gateway to open ports by UPnP IGD
// (as miniupnpc sends it, and with the body in a segment of its own),
// NAT-PMP and PCP, amid real background traffic; look-alikes discover the
// gateway, ask its external address, or remove a mapping. tshark is the
// oracle that the planted bytes are those protocols; the built CLI writes
// the alerts, checked against the plant.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { AlertRecord } from '../../../../contract/types.js';
import { packet, udpFrame, type Endpoint } from '../../../helpers/build.js';
import { phonehome } from '../../../helpers/cli.js';
import { tcpConversation } from '../../../helpers/conversation.js';
import { capture, contractAlert, COUNTRY_DB, tempDir } from '../../../helpers/detection.js';
import { addPortMapping, natPmpRequest, pcpMapRequest, soapRequest } from '../../../helpers/payloads.js';
import { ROUTER, Scenario } from '../../../helpers/scenarios.js';

const T0 = 1_700_000_000;
const dev = (n: number): Endpoint => ({ mac: `02:a9:00:00:00:0${n}`, ip: `192.168.77.${40 + n}`, port: 42000 + n * 100 });
const cam = dev(1);
const nas = dev(2);
const console_ = dev(3);
const quiet = dev(4);
const at = (d: Endpoint, i: number): Endpoint => ({ ...d, port: d.port + i });
const IGD: Endpoint = { ...ROUTER, port: 5000 };
const PMP: Endpoint = { ...ROUTER, port: 5351 };
const OK = 'HTTP/1.1 200 OK\r\nContent-Type: text/xml; charset="utf-8"\r\nConnection: close\r\nContent-Length: 0\r\n\r\n';

let file = '';
let alerts: AlertRecord[] = [];
let alertsText = '';
const mappings = (mac: string) => alerts.filter((a) => a.rule === 'port-mapping' && a.device.mac === mac).flatMap((a) => a.evidence.port_mappings ?? []);

function analyze(extra: string[]): string {
  const dir = tempDir('out');
  const r = phonehome(['analyze', file, '--no-profiles', '--geoip', COUNTRY_DB, '--out', dir, ...extra]);
  expect(r.code, r.stderr).toBe(0);
  return readFileSync(join(dir, 'alerts.jsonl'), 'utf8');
}

const tshark = (filter: string, fields: string[]): string[] =>
  execFileSync('tshark', ['-n', '-d', 'tcp.port==5000,http', '-r', file, '-Y', filter, '-T', 'fields', ...fields.flatMap((f) => ['-e', f])], { encoding: 'utf8' }).split('\n').filter(Boolean);

beforeAll(async () => {
  const s = new Scenario(T0, 3600);
  await s.background(['HueBridge', 'WeMoSwitch'], [30, 600]);
  // 1. a camera opens tcp/8081 to its web server with miniupnpc, for an hour, and again (retried) on another connection
  const camMap = addPortMapping({ host: ROUTER.ip, controlPort: 5000, externalPort: 8081, protocol: 'TCP', internalPort: 80, internalClient: cam.ip, lease: 3600, description: 'cam-web' });
  s.packets.push(...tcpConversation(T0 + 100, at(cam, 1), IGD, [['c', camMap], ['s', OK]]));
  s.packets.push(...tcpConversation(T0 + 160, at(cam, 2), IGD, [['c', camMap], ['s', OK]]));
  // 2. a NAS: an UDP mapping without expiry for another host, its head and body in separate segments (as clients that write headers first send it)
  const nasMap = addPortMapping({ host: ROUTER.ip, controlPort: 5000, externalPort: 51413, protocol: 'UDP', internalPort: 51413, internalClient: '192.168.77.99', lease: 0 });
  const split = nasMap.indexOf('\r\n\r\n') + 4;
  s.packets.push(...tcpConversation(T0 + 200, at(nas, 1), IGD, [['c', nasMap.subarray(0, split)], ['c', nasMap.subarray(split, split + 200)], ['c', nasMap.subarray(split + 200)], ['s', OK]]));
  // 3. a console: NAT-PMP (sent twice, as clients retransmit, then answered) and PCP
  const pmp = natPmpRequest('tcp', 3074, 3074, 7200);
  const answer = Buffer.from([0, 130, 0, 0, 0, 0, 0, 9, 0x0c, 0x02, 0x0c, 0x02, 0, 0, 0x1c, 0x20]);
  s.packets.push(packet(T0 + 300, udpFrame(at(console_, 1), PMP, pmp)), packet(T0 + 300.25, udpFrame(at(console_, 1), PMP, pmp)), packet(T0 + 300.3, udpFrame(PMP, at(console_, 1), answer)));
  s.packets.push(packet(T0 + 320, udpFrame(at(console_, 2), PMP, pcpMapRequest(console_.ip, 17, 3478, 3478, 600))));
  // 4. look-alikes: SSDP discovery, the external address by UPnP and NAT-PMP, removals by NAT-PMP (lifetime 0) and UPnP
  const msearch = 'M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\nMAN: "ssdp:discover"\r\nMX: 2\r\n\r\n';
  s.packets.push(packet(T0 + 400, udpFrame(at(quiet, 1), { mac: '01:00:5e:7f:ff:fa', ip: '239.255.255.250', port: 1900 }, Buffer.from(msearch))));
  s.packets.push(...tcpConversation(T0 + 410, at(quiet, 2), IGD, [['c', soapRequest(ROUTER.ip, 5000, '/ctl/IPConn', 'GetExternalIPAddress', [])], ['s', OK]]));
  s.packets.push(packet(T0 + 420, udpFrame(at(quiet, 3), PMP, Buffer.from([0, 0]))));
  s.packets.push(packet(T0 + 430, udpFrame(at(quiet, 4), PMP, natPmpRequest('tcp', 3074, 0, 0))));
  const remove = soapRequest(ROUTER.ip, 5000, '/ctl/IPConn', 'DeletePortMapping', [['NewRemoteHost', ''], ['NewExternalPort', 8081], ['NewProtocol', 'TCP']]);
  s.packets.push(...tcpConversation(T0 + 440, at(quiet, 5), IGD, [['c', remove], ['s', OK]]));
  file = capture(s);
  alertsText = analyze([]);
  alerts = alertsText.split('\n').filter(Boolean).map((l) => JSON.parse(l) as AlertRecord);
}, 120_000);

describe('the planted traffic, as tshark decodes it', () => {
  it('holds the SOAP calls with their actions and arguments', () => {
    // The background's own POSTs (a Hue app to its bridge, the bridge to its cloud) are look-alikes too.
    expect(tshark('http.request.method == "POST" && !(ip.src == 192.168.77.0/24)', ['ip.src']).length).toBeGreaterThan(10);
    const calls = tshark('http.request.method == "POST" && ip.src == 192.168.77.0/24', ['ip.src', 'xml.tag', 'xml.cdata']).map((l) => {
      const [src, tags, values] = l.split('\t');
      return [src, /<u:(\w+)/.exec(tags)?.[1], values ?? ''];
    });
    // The arguments in order: external port, protocol, internal port and client, enabled, description, lease.
    expect(calls).toEqual([
      [cam.ip, 'AddPortMapping', `8081,TCP,80,${cam.ip},1,cam-web,3600`],
      [cam.ip, 'AddPortMapping', `8081,TCP,80,${cam.ip},1,cam-web,3600`],
      [nas.ip, 'AddPortMapping', '51413,UDP,51413,192.168.77.99,1,libminiupnpc,0'],
      [quiet.ip, 'GetExternalIPAddress', ''],
      [quiet.ip, 'DeletePortMapping', '8081,TCP'],
    ]);
  });

  it('holds NAT-PMP and PCP requests', () => {
    expect(tshark('nat-pmp && udp.dstport == 5351', ['ip.src', 'nat-pmp.opcode', 'nat-pmp.internal_port', 'nat-pmp.external_port', 'nat-pmp.pml'])).toEqual([
      `${console_.ip}\t2\t3074\t3074\t7200`,
      `${console_.ip}\t2\t3074\t3074\t7200`,
      `${quiet.ip}\t0\t\t\t`,
      `${quiet.ip}\t2\t3074\t0\t0`,
    ]);
    expect(tshark('portcontrol.request == 1', ['ip.src', 'portcontrol.opcode', 'portcontrol.map.protocol', 'portcontrol.map.internal_port', 'portcontrol.lifetime_req'])).toEqual([`${console_.ip}\t1\t17\t3478\t600`]);
  });
});

describe('port-mapping', () => {
  it('fires once per device and mapping asked for, counting every request, and for nothing else', () => {
    const got = alerts.filter((a) => a.rule === 'port-mapping').map((a) => [a.device.mac, a.destination?.ip, a.destination?.port, a.evidence.flows]);
    expect(got).toEqual([
      [cam.mac, ROUTER.ip, 5000, 2],
      [nas.mac, ROUTER.ip, 5000, 1],
      [console_.mac, ROUTER.ip, 5351, 1],
      [console_.mac, ROUTER.ip, 5351, 1],
    ]);
    expect(alerts.filter((a) => a.rule === 'port-mapping' && a.device.mac === quiet.mac)).toEqual([]);
  });

  it('says which port and protocol were asked for, for which host and port, for how long', () => {
    expect(mappings(cam.mac)).toEqual([{ method: 'upnp', protocol: 'tcp', external_port: 8081, internal_client: cam.ip, internal_port: 80, lease_s: 3600, description: 'cam-web' }]);
    expect(mappings(nas.mac)).toEqual([{ method: 'upnp', protocol: 'udp', external_port: 51413, internal_client: '192.168.77.99', internal_port: 51413, lease_s: 0, description: 'libminiupnpc' }]);
    expect(mappings(console_.mac)).toEqual([
      { method: 'nat-pmp', protocol: 'tcp', external_port: 3074, internal_client: console_.ip, internal_port: 3074, lease_s: 7200, description: null },
      { method: 'pcp', protocol: 'udp', external_port: 3478, internal_client: console_.ip, internal_port: 3478, lease_s: 600, description: null },
    ]);
    const a = alerts.find((x) => x.rule === 'port-mapping' && x.device.mac === nas.mac)!;
    expect(a.message).toBe(`${nas.mac} asked ${ROUTER.ip} (UPnP IGD) to forward external port 51413/udp to 192.168.77.99:51413, without expiry, described as "libminiupnpc"`);
    expect(a.mitre).toEqual([{ technique: 'T1599.001', name: 'Network Boundary Bridging: Network Address Translation Traversal', tactic: 'Defense Evasion' }]);
  });

  it('writes alerts the contract accepts, its evidence fields declared', () => {
    const mine = alerts.filter((a) => a.rule === 'port-mapping');
    expect(mine.length).toBeGreaterThan(0);
    for (const a of mine) expect(contractAlert(a), JSON.stringify(contractAlert.errors)).toBe(true);
  });

  it('gives the same alerts with --workers 2', () => {
    expect(analyze(['--workers', '2'])).toBe(alertsText);
  });
});
