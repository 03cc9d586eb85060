// undocumented-destination: a profiled device reaching a name, address or
// port its profile does not document. One planted profiled device makes
// documented and undocumented connections; the alerts must be exactly the
// undocumented ones, each naming what its profile lacks.
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { FlowRecord } from '../../../../contract/types.js';
import { loadDetectionConfig } from '../../../../sensor/detect/config.js';
import { Detector } from '../../../../sensor/detect/engine.js';
import { loadProfiles } from '../../../../sensor/detect/profiles/load.js';
import { packet, tcpSession, udpFrame, type Endpoint } from '../../../helpers/build.js';
import { alertsOf, ASN_DB, capture, COUNTRY_DB, profilesDir, runPipeline, sourceRecord, type PipelineRun } from '../../../helpers/detection.js';
import { ROUTER, Scenario } from '../../../helpers/scenarios.js';

const T0 = 1_700_000_000;
const cam: Endpoint = { mac: '02:ac:00:00:00:01', ip: '192.168.77.61', port: 42000 };
const unprofiled: Endpoint = { mac: '02:ac:00:00:00:02', ip: '192.168.77.62', port: 43000 };
const server = (ip: string, port = 443): Endpoint => ({ mac: ROUTER.mac, ip, port });

const PROFILE = `profile: acme-cam
match:
  mac: ["${cam.mac}"]
documented:
  - domain: "*.acme-vendor.example"
    proto: tcp
    ports: [443]
  - domain: time.acme-vendor.example
    proto: udp
    ports: [123]
  - domain: cdn.acme.example
  - cidr: 89.160.20.112/28
    proto: tcp
    ports: [8883]
`;

const API = server('216.160.83.57');
const MQTT = server('89.160.20.115', 8883);
const TRACKER = server('81.2.69.150');

let profiles = '';
let r: PipelineRun;
let u: ReturnType<typeof alertsOf>;

beforeAll(async () => {
  const s = new Scenario(T0, 3600);
  await s.background(['HueBridge'], [30]);
  let p = 0;
  const c = () => ({ ...cam, port: cam.port + p++ });
  // documented: by SNI under the wildcard, its apex, any case; by DNS name alone; by HTTP Host with a port;
  // a name documented for any protocol and port; the documented network on its port
  s.tls(T0 + 10, c(), API, 'api.acme-vendor.example');
  s.tls(T0 + 11, c(), API, 'acme-vendor.example');
  s.tls(T0 + 12, c(), API, 'Fw.ACME-Vendor.Example');
  s.resolve(T0 + 13, cam, 'eu.api.acme-vendor.example', [API.ip]);
  s.tls(T0 + 14, c(), API, null);
  s.packets.push(...tcpSession(T0 + 15, c(), server('81.2.69.160', 8080), Buffer.from('GET / HTTP/1.1\r\nHost: cdn.acme.example:8080\r\n\r\n')));
  s.tls(T0 + 16, c(), MQTT, null);
  s.resolve(T0 + 17, cam, 'time.acme-vendor.example', ['81.2.69.170']);
  s.packets.push(packet(T0 + 18, udpFrame(c(), server('81.2.69.170', 123), Buffer.alloc(48))), packet(T0 + 18.05, udpFrame(server('81.2.69.170', 123), { ...cam, port: cam.port + p - 1 }, Buffer.alloc(48))));
  // undocumented: a look-alike name, a documented name on another port, an undocumented host (twice),
  // an undocumented port of the documented network, and an address no entry covers
  s.tls(T0 + 100, c(), server('216.160.83.58'), 'evil-acme-vendor.example');
  s.tls(T0 + 110, c(), { ...API, ip: '216.160.83.59', port: 8443 }, 'api.acme-vendor.example');
  s.tls(T0 + 120, c(), TRACKER, 'telemetry.tracker.example');
  s.tls(T0 + 900, c(), TRACKER, 'telemetry.tracker.example');
  s.tls(T0 + 130, c(), { ...MQTT, port: 1883 }, null);
  s.tls(T0 + 140, c(), server('89.160.20.130', 8883), null);
  // a device no profile covers reaches the same undocumented host
  s.tls(T0 + 150, unprofiled, TRACKER, 'telemetry.tracker.example');
  profiles = profilesDir({ 'acme-cam.yaml': PROFILE });
  r = await runPipeline(capture(s), { profilesDir: profiles, geoip: [COUNTRY_DB] });
  u = alertsOf(r.alerts, 'undocumented-destination', cam.mac);
}, 120_000);

describe('undocumented-destination', () => {
  it('fires for exactly the undocumented connections, one alert per name (or address), protocol and port', () => {
    const camFlows = r.flows.filter((f) => f.src_ip === cam.ip && f.proto === 'tcp');
    expect(camFlows).toHaveLength(12);
    expect(r.flows.filter((f) => f.src_ip === cam.ip && f.proto === 'udp' && f.dst_port === 123).map((f) => f.dns_name)).toEqual(['time.acme-vendor.example']);
    expect(u.map((a) => [a.destination?.name ?? a.destination?.ip, a.destination?.proto, a.destination?.port, a.evidence.flows])).toEqual([
      ['evil-acme-vendor.example', 'tcp', 443],
      ['api.acme-vendor.example', 'tcp', 8443],
      ['telemetry.tracker.example', 'tcp', 443],
      [MQTT.ip, 'tcp', 1883],
      ['89.160.20.130', 'tcp', 8883],
    ].map((x) => [...x, x[0] === 'telemetry.tracker.example' ? 2 : 1]));
    expect(u.every((a) => a.device.profile === 'acme-cam' && a.severity === 'medium')).toBe(true);
  });

  it('names the missing profile entry: the target, its protocol and port, and the profile by name, not by its file on the sensor', () => {
    const a = u.find((x) => x.destination?.port === 8443)!;
    expect(a.evidence.reason).toBe('no entry in profile acme-cam documents api.acme-vendor.example tcp/8443');
    expect(JSON.stringify(u)).not.toContain(profiles);
    expect(a.message).toBe(`${cam.mac} (profile acme-cam) connected to api.acme-vendor.example on tcp/8443, which its profile does not document`);
    const byAddress = u.find((x) => x.destination?.port === 1883)!;
    expect(byAddress.evidence.reason).toContain(`documents ${MQTT.ip} tcp/1883`);
    expect(byAddress.destination?.name).toBeNull();
  });

  it('stays quiet for a device no profile covers (that is unprofiled-device\'s to report)', () => {
    expect(alertsOf(r.alerts, 'undocumented-destination', unprofiled.mac)).toEqual([]);
    expect(alertsOf(r.alerts, 'unprofiled-device', unprofiled.mac)).toHaveLength(1);
    expect(alertsOf(r.alerts, 'unprofiled-device', cam.mac)).toEqual([]);
  });
});

// Entries by autonomous system: a flow is documented by its destination's AS
// (from an ASN database), with the entry's protocol and ports. The AS of each
// planted address is read from the JSON MaxMind built its test database from.
describe('undocumented-destination with asn entries', () => {
  const hub: Endpoint = { mac: '02:ac:00:00:00:03', ip: '192.168.77.63', port: 44000 };
  const GOOGLE = '1.0.0.0/24';
  const TELSTRA = '1.128.0.0/11';
  const ATT = '12.81.92.0/22';
  const asOf = (cidr: string) => sourceRecord('GeoLite2-ASN-Test', cidr).autonomous_system_number as number;
  let run: PipelineRun;
  let dir = '';

  beforeAll(async () => {
    dir = profilesDir({
      'hub.yaml': [
        'profile: acme-hub', 'match:', `  mac: ["${hub.mac}"]`, 'documented:',
        `  - asn: ${asOf(GOOGLE)}`, '    proto: tcp', '    ports: [443]',
        `  - asn: [AS${asOf(TELSTRA)}]`, '',
      ].join('\n'),
    });
    const s = new Scenario(T0, 3600);
    let p = 0;
    const h = () => ({ ...hub, port: hub.port + p++ });
    s.tls(T0 + 10, h(), server('1.0.0.1'), null); // the documented AS on its port
    s.tls(T0 + 20, h(), server('1.0.0.200'), 'any-name.example'); // also by AS, whatever the name
    s.tls(T0 + 30, h(), server('1.0.0.2', 80), null); // the documented AS on another port
    s.packets.push(packet(T0 + 40, udpFrame(h(), server('1.128.0.5', 5000), Buffer.alloc(20)))); // an AS documented for everything
    s.tls(T0 + 50, h(), server('12.81.92.5'), null); // an AS no entry names
    run = await runPipeline(capture(s), { profilesDir: dir, geoip: [COUNTRY_DB, ASN_DB] });
  }, 60_000);

  it('documents flows by the AS the ASN database gives their destination', () => {
    const flows = run.flows.filter((f) => f.src_ip === hub.ip);
    expect(flows.map((f) => [f.dst_ip, f.dst_asn])).toEqual([
      ['1.0.0.1', asOf(GOOGLE)], ['1.0.0.200', asOf(GOOGLE)], ['1.0.0.2', asOf(GOOGLE)], ['1.128.0.5', asOf(TELSTRA)], ['12.81.92.5', asOf(ATT)],
    ]);
    const alerts = alertsOf(run.alerts, 'undocumented-destination', hub.mac);
    expect(alerts.map((a) => [a.destination?.ip, a.destination?.proto, a.destination?.port, a.destination?.asn])).toEqual([
      ['1.0.0.2', 'tcp', 80, asOf(GOOGLE)],
      ['12.81.92.5', 'tcp', 443, asOf(ATT)],
    ]);
    // the AS is known: nothing to say about a missing ASN database
    expect(alerts.every((a) => !a.evidence.reason!.includes('AS is unknown'))).toBe(true);
  });

  it('says when a flow could not be judged by AS because its AS is unknown', () => {
    const profile = loadProfiles(dir).profiles[0];
    const d = new Detector({ config: loadDetectionConfig(), profiles: [profile] });
    const rec = {
      uid: 'Cunknownas', community_id: null, ts: T0, duration: 1, proto: 'tcp', src_ip: hub.ip, src_port: 40000, dst_ip: '1.0.0.1', dst_port: 443,
      src_mac: hub.mac, dst_mac: ROUTER.mac, src_pkts: 3, src_bytes: 200, dst_pkts: 3, dst_bytes: 200, state: 'SF', mid_stream: false, sni: null, alpn: null,
      ja3: null, ja4: null, tls_self_signed: null, tls_cert_expired: null, tls_name_mismatch: null, http_host: null, user_agent: null, dns_name: null, server_name: null, dst_country: null, dst_asn: null, dst_as_org: null, end_reason: 'closed',
    } satisfies FlowRecord;
    d.onFlow({ rec, device: { mac: hub.mac, ip: hub.ip, vendor: null, vendor_country: null, mud_url: null }, resolved: false, dst: { country: null, asn: null, as_org: null }, ends: { srcLocal: true, dstLocal: false }, app: null, responder: null, src: null });
    const [a] = d.finish(T0, T0 + 1).filter((x) => x.rule === 'undocumented-destination');
    expect(a.evidence.reason).toBe(
      `no entry in profile ${profile.profile} documents 1.0.0.1 tcp/443; its AS is unknown, so the profile's asn entries cannot match (add an ASN database with --geoip)`,
    );
  });
});
