// `phonehome profiles suggest` converges: analysing the captures it learnt
// from with its drafts (`analyze --profiles`) reports no undocumented
// destination. Checked with the real command on every corpus device folder,
// on the bundled captures, and on generated captures whose devices do what
// the tests planted: flows with and without names (SNI, HTTP Host with a
// port or an address, DNS answers), ICMP, sessions split by the idle timeout
// and sessions that began before the capture. The drafts document by name
// what carried a name and by address (or, asked to, by AS) what did not.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { AlertRecord, DeviceProfile, DocumentedDestination, FlowRecord } from '../../../contract/types.js';
import { profileToYaml } from '../../../sensor/detect/profiles/yaml.js';
import { packet, tcpSession, udpFrame, type Endpoint } from '../../helpers/build.js';
import { phonehome } from '../../helpers/cli.js';
import { corpusAvailable, corpusDevices, FIXTURES } from '../../helpers/corpus.js';
import { ASN_DB, capture, COUNTRY_DB, notInternet, sourceRecord } from '../../helpers/detection.js';
import { idleSession, jsonl, ping, suggestThenAnalyze, tcpData, type Learnt } from '../../helpers/learning.js';
import { ROUTER, Scenario } from '../../helpers/scenarios.js';

const tmp = mkdtempSync(join(tmpdir(), 'phonehome-suggest-'));
const UNDOCUMENTED = 'undocumented-destination';

/** Flows a device opened to the Internet, by the records' own addresses. */
const internetFlows = (flows: FlowRecord[], mac: string) => flows.filter((f) => f.src_mac === mac && notInternet(f.src_ip) && !notInternet(f.dst_ip));
const unnamed = (f: FlowRecord) => f.sni === null && f.http_host === null && f.dns_name === null;
/** An entry as [target, proto, ports], for comparing sets of entries. */
const shape = (e: DocumentedDestination) => JSON.stringify([e.domain ?? e.cidr ?? e.asn, e.proto ?? null, e.ports ?? null]);
const undocumented = (l: Learnt) => l.alerts.filter((a) => a.rule === UNDOCUMENTED);

/** A profiles folder holding only `p` without the entries `drop` picks. */
function without(p: DeviceProfile, drop: (e: DocumentedDestination) => boolean, dir: string): string {
  const { source: _, ...rest } = p;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'only.yaml'), profileToYaml({ ...rest, documented: p.documented.filter((e) => !drop(e)) }));
  return dir;
}

/** `analyze` of `inputs` with only `profiles`: the undocumented-destination alerts of device `mac`. */
function undocumentedWith(inputs: string[], profiles: string, mac: string, extra: string[] = []): AlertRecord[] {
  const out = join(profiles, 'out');
  const r = phonehome(['analyze', ...inputs, '--profiles', profiles, '--out', out, ...extra]);
  expect(r.code, r.stderr).toBe(0);
  return jsonl<AlertRecord>(join(out, 'alerts.jsonl')).filter((a) => a.rule === UNDOCUMENTED && a.device.mac === mac);
}

describe.skipIf(!corpusAvailable())('profiles suggest on every corpus device folder', () => {
  const devices = corpusDevices();
  const results: Array<[string, number, string]> = [];

  it('finds the 31 device folders', () => {
    expect(devices.length).toBe(31);
  });

  for (const dev of devices) {
    it(`${dev.name}: analysing it with its drafts gives no ${UNDOCUMENTED} alert; flows without a name are documented by address`, () => {
      const l = suggestThenAnalyze(join(tmp, 'corpus', dev.name), [dev.dir]);
      expect(l.suggest.code, l.suggest.stderr).toBe(0);
      expect(l.analyze.code, l.analyze.stderr).toBe(0);
      results.push([dev.name, undocumented(l).length, `${l.drafts.size} draft(s)`]);
      expect(undocumented(l).map((a) => a.message)).toEqual([]);

      // The device the folder is named after reached the Internet, and its draft covers each flow without a name by its address.
      const flows = internetFlows(l.flows, dev.mac);
      const draft = l.drafts.get(dev.mac);
      if (flows.length === 0) {
        expect(draft).toBeUndefined();
        return;
      }
      expect(draft, `${dev.mac} has a draft`).toBeDefined();
      expect(l.suggest.stdout).toContain(`covering ${flows.length} flow(s)`);
      const byAddress = new Set(draft!.documented.filter((e) => e.cidr).map((e) => `${e.cidr} ${e.proto}`));
      const nameless = new Set(flows.filter(unnamed).map((f) => `${f.dst_ip} ${f.proto}`));
      for (const k of nameless) expect(byAddress, k).toContain(k);
      // every domain entry is a name a flow carried
      const names = new Set(flows.flatMap((f) => [f.sni, f.http_host?.replace(/:\d+$/, ''), f.dns_name]).filter((n): n is string => !!n).map((n) => n.toLowerCase().replace(/\.$/, '')));
      for (const e of draft!.documented.filter((x) => x.domain)) expect(names, e.domain).toContain(e.domain);

      // Without its address entries, exactly the addresses they documented are reported again.
      if (byAddress.size > 0) {
        const again = undocumentedWith([dev.dir], without(draft!, (e) => !!e.cidr, join(tmp, 'corpus', dev.name, 'no-cidr')), dev.mac);
        expect(new Set(again.map((a) => `${a.destination!.ip} ${a.destination!.proto}`))).toEqual(byAddress);
      }
    }, 120_000);
  }

  it('prints the count per device', () => {
    console.log(`undocumented-destination alerts after suggest -> analyze, per corpus device:\n${results.map((r) => `  ${r[0].padEnd(20)} ${r[1]}  (${r[2]})`).join('\n')}`);
  });
});

describe('profiles suggest on the bundled captures', () => {
  let l: Learnt;
  beforeAll(() => {
    l = suggestThenAnalyze(join(tmp, 'fixtures'), [FIXTURES]);
  }, 120_000);

  it(`drafts one profile per device that reached the Internet, and analysing with them gives no ${UNDOCUMENTED} alert`, () => {
    expect(l.suggest.code, l.suggest.stderr).toBe(0);
    expect(l.analyze.code, l.analyze.stderr).toBe(0);
    const macs = new Set(l.flows.filter((f) => f.src_mac && notInternet(f.src_ip) && !notInternet(f.dst_ip)).map((f) => f.src_mac!));
    expect(macs.size).toBeGreaterThanOrEqual(4);
    expect([...l.drafts.keys()].sort()).toEqual([...macs].sort());
    for (const mac of macs) expect(l.suggest.stdout, mac).toMatch(new RegExp(`${mac.replace(/:/g, '')}\\.yaml: \\d+ destination\\(s\\) .* covering ${internetFlows(l.flows, mac).length} flow\\(s\\)`));
    expect(undocumented(l).map((a) => a.message)).toEqual([]);
    // every device that reached the Internet is covered by its draft
    const unprofiled = l.alerts.filter((a) => a.rule === 'unprofiled-device').map((a) => a.device.mac);
    expect(unprofiled.filter((m) => m !== null && macs.has(m))).toEqual([]);
  });

  it('every entry carries a note saying what was seen, and the header says what to review', () => {
    for (const p of l.drafts.values()) {
      for (const e of p.documented) expect(e.note, JSON.stringify(e)).toMatch(/^seen: \d+ flows? on \w+/);
      const text = readFileSync(p.source!, 'utf8');
      expect(text.startsWith(`# Drafted by phonehome profiles suggest from ${FIXTURES}:\n`)).toBe(true);
      expect(text.split('\n')[1]).toContain(` ${p.match.mac![0]} was seen to contact`);
      expect(text).toContain('Review before use');
    }
  });
});

// Planted devices on top of real background traffic. Ground truth: what each
// planted device did, by construction.
describe('profiles suggest on generated captures', () => {
  const T0 = 1_700_000_000;
  const dev = (n: number, vendorOui = '02:5e:00'): Endpoint => ({ mac: `${vendorOui}:00:00:0${n}`, ip: `192.168.77.${90 + n}`, port: 41000 + n * 1000 });
  const cam = dev(1);
  const plug = dev(2);
  const hub = dev(3);
  const at = (ip: string, port: number): Endpoint => ({ mac: ROUTER.mac, ip, port });
  // cam
  const API = at('216.160.83.60', 443);
  const MQTT = at('81.2.69.161', 8883);
  const COAP = at('81.2.69.162', 5683);
  const FW = at('89.160.20.120', 8080);
  const PINGED = at('81.2.69.163', 0);
  const LITERAL = at('89.160.20.121', 8081);
  // plug
  const CLOUD = at('216.160.83.61', 8883);
  const OLD = at('81.2.69.164', 443);
  const NTP = at('81.2.69.165', 123);
  // hub: addresses of MaxMind's test ASN database
  const G1 = at('1.0.0.1', 443);
  const G2 = at('1.0.0.77', 443);
  const TEL = at('1.128.0.9', 9999);

  let file = '';
  let plain: Learnt;
  let asn: Learnt;
  const geo = ['--geoip', COUNTRY_DB];
  const country = (cidr: string) => sourceRecord('GeoLite2-Country-Test', cidr).country.iso_code as string;
  const entriesOf = (l: Learnt, mac: string) => new Set(l.drafts.get(mac)!.documented.map(shape));

  beforeAll(async () => {
    const s = new Scenario(T0, 3 * 3600);
    await s.background(['HueBridge', 'TP-LinkPlugHS110'], [60, 600]);
    let p = 0;
    const c = (d: Endpoint) => ({ ...d, port: d.port + p++ });
    // cam: five named TLS sessions; three without any name; CoAP; HTTP whose Host has a port; a ping; HTTP whose Host is an address
    for (let i = 0; i < 5; i++) s.tls(T0 + 100 + i * 30, c(cam), API, 'api.camvendor.example');
    for (let i = 0; i < 3; i++) s.tls(T0 + 300 + i * 40, c(cam), MQTT, null);
    for (let i = 0; i < 2; i++) s.packets.push(packet(T0 + 500 + i * 200, udpFrame(c(cam), COAP, Buffer.alloc(24, 0x40))));
    s.packets.push(...tcpSession(T0 + 700, c(cam), FW, Buffer.from('GET /fw.bin HTTP/1.1\r\nHost: fw.camvendor.example:8080\r\n\r\n')));
    s.packets.push(...ping(T0 + 800, cam, PINGED, 1), ...ping(T0 + 801, cam, PINGED, 2));
    s.packets.push(...tcpSession(T0 + 900, c(cam), LITERAL, Buffer.from(`GET /cfg HTTP/1.1\r\nHost: ${LITERAL.ip}:${LITERAL.port}\r\n\r\n`)));
    // plug: a TLS session idle for 400 s (past the 300-s TCP timeout) in the middle; a session under way when the capture starts; NTP by a DNS name
    s.packets.push(...idleSession(T0 + 1000, c(plug), CLOUD, 'mqtt.plugcloud.example', 400));
    s.packets.push(...tcpData(T0 + 0.5, c(plug), OLD, 4));
    s.resolve(T0 + 2000, plug, 'time.plugcloud.example', [NTP.ip]);
    s.packets.push(packet(T0 + 2001, udpFrame(c(plug), NTP, Buffer.alloc(48))));
    // hub: nameless connections into two autonomous systems
    s.tls(T0 + 3000, c(hub), G1, null);
    s.tls(T0 + 3100, c(hub), G1, null);
    s.tls(T0 + 3200, c(hub), G2, null);
    s.packets.push(packet(T0 + 3300, udpFrame(c(hub), TEL, Buffer.alloc(30))));
    file = capture(s);
    plain = suggestThenAnalyze(join(tmp, 'gen-plain'), [file], { suggest: geo, analyze: geo });
    asn = suggestThenAnalyze(join(tmp, 'gen-asn'), [file], { suggest: [...geo, '--geoip', ASN_DB, '--by-asn'], analyze: [...geo, '--geoip', ASN_DB] });
  }, 180_000);

  /** whether the second half of the idle session is a flow without a name (the sensor may carry the first half's name over) */
  const resumedUnnamed = () => unnamed(plain.flows.filter((f) => f.src_ip === plug.ip && f.dst_ip === CLOUD.ip)[1]);

  it('the capture holds what was planted: the idle session is two flows, the first named; nameless flows have no name', () => {
    expect(plain.analyze.code, plain.analyze.stderr).toBe(0);
    const cloud = plain.flows.filter((f) => f.src_ip === plug.ip && f.dst_ip === CLOUD.ip);
    expect(cloud.map((f) => [f.sni, f.src_port, f.dst_port])).toEqual([['mqtt.plugcloud.example', cloud[0].src_port, 8883], [cloud[1].sni, cloud[0].src_port, 8883]]);
    expect(cloud[1].ts - cloud[0].ts).toBeGreaterThan(300);
    const old = plain.flows.filter((f) => f.src_ip === plug.ip && f.dst_ip === OLD.ip);
    expect(old.map((f) => [f.proto, f.dst_port, unnamed(f), f.ts - T0 < 1])).toEqual([['tcp', 443, true, true]]);
    expect(plain.flows.filter((f) => f.src_ip === cam.ip && f.dst_ip === MQTT.ip).map(unnamed)).toEqual([true, true, true]);
    expect(plain.flows.filter((f) => f.src_ip === cam.ip && f.dst_ip === PINGED.ip).map((f) => f.proto)).toEqual(['icmp']);
  });

  it(`analysing the capture with its drafts gives no ${UNDOCUMENTED} alert, by address or by AS`, () => {
    for (const l of [plain, asn]) {
      expect(l.suggest.code, l.suggest.stderr).toBe(0);
      expect(l.analyze.code, l.analyze.stderr).toBe(0);
      expect(undocumented(l).map((a) => a.message)).toEqual([]);
      // the planted devices and the two real ones each have a draft
      for (const mac of [cam.mac, plug.mac, hub.mac, '00:17:88:24:76:ff', '50:c7:bf:00:c7:03']) expect(l.drafts.has(mac), mac).toBe(true);
    }
  });

  it('documents what carried a name by that name, and what did not by address, with the protocol and ports seen', () => {
    expect(entriesOf(plain, cam.mac)).toEqual(new Set([
      shape({ domain: 'api.camvendor.example', proto: 'tcp', ports: [443] }),
      shape({ domain: 'fw.camvendor.example', proto: 'tcp', ports: [8080] }),
      shape({ cidr: MQTT.ip, proto: 'tcp', ports: [8883] }),
      shape({ cidr: COAP.ip, proto: 'udp', ports: [5683] }),
      shape({ cidr: PINGED.ip, proto: 'icmp' }),
      shape({ cidr: LITERAL.ip, proto: 'tcp', ports: [8081] }),
    ]));
    expect(entriesOf(plain, plug.mac)).toEqual(new Set([
      shape({ domain: 'mqtt.plugcloud.example', proto: 'tcp', ports: [8883] }),
      shape({ domain: 'time.plugcloud.example', proto: 'udp', ports: [123] }),
      ...(resumedUnnamed() ? [shape({ cidr: CLOUD.ip, proto: 'tcp', ports: [8883] })] : []),
      shape({ cidr: OLD.ip, proto: 'tcp', ports: [443] }),
    ]));
    expect(entriesOf(plain, hub.mac)).toEqual(new Set([
      shape({ cidr: G1.ip, proto: 'tcp', ports: [443] }),
      shape({ cidr: G2.ip, proto: 'tcp', ports: [443] }),
      shape({ cidr: TEL.ip, proto: 'udp', ports: [9999] }),
    ]));
  });

  it('with --by-asn, documents nameless destinations by the AS the ASN database gives them', () => {
    const as = (cidr: string) => sourceRecord('GeoLite2-ASN-Test', cidr);
    const google = as('1.0.0.0/24');
    const telstra = as('1.128.0.0/11');
    expect(entriesOf(asn, hub.mac)).toEqual(new Set([
      shape({ asn: [google.autonomous_system_number], proto: 'tcp', ports: [443] }),
      shape({ asn: [telstra.autonomous_system_number], proto: 'udp', ports: [9999] }),
    ]));
    const g = asn.drafts.get(hub.mac)!.documented.find((e) => e.asn?.[0] === google.autonomous_system_number)!;
    expect(g.note).toContain('seen: 3 flows on tcp/443');
    expect(g.note).toContain(`2 addresses ${G1.ip}, ${G2.ip}`);
    expect(g.note).toContain(`operator ${google.autonomous_system_organization} (AS${google.autonomous_system_number})`);
    // names stay names
    expect(entriesOf(asn, cam.mac)).toContain(shape({ domain: 'api.camvendor.example', proto: 'tcp', ports: [443] }));
  });

  it("each entry's note says what was seen: flows, protocol and ports, the name or its absence, the operator and the country", () => {
    const note = (l: Learnt, mac: string, pick: (e: DocumentedDestination) => boolean) => l.drafts.get(mac)!.documented.find(pick)!.note!;
    const mqtt = note(plain, cam.mac, (e) => e.cidr === MQTT.ip);
    expect(mqtt).toContain('seen: 3 flows on tcp/8883');
    expect(mqtt).toContain('no name');
    expect(mqtt).toContain(`country ${country('81.2.69.160/27')}`);
    const api = note(plain, cam.mac, (e) => e.domain === 'api.camvendor.example');
    expect(api).toContain('seen: 5 flows on tcp/443');
    expect(api).toContain(`address ${API.ip}`);
    expect(api).toContain(`country ${country('216.160.83.56/29')}`);
    expect(note(plain, cam.mac, (e) => e.cidr === PINGED.ip)).toMatch(/^seen: 2 flows on icmp;|^seen: 1 flow on icmp;/);
    expect(note(plain, cam.mac, (e) => e.cidr === LITERAL.ip)).toContain(`no name that is a domain (carried "${LITERAL.ip}:${LITERAL.port}")`);
    // the second half of the idle session: by name when it kept the name, else by address, known by the name the first half carried
    if (resumedUnnamed()) {
      const cloud = note(plain, plug.mac, (e) => e.cidr === CLOUD.ip);
      expect(cloud).toContain('seen: 1 flow on tcp/8883');
      expect(cloud).toContain('other flows reached it as mqtt.plugcloud.example');
    } else {
      expect(note(plain, plug.mac, (e) => e.domain === 'mqtt.plugcloud.example')).toContain('seen: 2 flows on tcp/8883');
    }
    // "began mid-stream" exactly where the flow records say so
    const midStream = plain.flows.filter((f) => f.src_ip === plug.ip && f.mid_stream).map((f) => `${unnamed(f) ? f.dst_ip : f.server_name} ${f.proto}`);
    for (const e of plain.drafts.get(plug.mac)!.documented) {
      expect(e.note!.includes('1 began mid-stream'), JSON.stringify(e)).toBe(midStream.includes(`${e.cidr ?? e.domain} ${e.proto}`));
    }
  });

  it('without their address entries, exactly the planted nameless destinations are reported again', () => {
    for (const d of [cam, plug]) {
      const again = undocumentedWith([file], without(plain.drafts.get(d.mac)!, (e) => !!e.cidr, join(tmp, `gen-no-cidr-${d.mac.replace(/:/g, '')}`)), d.mac, geo);
      const expected = d === cam ? [`${MQTT.ip} tcp`, `${COAP.ip} udp`, `${PINGED.ip} icmp`, `${LITERAL.ip} tcp`] : [...(resumedUnnamed() ? [`${CLOUD.ip} tcp`] : []), `${OLD.ip} tcp`];
      expect(new Set(again.map((a) => `${a.destination!.ip} ${a.destination!.proto}`)), d.mac).toEqual(new Set(expected));
    }
  });

  it('converges with other flow timeouts too, given to both commands', () => {
    const t = ['--tcp-timeout', '60', '--udp-timeout', '20'];
    const l = suggestThenAnalyze(join(tmp, 'gen-timeouts'), [file], { suggest: [...geo, ...t], analyze: [...geo, ...t] });
    expect(l.analyze.code, l.analyze.stderr).toBe(0);
    expect(undocumented(l).map((a) => a.message)).toEqual([]);
    // more of the real background sessions are cut, and documented
    expect(l.flows.length).toBeGreaterThan(plain.flows.length);
  }, 120_000);
});
