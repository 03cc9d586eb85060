// Payload facts the flow meter records for the credential and port mapping
// rules, through a real FlowMeter over planted captures: each fact on the
// flow that carried it, bounded per flow, read only where the protocol is
// (by the port connected to, or the first request segments), never holding
// a password.
import { describe, expect, it } from 'vitest';
import { readCaptureFile } from '../../../sensor/capture/reader.js';
import type { AppFacts } from '../../../sensor/flows/app.js';
import { FlowMeter } from '../../../sensor/pipeline/meter.js';
import { packet, udpFrame, type Endpoint } from '../../helpers/build.js';
import { tcpConversation, type Turn } from '../../helpers/conversation.js';
import { capture } from '../../helpers/detection.js';
import { addPortMapping, mqttConnect, natPmpRequest, pcpMapRequest } from '../../helpers/payloads.js';
import type { TestPacket } from '../../helpers/pcap.js';

const T0 = 1_700_000_000;
const device: Endpoint = { mac: '02:20:00:00:00:01', ip: '192.168.9.20', port: 40000 };
const gateway: Endpoint = { mac: '02:20:00:00:00:fe', ip: '192.168.9.1', port: 5000 };
const server = (port: number): Endpoint => ({ mac: gateway.mac, ip: '198.51.100.7', port });
const from = (port: number): Endpoint => ({ ...device, port });

/** The app facts of every flow the meter hands on, by the flow's destination port. */
async function facts(packets: TestPacket[]): Promise<Map<string, AppFacts | null>> {
  const out = new Map<string, AppFacts | null>();
  const m = new FlowMeter({ flow: (rec, _f, _r, _e, more) => out.set(`${rec.src_port}>${rec.dst_port}`, more.app) });
  await readCaptureFile(capture(packets), m.onPacket);
  m.finish();
  return out;
}

const login = (pw: string): Turn[] => [['s', 'login: '], ['c', 'root\r\n'], ['s', 'Password: '], ['c', `${pw}\r\n`], ['s', '\r\nLogin incorrect\r\n']];

describe('PayloadFacts', () => {
  it('records each login on the flow that carried it, with the length of the password and not the password', async () => {
    const got = await facts([
      ...tcpConversation(T0, from(40001), server(23), login('xc3511')),
      ...tcpConversation(T0 + 1, from(40002), server(21), [['c', 'USER cam\r\n'], ['c', 'PASS ftp-pw-1\r\n']]),
      ...tcpConversation(T0 + 2, from(40003), server(1883), [['c', mqttConnect({ user: 'm', password: 'mqtt-pw-22' })]]),
      ...tcpConversation(T0 + 3, from(40004), server(8080), [['c', `GET / HTTP/1.1\r\nHost: x\r\nAuthorization: Basic ${Buffer.from('admin:http-pw-333').toString('base64')}\r\n\r\n`]]),
    ]);
    const c = (k: string) => got.get(k)?.credentials?.map(({ ts: _ts, ...rest }) => rest);
    expect(c('40001>23')).toEqual([{ protocol: 'telnet', user: 'root', password: true, passwordLength: 'xc3511'.length }]);
    expect(c('40002>21')).toEqual([{ protocol: 'ftp', user: 'cam', password: true, passwordLength: 'ftp-pw-1'.length }]);
    expect(c('40003>1883')).toEqual([{ protocol: 'mqtt', user: 'm', password: true, passwordLength: 'mqtt-pw-22'.length }]);
    expect(c('40004>8080')).toEqual([{ protocol: 'http-basic', user: 'admin', password: true, passwordLength: 'http-pw-333'.length }]);
    const all = JSON.stringify([...got.values()]);
    for (const pw of ['xc3511', 'ftp-pw-1', 'mqtt-pw-22', 'http-pw-333']) expect(all).not.toContain(pw);
  });

  it('keeps 16 credentials per flow and reads 128 segments of a watched session', async () => {
    const brute: Turn[] = [];
    for (let i = 0; i < 40; i++) brute.push(...login(`pw${i}`));
    const got = await facts(tcpConversation(T0, from(40001), server(23), brute));
    expect(got.get('40001>23')?.credentials).toHaveLength(16);
    // Past 128 segments (25 logins of 5 segments each) nothing more is read, however it goes on.
    const late: Turn[] = [];
    for (let i = 0; i < 26; i++) late.push(['s', 'motd\r\n'], ['s', 'more\r\n'], ['s', 'more\r\n'], ['c', 'ls\r\n'], ['c', 'ls\r\n']);
    const after = await facts(tcpConversation(T0, from(40002), server(23), [...late, ...login('late')]));
    expect(after.get('40002>23')).toBeNull();
  });

  it('reads Telnet, FTP and MQTT only on their ports, and HTTP heads only in the first four request segments', async () => {
    const got = await facts([
      ...tcpConversation(T0, from(40001), server(8023), login('pw')),
      ...tcpConversation(T0 + 1, from(40002), server(2121), [['c', 'USER a\r\n'], ['c', 'PASS b\r\n']]),
      ...tcpConversation(T0 + 2, from(40003), server(8883), [['c', mqttConnect({ user: 'm', password: 'p' })]]),
      ...tcpConversation(T0 + 3, from(40004), server(80), [...Array.from({ length: 4 }, (): Turn => ['c', 'GET / HTTP/1.1\r\nHost: x\r\n\r\n']), ['c', 'GET / HTTP/1.1\r\nAuthorization: Basic YTpi\r\n\r\n']]),
    ]);
    expect([...got.values()]).toEqual([null, null, null, null]);
  });

  it('records a UPnP mapping from its head and completes it from body segments that follow', async () => {
    const req = addPortMapping({ host: gateway.ip, controlPort: 5000, externalPort: 2222, protocol: 'TCP', internalPort: 22, internalClient: device.ip, lease: 60 });
    const head = req.indexOf('\r\n\r\n') + 4;
    const got = await facts(tcpConversation(T0, from(40001), gateway, [['c', req.subarray(0, head + 300)], ['c', req.subarray(head + 300)]]));
    expect(got.get('40001>5000')?.portMappings).toEqual([{ ts: expect.any(Number), method: 'upnp', protocol: 'tcp', externalPort: 2222, internalClient: device.ip, internalPort: 22, leaseS: 60, description: 'libminiupnpc' }]);
  });

  it('records NAT-PMP and PCP requests once however often they are sent, and not removals, answers or what a server sends from 5351', async () => {
    const pmp: Endpoint = { ...gateway, port: 5351 };
    const req = natPmpRequest('udp', 5000, 5000, 3600);
    const answer = Buffer.from([0, 129, 0, 0, 0, 0, 0, 9, 0x13, 0x88, 0x13, 0x88, 0, 0, 0x0e, 0x10]);
    const got = await facts([
      packet(T0, udpFrame(from(40001), pmp, req)),
      packet(T0 + 0.25, udpFrame(from(40001), pmp, req)),
      packet(T0 + 0.3, udpFrame(pmp, from(40001), answer)),
      packet(T0 + 1, udpFrame(from(40002), pmp, natPmpRequest('udp', 5000, 0, 0))),
      packet(T0 + 2, udpFrame(from(40003), pmp, pcpMapRequest(device.ip, 6, 80, 8080, 120))),
      packet(T0 + 3, udpFrame(pmp, { ...device, port: 5351 }, natPmpRequest('tcp', 1, 1, 1))),
    ]);
    expect(got.get('40001>5351')?.portMappings).toEqual([{ ts: T0, method: 'nat-pmp', protocol: 'udp', externalPort: 5000, internalClient: device.ip, internalPort: 5000, leaseS: 3600, description: null }]);
    expect(got.get('40002>5351')).toBeNull();
    expect(got.get('40003>5351')?.portMappings).toEqual([{ ts: T0 + 2, method: 'pcp', protocol: 'tcp', externalPort: 8080, internalClient: device.ip, internalPort: 80, leaseS: 120, description: null }]);
    expect(got.get('5351>5351')).toBeNull();
  });
});
