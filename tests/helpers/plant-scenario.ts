// One capture with every anomaly and backdoor indicator the detection rules
// look for, each planted on its own device, beside benign look-alikes (a
// camera uploading 5 MB every hour, a device with many NTP servers, a CDN
// with many names, a phone app resolving one-off names, ...) and one real
// capture of the IoT Sentinel corpus shifted onto the planted timeline.
// Everything random (addresses, MACs, sizes, counts, times, which variant of
// a behaviour) comes from one seed, so a failing seed is the same capture
// again. The plan returned is the ground truth: what was planted, never what
// the sensor made of it.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dnsResponse, packet, TCP_FLAGS, tcpFrame, tcpSession, udpFrame, type Endpoint } from './build.js';
import { tcpConversation, type Turn } from './conversation.js';
import { corpusDevices, FIXTURES } from './corpus.js';
import { dgaBurst, dnscat2Tunnel, iodineTunnel, lookups, NOERROR, NXDOMAIN, ntpPoolNames, type Rand } from './dns.js';
import { addPortMapping, mqttConnect, natPmpRequest, soapRequest } from './payloads.js';
import { readWithPcapParser, writePcap, type TestPacket } from './pcap.js';
import { clientHello, rng, ROUTER } from './scenarios.js';

/** The environment variable that replaces the test's seeds with one (to repeat a failure). */
export const SEED_ENV = 'PHONEHOME_PLANT_SEED';

export const BEHAVIOURS = ['new-behaviour', 'abnormal-upload', 'dns-tunnel', 'dga', 'scan', 'inbound-exposure', 'port-mapping', 'cleartext-credentials', 'threat-intel', 'long-connection'] as const;
export type Behaviour = (typeof BEHAVIOURS)[number];

/** A number the alert must hold within half a unit (durations measured from packet times). */
export interface Approx {
  $approx: number;
}

/** What one alert of a planted behaviour must hold (a deep subset of the alert record). */
export interface ExpectedAlert {
  destination?: Record<string, unknown>;
  evidence: Record<string, unknown>;
}

export interface Plant {
  rule: Behaviour;
  dev: Endpoint;
  /** the variant planted, in words */
  what: string;
  /** the alerts the rule must raise for the device, one each */
  alerts: ExpectedAlert[];
  /** names planted: any name the alerts list must be one of them */
  names?: string[];
}

export interface LookAlike {
  name: string;
  dev: Endpoint;
  /** the rules it resembles (none of the new rules may fire on it) */
  resembles: Behaviour[];
}

export interface PlantedCapture {
  seed: number;
  file: string;
  /** the threat-intel feed (plain list) to give with --intel */
  feed: string;
  feedText: string;
  /** the corpus (or bundled) capture used as background, and why a bundled one when so */
  background: string;
  backgroundNote: string | null;
  t0: number;
  plants: Plant[];
  lookAlikes: LookAlike[];
}

const H = 3600;
// midnight UTC: capture days and upload windows are whole days and hours of the timeline
const BASE = 1_700_006_400;
const { SYN, ACK, RST, PSH, FIN } = TCP_FLAGS;
/** Where the incidents happen: after the first device's day of learning. */
const INCIDENTS = 25 * H;

const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
const between = (r: Rand, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
const inet = (ip: string, port: number): Endpoint => ({ mac: ROUTER.mac, ip, port });
const ipAdd = (ip: string, n: number) => ip.split('.').map((x, i) => (i === 3 ? Number(x) + n : Number(x))).join('.');

/**
 * Networks of MaxMind's test databases (country, AS): none in a watched country,
 * so geo-callback keeps out of the question. Hosts are picked inside each.
 */
const GEO_NETS = {
  SE: { base: '89.160.20.', lo: 113, hi: 126, asn: 29518 },
  US: { base: '216.160.83.', lo: 57, hi: 62, asn: 209 },
  GB: { base: '81.2.69.', lo: 145, hi: 158, asn: 20712 },
  BT: { base: '67.43.156.', lo: 1, hi: 60, asn: 35908 },
} as const;
const geoHost = (r: Rand, c: keyof typeof GEO_NETS) => `${GEO_NETS[c].base}${between(r, GEO_NETS[c].lo, GEO_NETS[c].hi)}`;

/** A public address outside every test network and watched country (its country is unknown to the test databases). */
function publicIp(r: Rand): string {
  return `${pick(r, [5, 31, 37, 46, 62, 77, 78, 80, 85, 91])}.${between(r, 0, 255)}.${between(r, 0, 255)}.${between(r, 1, 254)}`;
}

const WORDS = ['garden', 'weather', 'photo', 'sleep', 'recipe', 'music', 'sport', 'news', 'budget', 'travel', 'health', 'pocket', 'smart', 'home', 'cloud', 'light', 'story', 'market', 'family', 'simple', 'happy', 'daily', 'green', 'river', 'planet', 'coffee', 'window', 'little', 'summer', 'rocket'];
const PREFIXES = ['api', 'cdn', 'img', 'push', 'sync', 'auth', 'login', 'stats', 'media', 'config', 'assets', 'tiles', 'feed', 'upload', 'www'];
/** A registered domain that reads as words, like an app vendor's. */
const wordDomain = (r: Rand) => `${pick(r, WORDS)}${pick(r, ['', '-'])}${pick(r, WORDS)}.${pick(r, ['com', 'net', 'org', 'io', 'app'])}`;

/** Local devices: distinct addresses and MACs per seed. */
function deviceAllocator(r: Rand): () => Endpoint {
  const hosts = new Set<number>();
  const macs = new Set<string>();
  return () => {
    let h = between(r, 20, 250);
    while (hosts.has(h)) h = between(r, 20, 250);
    hosts.add(h);
    let mac = '';
    do mac = ['02', ...Array.from({ length: 5 }, () => between(r, 0, 255).toString(16).padStart(2, '0'))].join(':');
    while (macs.has(mac));
    macs.add(mac);
    return { mac, ip: `192.168.77.${h}`, port: between(r, 20000, 50000) };
  };
}

/** The state a plan is built with: the seed's numbers, the packets, the timeline. */
class Planter {
  readonly packets: TestPacket[] = [];
  readonly plants: Plant[] = [];
  readonly lookAlikes: LookAlike[] = [];
  readonly device: () => Endpoint;
  private ports = 0;

  constructor(readonly r: Rand, readonly t0: number) {
    this.device = deviceAllocator(r);
  }

  /** A new source port of the device for each connection. */
  from(d: Endpoint): Endpoint {
    return { ...d, port: 20000 + ((d.port + this.ports++ * 7) % 40000) };
  }

  add(p: TestPacket[]): void {
    this.packets.push(...p);
  }

  /** When an incident happens: somewhere in the incident hours. */
  incident(): number {
    return this.t0 + INCIDENTS + Math.floor(this.r() * 1.5 * H);
  }

  tls(t: number, d: Endpoint, server: Endpoint, sni: string | null): void {
    this.add(tcpSession(t, this.from(d), server, sni ? clientHello(sni) : Buffer.alloc(200, 1), Buffer.alloc(300, 2)));
  }

  /** One TCP connection uploading about `bytes` in 64 KB segments, recorded as their headers (as with segmentation offload). */
  upload(t: number, d: Endpoint, server: Endpoint, bytes: number): number {
    const c = this.from(d);
    const [syn, synAck, ack, , , fin, finAck, last] = tcpSession(t, c, server);
    const data: TestPacket[] = [];
    let sent = 0;
    for (let i = 0; i * 64_000 < bytes; i++) {
      const f = tcpFrame(c, server, ACK | PSH, Buffer.alloc(64_000), 1 + i * 64_000);
      data.push({ ...packet(t + 0.03 + i * 0.001, f.subarray(0, 54)), wirelen: f.length });
      sent += f.length;
    }
    const end = t + 0.05 + data.length * 0.001;
    this.add([syn, synAck, ack, ...data, packet(end, fin.data), packet(end + 0.01, finAck.data), packet(end + 0.02, last.data)]);
    return sent;
  }

  /** A TCP connection open from t to t + length, a small segment each way at each offset in `at`. */
  longTcp(t: number, c: Endpoint, s: Endpoint, at: number[], length: number): void {
    this.add([packet(t, tcpFrame(c, s, SYN)), packet(t + 0.01, tcpFrame(s, c, SYN | ACK)), packet(t + 0.02, tcpFrame(c, s, ACK))]);
    for (const x of at) this.add([packet(t + x, tcpFrame(c, s, PSH | ACK, Buffer.alloc(40, 1))), packet(t + x + 0.05, tcpFrame(s, c, PSH | ACK, Buffer.alloc(60, 2)))]);
    this.add([packet(t + length, tcpFrame(c, s, FIN | ACK)), packet(t + length + 0.01, tcpFrame(s, c, FIN | ACK)), packet(t + length + 0.02, tcpFrame(c, s, ACK))]);
  }

  plant(p: Plant): void {
    this.plants.push(p);
  }

  lookAlike(name: string, dev: Endpoint, resembles: Behaviour[]): void {
    this.lookAlikes.push({ name, dev, resembles });
  }
}

// ---- the ten behaviours ----

/** A day of the same TLS traffic to one Swedish server, then a new port or a new country. */
function newBehaviour(p: Planter): void {
  const { r, t0 } = p;
  const dev = p.device();
  const usual = inet(geoHost(r, 'SE'), 443);
  // gaps under an hour: the whole day counts as watched (gaps are counted up to an hour)
  for (let t = t0 + between(r, 0, 600); t < t0 + INCIDENTS + 2 * H; t += between(r, 1500, 3300)) p.tls(t, dev, usual, 'hub.vendor.example');
  const t = p.incident();
  if (r() < 0.5) {
    const port = pick(r, [2323, 5222, 6667, 7547, 8443, 9000]);
    p.tls(t, dev, { ...usual, port }, null);
    p.plant({ rule: 'new-behaviour', dev, what: `a port never used (tcp/${port})`, alerts: [{ destination: { ip: usual.ip, port, proto: 'tcp' }, evidence: { novelty: { kind: 'port', values: [`tcp/${port}`], baseline: ['tcp/443'] } } }] });
  } else {
    const bt = inet(geoHost(r, 'BT'), 443);
    p.tls(t, dev, bt, null);
    const novelty = (kind: string, v: string, held: string) => ({ destination: { ip: bt.ip }, evidence: { novelty: { kind, values: [v], baseline: [held] } } });
    p.plant({ rule: 'new-behaviour', dev, what: 'a country and AS never used (BT)', alerts: [novelty('country', 'BT', 'SE'), novelty('asn', 'AS35908', 'AS29518')] });
  }
}

/** Small requests every 10 minutes for hours, then one hour with 12-40 MB. */
function abnormalUpload(p: Planter): void {
  const { r, t0 } = p;
  const dev = p.device();
  const cloud = inet(geoHost(r, 'US'), 443);
  const start = t0 + INCIDENTS - between(r, 8, 14) * H;
  for (let t = start; t < t0 + INCIDENTS + 3 * H; t += 600 + r() * 30) p.add(tcpSession(t, p.from(dev), cloud, Buffer.alloc(700 + between(r, 0, 400), 1)));
  const t = t0 + INCIDENTS + H + between(r, 60, 3000);
  const bytes = p.upload(t, dev, cloud, between(r, 12, 40) * 1_000_000);
  const w = Math.floor(t / H) * H;
  p.plant({ rule: 'abnormal-upload', dev, what: `${(bytes / 1e6).toFixed(1)} MB in one hour`, alerts: [{ evidence: { upload: { window_start: w, window_end: w + H, floor: 10_000_000 } } }] });
}

/** An iodine-like (NULL records) or dnscat2-like (TXT, hex) tunnel through the local resolver. */
function dnsTunnel(p: Planter): void {
  const { r } = p;
  const dev = p.device();
  const domain = wordDomain(r);
  const t = p.incident();
  if (r() < 0.5) {
    const count = between(r, 110, 170);
    p.add(iodineTunnel(r, t, p.from(dev), ROUTER, `${pick(r, ['t', 'x', 'ns1'])}.${domain}`, count, 0.5 + r()));
    p.plant({ rule: 'dns-tunnel', dev, what: `iodine-like, ${count} NULL questions under ${domain}`, alerts: [{ evidence: { domain } }] });
  } else {
    const count = between(r, 110, 160);
    p.add(dnscat2Tunnel(r, t, dev, ROUTER, domain, count, 1 + r() * 2));
    p.plant({ rule: 'dns-tunnel', dev, what: `dnscat2-like, ${count} TXT questions under ${domain}`, alerts: [{ evidence: { domain } }] });
  }
}

/** Made-up random-letter domains answered NXDOMAIN, a burst within minutes. */
function dga(p: Planter): void {
  const { r } = p;
  const dev = p.device();
  const burst = dgaBurst(r, p.incident(), dev, ROUTER, between(r, 20, 40), 2 + r() * 6);
  p.add(burst.packets);
  p.plant({ rule: 'dga', dev, what: `${burst.names.length} random domains answered NXDOMAIN`, alerts: [{ evidence: {} }], names: burst.names });
}

/** A Mirai-style sweep of Internet hosts on a Telnet port, most not answering. */
function scan(p: Planter): void {
  const { r } = p;
  const dev = p.device();
  const port = pick(r, [23, 2323]);
  const n = between(r, 30, 60);
  const t = p.incident();
  const hosts = new Set<string>();
  for (let i = 0; i < n; i++) {
    const to = inet(publicIp(r), port);
    hosts.add(to.ip);
    const c = p.from(dev);
    const how = r();
    if (how < 0.85) p.add([packet(t + i * (120 / n), tcpFrame(c, to, SYN)), ...(how < 0.6 ? [] : [packet(t + i * (120 / n) + 0.02, tcpFrame(to, c, RST | ACK))])]);
    else p.add(tcpSession(t + i * (120 / n), c, to));
  }
  p.plant({ rule: 'scan', dev, what: `${hosts.size} hosts on tcp/${port} in 2 minutes`, alerts: [{ destination: { port, proto: 'tcp' }, evidence: { scan: { kind: 'hosts', port, proto: 'tcp', targets: hosts.size } } }] });
}

/** Internet hosts open sessions to a service of the device, which answers. */
function inboundExposure(p: Planter): void {
  const { r } = p;
  const dev = p.device();
  const port = pick(r, [22, 80, 554, 5555, 7547, 8080]);
  const remotes = [geoHost(r, 'GB'), geoHost(r, 'US')].slice(0, between(r, 1, 2));
  const service = { ...dev, port };
  const t = p.incident();
  const n = between(r, 1, 4);
  for (let i = 0; i < n; i++) p.add(tcpSession(t + i * (30 + r() * 200), inet(remotes[i % remotes.length], between(r, 32768, 60999)), service, Buffer.from('\x00\x01probe'), Buffer.from('\x00\x02banner v1')));
  const count = new Set(remotes.slice(0, n)).size;
  p.plant({ rule: 'inbound-exposure', dev, what: `${n} sessions accepted on tcp/${port}`, alerts: [{ evidence: { inbound: { local_port: port, proto: 'tcp', remote_count: count } } }] });
}

/** The device asks the gateway to forward a port to it: UPnP IGD AddPortMapping or NAT-PMP. */
function portMapping(p: Planter): void {
  const { r } = p;
  const dev = p.device();
  const external = between(r, 1024, 48000);
  const internal = pick(r, [80, 554, 8080, 8000, external]);
  const t = p.incident();
  if (r() < 0.5) {
    const protocol = pick(r, ['TCP', 'UDP'] as const);
    const soap = addPortMapping({ host: ROUTER.ip, controlPort: 5000, externalPort: external, protocol, internalPort: internal, internalClient: dev.ip, lease: pick(r, [0, 3600, 86400]) });
    p.add(tcpConversation(t, p.from(dev), { ...ROUTER, port: 5000 }, [['c', soap], ['s', 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n']]));
    p.plant({ rule: 'port-mapping', dev, what: `UPnP ${protocol} ${external} -> ${internal}`, alerts: [{ evidence: { port_mappings: [{ method: 'upnp', protocol: protocol.toLowerCase(), external_port: external, internal_port: internal, internal_client: dev.ip }] } }] });
  } else {
    const lifetime = pick(r, [3600, 7200]);
    p.add([packet(t, udpFrame(p.from(dev), { ...ROUTER, port: 5351 }, natPmpRequest('tcp', internal, external, lifetime)))]);
    p.plant({ rule: 'port-mapping', dev, what: `NAT-PMP tcp ${external} -> ${internal}`, alerts: [{ evidence: { port_mappings: [{ method: 'nat-pmp', protocol: 'tcp', external_port: external, internal_port: internal, lease_s: lifetime }] } }] });
  }
}

const b64 = (s: string) => Buffer.from(s).toString('base64');
const IAC = 255;

/** A login sent in clear to an Internet host: Telnet, FTP, HTTP Basic or MQTT. */
function cleartext(p: Planter): void {
  const { r } = p;
  const dev = p.device();
  const user = pick(r, ['admin', 'root', 'camera', 'user1']);
  const pw = `pw-${Math.floor(r() * 1e9).toString(36)}`;
  const ip = geoHost(r, pick(r, ['GB', 'SE', 'US'] as const));
  const variants: [string, number, Turn[]][] = [
    ['telnet', 23, [['s', Buffer.concat([Buffer.from([IAC, 253, 24, IAC, 251, 1]), Buffer.from('\r\nlogin: ')])], ['c', `${user}\r\n`], ['s', 'Password: '], ['c', `${pw}\r\n`], ['s', '\r\n# ']]],
    ['ftp', 21, [['s', '220 ready\r\n'], ['c', `USER ${user}\r\n`], ['s', '331 Password required\r\n'], ['c', `PASS ${pw}\r\n`], ['s', '230 Logged in\r\n']]],
    ['http-basic', 80, [['c', `GET /snapshot.jpg HTTP/1.1\r\nHost: ${ip}\r\nAuthorization: Basic ${b64(`${user}:${pw}`)}\r\n\r\n`], ['s', 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n']]],
    ['mqtt', 1883, [['c', mqttConnect({ clientId: `dev-${between(r, 1, 999)}`, user, password: pw })], ['s', Buffer.from([0x20, 2, 0, 0])]]],
  ];
  const [protocol, port, turns] = pick(r, variants);
  p.add(tcpConversation(p.incident(), p.from(dev), inet(ip, port), turns));
  p.plant({ rule: 'cleartext-credentials', dev, what: `${protocol} login as ${user} to ${ip}:${port}`, alerts: [{ destination: { ip, port }, evidence: { credentials: [{ protocol, user, password: true }] } }] });
}

/** A connection to an address or a name the feed lists; the look-alike reaches the next address or a longer name. */
function threatIntel(p: Planter): string {
  const { r } = p;
  const dev = p.device();
  const neighbour = p.device();
  const t = p.incident();
  p.lookAlike('a neighbour of a listed indicator', neighbour, ['threat-intel']);
  if (r() < 0.5) {
    // 50.114.0.0/22 (US in the test databases) is used by no other planted device
    const ip = `50.114.${between(r, 0, 3)}.${between(r, 1, 253)}`;
    p.tls(t, dev, inet(ip, 443), null);
    p.tls(t + 30, neighbour, inet(ipAdd(ip, 1), 443), null);
    p.plant({ rule: 'threat-intel', dev, what: `an address listed (${ip})`, alerts: [{ destination: { ip }, evidence: { intel: { indicator: ip, type: 'addr', where: 'dst_ip' } } }] });
    return ip;
  }
  // .live: a top-level domain no other planted device's names use
  const domain = wordDomain(r).replace(/\.[a-z]+$/, '.live');
  const name = `${pick(r, PREFIXES)}.${domain}`;
  p.tls(t, dev, inet(publicIp(r), 443), name);
  p.tls(t + 30, neighbour, inet(publicIp(r), 443), `${pick(r, PREFIXES)}.x${domain}`);
  p.plant({ rule: 'threat-intel', dev, what: `a name under a listed domain (${name})`, alerts: [{ evidence: { intel: { indicator: domain, type: 'domain', where: 'sni' } } }] });
  return domain;
}

/** One connection kept open 65-110 minutes with a keep-alive every minute; the look-alike closes before the hour. */
function longConnection(p: Planter): void {
  const { r } = p;
  const dev = p.device();
  const server = inet(geoHost(r, 'SE'), pick(r, [443, 8883, 5222]));
  const length = between(r, 65 * 60, 110 * 60);
  const t = p.incident();
  const beats = (len: number) => Array.from({ length: Math.floor(len / 60) - 1 }, (_, i) => (i + 1) * 60 - r() * 5);
  p.longTcp(t, p.from(dev), server, beats(length), length);
  p.plant({ rule: 'long-connection', dev, what: `${Math.round(length / 60)} minutes to ${server.ip}:${server.port}`, alerts: [{ destination: { ip: server.ip, port: server.port }, evidence: { connection: { duration_s: { $approx: length } } } }] });
  const short = p.device();
  const shortLength = between(r, 35 * 60, 55 * 60);
  p.longTcp(t + 60, p.from(short), { ...server, ip: geoHost(r, 'SE') }, beats(shortLength), shortLength);
  p.lookAlike(`a ${Math.round(shortLength / 60)}-minute connection`, short, ['long-connection']);
}

// ---- benign look-alikes ----

/** A camera uploading about 5 MB to its cloud every hour, for more than a day (learnt, then judged, by new-behaviour too). */
function camera(p: Planter): void {
  const { r, t0 } = p;
  const dev = p.device();
  const cloud = inet(geoHost(r, 'GB'), 443);
  for (let h = 0; h < 28; h++) p.upload(t0 + h * H + 600 + r() * 600, dev, cloud, 5_000_000 * (0.98 + r() * 0.04));
  p.lookAlike('a camera uploading 5 MB every hour', dev, ['abnormal-upload', 'new-behaviour']);
}

/**
 * A device keeping time with many NTP pool servers over three hours: it
 * resolves pool names (one to four addresses each) and polls what they
 * gave, and a few servers configured by address (one at a time).
 */
function ntp(p: Planter): void {
  const { r } = p;
  const dev = p.device();
  const pool = ntpPoolNames();
  const servers = new Set<string>();
  const poll = (t: number, ip: string) => {
    const s = inet(ip, 123);
    const me = { ...dev, port: 123 };
    p.add([packet(t, udpFrame(me, s, Buffer.alloc(48, 0x23))), packet(t + 0.04, udpFrame(s, me, Buffer.alloc(48, 0x24)))]);
    servers.add(ip);
  };
  let id = 1;
  for (let t = p.t0 + INCIDENTS - H; servers.size < 30 || t < p.t0 + INCIDENTS + 2 * H; t += between(r, 150, 330)) {
    const addrs = Array.from({ length: between(r, 1, 4) }, () => publicIp(r));
    p.add([packet(t, udpFrame(ROUTER, { ...dev, port: 40000 + (id % 20000) }, dnsResponse(id++, pick(r, pool), addrs)))]);
    addrs.forEach((ip, i) => poll(t + 0.2 + i, ip));
    if (r() < 0.3) poll(t + 30, publicIp(r));
  }
  p.lookAlike(`${servers.size} NTP servers`, dev, ['scan', 'dns-tunnel']);
}

const CDNS: [string, (r: Rand) => string][] = [
  ['akamaiedge.net', (r) => `e${between(r, 1000, 99999)}.${pick(r, ['a', 'b', 'dsca', 'g'])}.akamaiedge.net`],
  ['cloudfront.net', (r) => `d${Array.from({ length: 13 }, () => pick(r, [...'abcdefghijklmnopqrstuvwxyz0123456789'])).join('')}.cloudfront.net`],
  ['fbcdn.net', (r) => `scontent-${pick(r, ['ams', 'fra', 'lhr', 'cdg', 'arn', 'waw', 'mad', 'mxp'])}${between(r, 1, 9)}-${between(r, 1, 9)}.xx.fbcdn.net`],
];

/** A device loading content from one CDN: 150-220 distinct names of its domain, ordinary A questions answered NOERROR. */
function cdn(p: Planter): void {
  const { r } = p;
  const dev = p.device();
  const [domain, name] = pick(r, CDNS);
  const names = new Set<string>();
  const want = between(r, 150, 220);
  while (names.size < want) names.add(name(r));
  p.add(lookups(p.incident(), dev, ROUTER, [...names], NOERROR, 1 + r() * 3));
  p.lookAlike(`${names.size} names of ${domain}`, dev, ['dns-tunnel', 'dga']);
}

/**
 * A phone app resolving one-off names of many vendors' domains, all read as
 * words: most answered, some missing (NXDOMAIN), as many as 14 in ten minutes.
 */
function phoneApp(p: Planter): void {
  const { r } = p;
  const dev = p.device();
  const seen = new Set<string>();
  const fresh = () => {
    let d = wordDomain(r);
    while (seen.has(d)) d = wordDomain(r);
    seen.add(d);
    return `${pick(r, PREFIXES)}.${d}`;
  };
  const t = p.incident();
  const ok = Array.from({ length: between(r, 60, 100) }, fresh);
  const missing = Array.from({ length: between(r, 5, 14) }, fresh);
  p.add(lookups(t, dev, ROUTER, ok, NOERROR, 3 + r() * 10));
  p.add(lookups(t + 20, dev, ROUTER, missing, NXDOMAIN, 20 + r() * 20));
  p.lookAlike(`a phone app: ${ok.length} names answered, ${missing.length} missing`, dev, ['dga', 'dns-tunnel']);
}

/** Internet hosts knock on a device that accepts nothing: refused (RST) or unanswered SYNs. */
function refuser(p: Planter): void {
  const { r } = p;
  const dev = p.device();
  const t = p.incident();
  for (let i = 0; i < between(r, 5, 15); i++) {
    const remote = inet(pick(r, [geoHost(r, 'GB'), geoHost(r, 'US'), publicIp(r)]), between(r, 32768, 60999));
    const local = { ...dev, port: pick(r, [22, 23, 80, 443, 2323, 7547, 8080]) };
    p.add([packet(t + i * 20, tcpFrame(remote, local, SYN)), ...(r() < 0.6 ? [packet(t + i * 20 + 0.01, tcpFrame(local, remote, RST | ACK))] : [])]);
  }
  p.lookAlike('a device refusing SYNs from the Internet', dev, ['inbound-exposure']);
}

/** HTTP without Authorization, a bearer token, and MQTT without a user name or password. */
function plainTalker(p: Planter): void {
  const { r } = p;
  const dev = p.device();
  const t = p.incident();
  const ip = geoHost(r, 'US');
  const ok: Turn = ['s', 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'];
  p.add(tcpConversation(t, p.from(dev), inet(ip, 80), [['c', `GET /firmware/latest.json HTTP/1.1\r\nHost: ${ip}\r\nUser-Agent: cam/1.0\r\n\r\n`], ok]));
  p.add(tcpConversation(t + 5, p.from(dev), inet(ip, 80), [['c', `GET /v1/state HTTP/1.1\r\nHost: ${ip}\r\nAuthorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.x\r\n\r\n`], ok]));
  p.add(tcpConversation(t + 10, p.from(dev), inet(geoHost(r, 'SE'), 1883), [['c', mqttConnect({ clientId: 'plain' })], ['s', Buffer.from([0x20, 2, 0, 0])]]));
  p.lookAlike('HTTP without credentials and MQTT without a login', dev, ['cleartext-credentials']);
}

/** A device asking the gateway its external address over UPnP (no mapping). */
function igdQuery(p: Planter): void {
  const dev = p.device();
  const soap = soapRequest(ROUTER.ip, 5000, '/ctl/IPConn', 'GetExternalIPAddress', []);
  p.add(tcpConversation(p.incident(), p.from(dev), { ...ROUTER, port: 5000 }, [['c', soap], ['s', 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n']]));
  p.lookAlike('a UPnP GetExternalIPAddress', dev, ['port-mapping']);
}

// ---- background and the whole capture ----

const root = mkdtempSync(join(tmpdir(), 'phonehome-planted-'));

/** One real capture picked by the seed: the corpus when it is there, else a bundled one (saying why). */
export function backgroundFor(seed: number): { file: string; note: string | null } {
  const files = corpusDevices().flatMap((d) => d.files);
  const r = rng(seed * 2_654_435 + 1);
  if (files.length > 0) return { file: pick(r, files), note: null };
  const bundled = readdirSync(FIXTURES).filter((f) => f.endsWith('.pcap')).sort().map((f) => join(FIXTURES, f));
  return { file: pick(r, bundled), note: `the IoT Sentinel corpus is not there (${existsSync(FIXTURES) ? 'set PHONEHOME_CORPUS to its path' : 'no fixtures either'}): a bundled capture is the background` };
}

/** The background capture, shifted to start at `at`. */
async function shifted(file: string, at: number): Promise<TestPacket[]> {
  const { linktype, packets } = await readWithPcapParser(file);
  if (linktype !== 1) throw new Error(`${file}: link type ${linktype}, not Ethernet`);
  const first = packets[0].tsSec + packets[0].tsUsec / 1e6;
  return packets.map((p) => ({ ...packet(at + (p.tsSec + p.tsUsec / 1e6 - first), p.data), wirelen: p.wirelen }));
}

/** Every behaviour and look-alike planted for `seed`, the background merged in time order, written to a pcap with its feed. */
export async function plantedCapture(seed: number): Promise<PlantedCapture> {
  const r = rng(seed * 48_271 + 11);
  const t0 = BASE + between(r, 0, 60) * 86_400;
  const p = new Planter(r, t0);
  newBehaviour(p);
  abnormalUpload(p);
  dnsTunnel(p);
  dga(p);
  scan(p);
  inboundExposure(p);
  portMapping(p);
  cleartext(p);
  const indicator = threatIntel(p);
  longConnection(p);
  camera(p);
  ntp(p);
  cdn(p);
  phoneApp(p);
  refuser(p);
  plainTalker(p);
  igdQuery(p);
  const bg = backgroundFor(seed);
  p.add(await shifted(bg.file, t0 + INCIDENTS + Math.floor(r() * H)));
  const dir = join(root, `seed-${seed}`);
  const file = join(dir, 'planted.pcap');
  const feed = join(dir, 'feed.txt');
  const feedText = `# planted indicators (seed ${seed})\n${indicator}\n`;
  mkdirSync(dir, { recursive: true });
  writeFileSync(feed, feedText);
  writePcap(file, 1, p.packets.sort((a, b) => a.tsSec - b.tsSec || a.tsUsec - b.tsUsec));
  return { seed, file, feed, feedText, background: bg.file, backgroundNote: bg.note, t0, plants: p.plants, lookAlikes: p.lookAlikes };
}
