// cleartext-credentials: planted devices log in over Telnet, FTP, HTTP and
// MQTT, to the Internet and to local hosts, amid real background traffic;
// look-alikes do the same without credentials. tshark is the oracle that the
// planted bytes are those protocols; the built CLI writes the alerts, which
// are checked against the plant, and no output file holds a password.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { AlertRecord } from '../../../../contract/types.js';
import type { Endpoint } from '../../../helpers/build.js';
import { phonehome } from '../../../helpers/cli.js';
import { tcpConversation, type Turn } from '../../../helpers/conversation.js';
import { capture, contractAlert, COUNTRY_DB, detectionsFile, tempDir } from '../../../helpers/detection.js';
import { mqttConnect } from '../../../helpers/payloads.js';
import { ROUTER, Scenario } from '../../../helpers/scenarios.js';

const T0 = 1_700_000_000;
const dev = (n: number): Endpoint => ({ mac: `02:c7:00:00:00:0${n}`, ip: `192.168.77.${30 + n}`, port: 41000 + n * 100 });
const bot = dev(1);
const camera = dev(2);
const hub = dev(3);
const meter = dev(4);
const quiet = dev(5);
const at = (d: Endpoint, i: number): Endpoint => ({ ...d, port: d.port + i });
const internet = (ip: string, port: number): Endpoint => ({ mac: ROUTER.mac, ip, port });
const local = (n: number, port: number): Endpoint => ({ mac: `02:c7:00:00:01:0${n}`, ip: `192.168.77.${60 + n}`, port });

// Passwords planted; none may appear in any output file, in clear or base64-encoded.
const PW = { telnet: 'xc3511', telnet2: 'vizxv', ftp: 'S3cret-ftp-pw', basic: 'hunter22-basic', mqtt: 'mqtt-pa55word', mqtt5: 'v5-secret-pw' };

// Internet addresses from MaxMind's test database: 81.2.69.144/28 British, 216.160.83.56/29 American, 89.160.20.112/28 Swedish.
const TELNET_C2 = internet('81.2.69.150', 23);
const DVR = local(1, 2323);
const FTP = internet('216.160.83.57', 21);
const NVR = local(2, 8080);
const CLOUD = internet('216.160.83.58', 80);
const BROKER = internet('89.160.20.115', 1883);
const BROKER_LOCAL = local(3, 1883);

/** The Hue bridge of the background traffic. */
const HUE = '00:17:88:24:76:ff';

const IAC = 255;
const neg = Buffer.from([IAC, 253, 24, IAC, 253, 32, IAC, 251, 1, IAC, 251, 3]);
const mirai = (user: string, pw: string): Turn[] => [['s', Buffer.concat([neg, Buffer.from('\r\nlogin: ')])], ['c', `${user}\r\n`], ['s', 'Password: '], ['c', `${pw}\r\n`], ['s', '\r\n\r\nBusyBox v1.19.4 built-in shell (ash)\r\n# ']];
const get = (host: string, auth: string | null) => `GET /cgi-bin/snapshot.cgi HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n${auth ? `Authorization: ${auth}\r\n` : ''}\r\n`;
const b64 = (s: string) => Buffer.from(s).toString('base64');

let file = '';
let out = '';
let alerts: AlertRecord[] = [];
let alertsText = '';
const ofRule = (mac: string) => alerts.filter((a) => a.rule === 'cleartext-credentials' && a.device.mac === mac);

function analyze(extra: string[], dir = tempDir('out')): string {
  const r = phonehome(['analyze', file, '--no-profiles', '--geoip', COUNTRY_DB, '--out', dir, ...extra]);
  expect(r.code, r.stderr).toBe(0);
  return dir;
}

const readAlerts = (dir: string): AlertRecord[] => readFileSync(join(dir, 'alerts.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as AlertRecord);

// Telnet on 2323 (the port Mirai also tries) is decoded as Telnet too.
const tshark = (filter: string, fields: string[]): string[] =>
  execFileSync('tshark', ['-n', '-d', 'tcp.port==2323,telnet', '-r', file, '-Y', filter, '-T', 'fields', ...fields.flatMap((f) => ['-e', f])], { encoding: 'utf8' }).split('\n').filter(Boolean);

beforeAll(async () => {
  const s = new Scenario(T0, 3600);
  await s.background(['HueBridge', 'WeMoSwitch'], [30, 600]);
  // 1. a recruited bot: a Telnet login to an Internet host, another to a local DVR (character mode, echoed)
  s.packets.push(...tcpConversation(T0 + 100, at(bot, 1), TELNET_C2, mirai('root', PW.telnet)));
  const typed: Turn[] = [['s', Buffer.concat([neg, Buffer.from('dvr login: ')])]];
  for (const ch of 'admin') typed.push(['c', ch], ['s', ch]);
  typed.push(['c', '\r\0'], ['s', '\r\nPassword: ']);
  for (const ch of PW.telnet2) typed.push(['c', ch]);
  typed.push(['c', '\r\0'], ['s', '\r\n$ ']);
  s.packets.push(...tcpConversation(T0 + 200, at(bot, 2), DVR, typed));
  // 2. a camera uploading by FTP, and fetching by anonymous FTP
  const ftp = (user: string, pw: string): Turn[] => [['s', '220 (vsFTPd 3.0.3)\r\n'], ['c', `USER ${user}\r\n`], ['s', '331 Please specify the password.\r\n'], ['c', `PASS ${pw}\r\n`], ['s', '230 Login successful.\r\n'], ['c', 'QUIT\r\n'], ['s', '221 Goodbye.\r\n']];
  s.packets.push(...tcpConversation(T0 + 300, at(camera, 1), FTP, ftp('camera', PW.ftp)));
  s.packets.push(...tcpConversation(T0 + 310, at(camera, 2), { ...FTP, ip: '216.160.83.59' }, ftp('anonymous', 'guest@example.com')));
  // 3. a hub: HTTP Basic to a local NVR (after a 401 on the same connection), HTTP Digest to its cloud
  s.packets.push(...tcpConversation(T0 + 400, at(hub, 1), NVR, [['c', get('192.168.77.62:8080', null)], ['s', 'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm="nvr"\r\nContent-Length: 0\r\n\r\n'], ['c', get('192.168.77.62:8080', `Basic ${b64(`admin:${PW.basic}`)}`)], ['s', 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n']]));
  const digest = 'Digest username="hub-7731", realm="cloud", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/cgi-bin/snapshot.cgi", response="6629fae49393a05397450978507c4ef1", qop=auth, nc=00000001, cnonce="0a4f113b"';
  s.packets.push(...tcpConversation(T0 + 410, at(hub, 2), CLOUD, [['c', get('216.160.83.58', digest)], ['s', 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n']]));
  // 4. a meter: MQTT 3.1.1 with a user name and password to the Internet, MQTT 5 to a local broker
  s.packets.push(...tcpConversation(T0 + 500, at(meter, 1), BROKER, [['c', mqttConnect({ clientId: 'meter-01', user: 'meter', password: PW.mqtt })], ['s', Buffer.from([0x20, 2, 0, 0])]]));
  s.packets.push(...tcpConversation(T0 + 510, at(meter, 2), BROKER_LOCAL, [['c', mqttConnect({ level: 5, clientId: 'meter-01', user: 'meter5', password: PW.mqtt5, will: { topic: 'meter/state', payload: 'gone' } })], ['s', Buffer.from([0x20, 3, 0, 0, 0])]]));
  // 5. look-alikes: HTTP without Authorization, a bearer token, MQTT without credentials, a Telnet shell without a login, FTP without a PASS
  s.packets.push(...tcpConversation(T0 + 600, at(quiet, 1), CLOUD, [['c', get('216.160.83.58', null)], ['s', 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n']]));
  s.packets.push(...tcpConversation(T0 + 610, at(quiet, 2), CLOUD, [['c', get('216.160.83.58', 'Bearer eyJhbGciOiJIUzI1NiJ9.e30.x')], ['s', 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n']]));
  s.packets.push(...tcpConversation(T0 + 620, at(quiet, 3), BROKER, [['c', mqttConnect({ clientId: 'quiet' })], ['s', Buffer.from([0x20, 2, 0, 0])]]));
  s.packets.push(...tcpConversation(T0 + 630, at(quiet, 4), { ...DVR, port: 23 }, [['s', 'debug shell\r\n> '], ['c', 'help\r\n'], ['s', 'no help\r\n> ']]));
  s.packets.push(...tcpConversation(T0 + 640, at(quiet, 5), FTP, [['s', '220 ready\r\n'], ['c', 'USER nobody\r\n'], ['s', '530 Permission denied.\r\n']]));
  file = capture(s);
  out = analyze([]);
  alertsText = readFileSync(join(out, 'alerts.jsonl'), 'utf8');
  alerts = readAlerts(out);
}, 120_000);

describe('the planted traffic, as tshark decodes it', () => {
  it('holds the planted MQTT CONNECTs with and without credentials', () => {
    expect(tshark('mqtt.msgtype == 1', ['ip.src', 'mqtt.conflag.uname', 'mqtt.conflag.passwd', 'mqtt.username', 'mqtt.passwd_len'])).toEqual([
      `${meter.ip}\t1\t1\tmeter\t${PW.mqtt.length}`,
      `${meter.ip}\t1\t1\tmeter5\t${PW.mqtt5.length}`,
      `${quiet.ip}\t0\t0\t\t`,
    ]);
  });

  it('holds FTP USER/PASS, HTTP Authorization and Telnet sessions', () => {
    expect(tshark('ftp.request.command == "PASS"', ['ip.src', 'ftp.request.arg'])).toEqual([`${camera.ip}\t${PW.ftp}`, `${camera.ip}\tguest@example.com`]);
    const planted = tshark('http.authorization && ip.src == 192.168.77.0/24', ['ip.src', 'http.authbasic']);
    expect(planted).toEqual([`${hub.ip}\tadmin:${PW.basic}`, `${hub.ip}\t`, `${quiet.ip}\t`]);
    // The Hue bridge of the background authenticates to its cloud with a scheme of its own (CBAuth): a natural look-alike.
    const hue = tshark(`http.authorization && eth.src == ${HUE}`, ['http.authorization']);
    expect(hue.length).toBeGreaterThan(3);
    for (const h of hue) expect(h).toMatch(/^CBAuth /);
    expect(tshark('telnet.data contains "Password:"', ['ip.dst'])).toEqual([bot.ip, bot.ip]);
    expect(new Set(tshark('telnet', ['tcp.stream'])).size).toBe(3);
  });
});

describe('cleartext-credentials', () => {
  it('fires for each device, server and protocol planted, and for nothing else', () => {
    const got = alerts.filter((a) => a.rule === 'cleartext-credentials').map((a) => [a.device.mac, a.destination?.ip, a.destination?.port, a.evidence.credentials?.map((c) => c.protocol)]);
    expect(got.sort()).toEqual(
      [
        [bot.mac, TELNET_C2.ip, 23, ['telnet']],
        [bot.mac, DVR.ip, 2323, ['telnet']],
        [camera.mac, FTP.ip, 21, ['ftp']],
        [hub.mac, NVR.ip, 8080, ['http-basic']],
        [hub.mac, CLOUD.ip, 80, ['http-digest']],
        [meter.mac, BROKER.ip, 1883, ['mqtt']],
        [meter.mac, BROKER_LOCAL.ip, 1883, ['mqtt']],
      ].sort(),
    );
    expect(ofRule(quiet.mac)).toEqual([]);
    expect(ofRule(HUE)).toEqual([]);
  });

  it('says who logged in with a password of what length, never the password', () => {
    const creds = (mac: string, ip: string) => alerts.find((a) => a.rule === 'cleartext-credentials' && a.device.mac === mac && a.destination?.ip === ip)?.evidence.credentials;
    expect(creds(bot.mac, TELNET_C2.ip)).toEqual([{ protocol: 'telnet', user: 'root', password: true, password_length: PW.telnet.length }]);
    expect(creds(bot.mac, DVR.ip)).toEqual([{ protocol: 'telnet', user: 'admin', password: true, password_length: PW.telnet2.length }]);
    expect(creds(camera.mac, FTP.ip)).toEqual([{ protocol: 'ftp', user: 'camera', password: true, password_length: PW.ftp.length }]);
    expect(creds(hub.mac, NVR.ip)).toEqual([{ protocol: 'http-basic', user: 'admin', password: true, password_length: PW.basic.length }]);
    expect(creds(hub.mac, CLOUD.ip)).toEqual([{ protocol: 'http-digest', user: 'hub-7731', password: true, password_length: null }]);
    expect(creds(meter.mac, BROKER.ip)).toEqual([{ protocol: 'mqtt', user: 'meter', password: true, password_length: PW.mqtt.length }]);
    const a = alerts.find((x) => x.rule === 'cleartext-credentials' && x.destination?.ip === TELNET_C2.ip)!;
    expect(a.message).toBe(`${bot.mac} sent a Telnet login (user "root", a 6-character password) in clear to ${TELNET_C2.ip}:23/tcp`);
    expect(a.destination?.country).toBe('GB');
    expect(a.mitre.map((m) => m.technique)).toEqual(['T1552', 'T1040']);
    expect(alerts.find((x) => x.rule === 'cleartext-credentials' && x.destination?.ip === DVR.ip)?.message).toContain('on the local network');
  });

  it('writes no password to any output file, in clear or base64-encoded', () => {
    const secrets = Object.values(PW).flatMap((p) => [p, b64(p), b64(`admin:${p}`)]);
    const walk = (d: string): string[] => readdirSync(d).flatMap((n) => (statSync(join(d, n)).isDirectory() ? walk(join(d, n)) : [join(d, n)]));
    const files = walk(out);
    expect(files.map((f) => f.slice(out.length + 1)).sort()).toEqual(expect.arrayContaining(['alerts.jsonl', 'flows.jsonl']));
    for (const f of files) {
      const text = readFileSync(f, 'latin1');
      for (const s of secrets) expect(text.includes(s), `${s} in ${f}`).toBe(false);
    }
    // The check can fail: the capture itself holds them.
    expect(readFileSync(file, 'latin1')).toContain(PW.ftp);
  });

  it('writes alerts the contract accepts, its evidence fields declared', () => {
    const mine = alerts.filter((a) => a.rule === 'cleartext-credentials');
    expect(mine.length).toBeGreaterThan(0);
    for (const a of mine) expect(contractAlert(a), JSON.stringify(contractAlert.errors)).toBe(true);
  });

  it('gives the same alerts with --workers 2', () => {
    expect(readFileSync(join(analyze(['--workers', '2']), 'alerts.jsonl'), 'utf8')).toBe(alertsText);
  });

  it('leaves user names out when show_user is false', () => {
    const f = detectionsFile((doc) => (doc.rules['cleartext-credentials'].show_user = false));
    const got = readAlerts(analyze(['--detections', f])).filter((a) => a.rule === 'cleartext-credentials');
    expect(got).toHaveLength(7);
    for (const a of got) for (const c of a.evidence.credentials ?? []) expect(c.user).toBeNull();
    expect(got.some((a) => a.message.includes('"root"'))).toBe(false);
  });
});
