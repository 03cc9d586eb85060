// DNS traffic with known ground truth: questions and answers of any record
// type and RCODE (RFC 1035 wire format, real UDP frames), and generators of
// what the DNS rules look for (an iodine-like and a dnscat2-like tunnel, a
// domain generation algorithm's burst) and of their benign look-alikes (a
// CDN or cloud with many names, the NTP pool, one-off names of an app, a
// device retrying one missing name).
import { packet, udpFrame, type Endpoint } from './build.js';
import type { TestPacket } from './pcap.js';
import { ROUTER, rng, Scenario } from './scenarios.js';

export const QTYPE = { A: 1, NULL: 10, TXT: 16, AAAA: 28, PRIVATE: 65399 } as const;
export const NOERROR = 0;
export const NXDOMAIN = 3;

/** A name in wire format: length-prefixed labels, then the root. */
export function wireName(name: string): Buffer {
  const labels = name.split('.').filter((l) => l.length > 0);
  for (const l of labels) if (l.length > 63) throw new Error(`label of ${l.length} bytes in ${name}`);
  return Buffer.concat([...labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'latin1')])), Buffer.from([0])]);
}

function header(id: number, flags: number, answers: number): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(id, 0);
  h.writeUInt16BE(flags, 2);
  h.writeUInt16BE(1, 4);
  h.writeUInt16BE(answers, 6);
  return h;
}

const question = (name: string, qtype: number) => {
  const tc = Buffer.alloc(4);
  tc.writeUInt16BE(qtype, 0);
  tc.writeUInt16BE(1, 2);
  return Buffer.concat([wireName(name), tc]);
};

/** A recursive query (RD set) for one name. */
export function dnsQuery(id: number, name: string, qtype: number): Buffer {
  return Buffer.concat([header(id, 0x0100, 0), question(name, qtype)]);
}

/** A resolver's response: QR, RD, RA, the RCODE, and one answer of the question's type per rdata. */
export function dnsReply(id: number, name: string, qtype: number, rcode: number, rdatas: Buffer[] = []): Buffer {
  const answers = rdatas.map((rd) => {
    const rr = Buffer.alloc(12);
    rr.writeUInt16BE(0xc00c, 0);
    rr.writeUInt16BE(qtype, 2);
    rr.writeUInt16BE(1, 4);
    rr.writeUInt32BE(60, 6);
    rr.writeUInt16BE(rd.length, 10);
    return Buffer.concat([rr, rd]);
  });
  return Buffer.concat([header(id, 0x8180 | rcode, rdatas.length), question(name, qtype), ...answers]);
}

/** The rdata a record type's answer carries: an address for A, a character-string for TXT, raw bytes otherwise. */
export function rdataFor(qtype: number, bytes: Buffer): Buffer {
  if (qtype === QTYPE.A) return Buffer.from([bytes[0] ?? 1, bytes[1] ?? 2, bytes[2] ?? 3, bytes[3] ?? 4]);
  if (qtype === QTYPE.TXT) return Buffer.concat([Buffer.from([Math.min(255, bytes.length)]), bytes.subarray(0, 255)]);
  return bytes;
}

/** One question from `client` to `server` (port 53) and, unless `rcode` is null, its answer 20 ms later. */
export function exchange(t: number, client: Endpoint, server: Endpoint, id: number, name: string, qtype: number, rcode: number | null, rdatas: Buffer[] = []): TestPacket[] {
  const srv = { ...server, port: 53 };
  const out = [packet(t, udpFrame(client, srv, dnsQuery(id, name, qtype)))];
  if (rcode !== null) out.push(packet(t + 0.02, udpFrame(srv, client, dnsReply(id, name, qtype, rcode, rdatas))));
  return out;
}

export type Rand = () => number;

const pick = <T>(r: Rand, list: readonly T[]): T => list[Math.floor(r() * list.length)];
const randomString = (r: Rand, n: number, alphabet: string) => Array.from({ length: n }, () => pick(r, [...alphabet])).join('');
const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';
const HEX = '0123456789abcdef';

/** Splits data into labels of at most 63 characters, as tunnels do. */
const labels = (s: string) => s.match(/.{1,63}/g)!.join('.');

/**
 * iodine-like: one socket (one flow) asking NULL records for names whose
 * labels are base32 data (a type letter, a sequence number, up to ~200
 * characters), answered with NULL data. `count` questions, `gap` s apart.
 */
export function iodineTunnel(r: Rand, t0: number, client: Endpoint, resolver: Endpoint, domain: string, count: number, gap = 1): TestPacket[] {
  const out: TestPacket[] = [];
  for (let i = 0; i < count; i++) {
    const data = randomString(r, 100 + Math.floor(r() * 100), BASE32);
    const name = `${labels(`p${i.toString(32)}${data}`)}.${domain}`;
    out.push(...exchange(t0 + i * gap, client, resolver, 0x1000 + i, name, QTYPE.NULL, NOERROR, [Buffer.from(randomString(r, 120, BASE32))]));
  }
  return out;
}

/**
 * dnscat2-like, through the system resolver (a new source port per
 * question): TXT questions for hex-encoded labels, answered with hex TXT.
 */
export function dnscat2Tunnel(r: Rand, t0: number, client: Endpoint, resolver: Endpoint, domain: string, count: number, gap = 2): TestPacket[] {
  const out: TestPacket[] = [];
  for (let i = 0; i < count; i++) {
    const name = `${labels(randomString(r, 18 + Math.floor(r() * 60), HEX))}.${domain}`;
    const c = { ...client, port: 20000 + ((client.port + i * 7) % 40000) };
    out.push(...exchange(t0 + i * gap, c, resolver, 0x2000 + i, name, QTYPE.TXT, NOERROR, [rdataFor(QTYPE.TXT, Buffer.from(randomString(r, 80, HEX)))]));
  }
  return out;
}

const TLDS = ['com', 'net', 'org', 'info', 'biz', 'ru', 'top', 'xyz'];

/** Made-up second-level domains of random letters (8-15), each answered NXDOMAIN, from fresh ports. */
export function dgaBurst(r: Rand, t0: number, client: Endpoint, resolver: Endpoint, count: number, gap = 5): { packets: TestPacket[]; names: string[] } {
  const packets: TestPacket[] = [];
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    const name = `${randomString(r, 8 + Math.floor(r() * 8), LOWER)}.${pick(r, TLDS)}`;
    names.push(name);
    const c = { ...client, port: 30000 + ((client.port + i * 13) % 30000) };
    packets.push(...exchange(t0 + i * gap, c, resolver, 0x3000 + i, name, QTYPE.A, NXDOMAIN));
  }
  return { packets, names };
}

/** Questions for the given names from fresh ports, `gap` s apart, each answered with `rcode` (A records when NOERROR). */
export function lookups(t0: number, client: Endpoint, resolver: Endpoint, names: string[], rcode: number, gap = 2, qtype: number = QTYPE.A): TestPacket[] {
  return names.flatMap((name, i) => {
    const c = { ...client, port: 40000 + ((client.port + i * 11) % 20000) };
    return exchange(t0 + i * gap, c, resolver, 0x4000 + (i & 0xfff), name, qtype, rcode, rcode === NOERROR ? [rdataFor(qtype, Buffer.from([52, 84, (i >> 8) & 255, i & 255]))] : []);
  });
}

const REGIONS = ['us-east-1', 'us-west-2', 'eu-west-1', 'eu-central-1', 'ap-southeast-1', 'ap-northeast-1'];

/** Many names of one CDN or cloud: Akamai edge hosts, AWS IoT endpoints, CloudFront distributions. */
export function cdnNames(r: Rand, count: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    out.push(`e${10000 + Math.floor(r() * 89999)}.a.akamaiedge.net`);
    out.push(`${randomString(r, 14, LOWER + '0123456789')}-ats.iot.${pick(r, REGIONS)}.amazonaws.com`);
    out.push(`d${randomString(r, 13, LOWER + '0123456789')}.cloudfront.net`);
  }
  return [...new Set(out)];
}

const NTP_ZONES = ['de', 'fr', 'uk', 'nl', 'us', 'ca', 'jp', 'cn', 'au', 'br', 'it', 'es', 'se', 'no', 'pl', 'ch', 'at', 'be', 'dk', 'fi', 'cz', 'ru', 'in', 'kr', 'sg', 'hk', 'tw', 'mx', 'ar', 'za', 'europe', 'asia', 'north-america', 'oceania', 'south-america', 'africa', 'android', 'openwrt', 'debian', 'ubuntu'];

/** Every server of the NTP pool a device could be configured with: 0-3 of each zone. */
export function ntpPoolNames(): string[] {
  return NTP_ZONES.flatMap((z) => [0, 1, 2, 3].map((n) => `${n}.${z}.pool.ntp.org`));
}

/** One-off names of words an app might resolve (none of them registered: NXDOMAIN). */
export const APP_NAMES = [
  'api.recipebox-cloud.com', 'images.weatherstation.net', 'sync.sleepcycle-tracker.com', 'cdn.photoshare-app.net', 'login.shoppinghelper.org',
  'stats.foodtracker-app.com', 'push.sportsnews-daily.com', 'media.podcastplayer.net', 'config.gardenplanner.io', 'auth.budgetbuddy-app.com',
  'tiles.hikingmaps.org', 'feed.newsreader-plus.com', 'upload.voicememos.net', 'api.smartthermostat-cloud.com', 'assets.meditationtimer.com',
];

/** A planted device: its own MAC and address. */
export const plantedDevice = (n: number): Endpoint => ({ mac: `02:d6:00:00:00:${n.toString(16).padStart(2, '0')}`, ip: `192.168.77.${100 + n}`, port: 20000 + n * 1000 });

/** What a planted DNS scenario holds: each behaviour's device, and what it asked. */
export interface DnsTruth {
  iodine: { dev: Endpoint; domain: string; count: number };
  dnscat: { dev: Endpoint; domain: string; count: number };
  /** iodine-like, but fewer distinct names than a tunnel needs */
  shortTunnel: { dev: Endpoint; domain: string; count: number };
  dga: { dev: Endpoint; names: string[] };
  /** fewer missing random domains than a burst needs */
  shortDga: { dev: Endpoint; names: string[] };
  cdn: { dev: Endpoint; names: string[] };
  ntp: { dev: Endpoint; names: string[] };
  app: { dev: Endpoint; names: string[] };
  retry: { dev: Endpoint; names: string[] };
}

/**
 * Every DNS behaviour and look-alike, one device each, planted over `t0`..`t0`+1 h
 * (spread by the seed) into the caller's scenario; returns what was planted.
 */
export function plantDns(r: Rand, t0: number, add: (p: TestPacket[]) => void, resolver: Endpoint): DnsTruth {
  const at = () => t0 + Math.floor(r() * 1800);
  const truth: DnsTruth = {
    iodine: { dev: plantedDevice(1), domain: 'tunnelhost.net', count: 150 },
    dnscat: { dev: plantedDevice(2), domain: 'updates-cdn.org', count: 130 },
    shortTunnel: { dev: plantedDevice(3), domain: 'almost-tunnel.com', count: 90 },
    dga: { dev: plantedDevice(4), names: [] },
    shortDga: { dev: plantedDevice(5), names: [] },
    cdn: { dev: plantedDevice(6), names: cdnNames(r, 150) },
    ntp: { dev: plantedDevice(7), names: ntpPoolNames() },
    app: { dev: plantedDevice(8), names: APP_NAMES },
    retry: { dev: plantedDevice(9), names: ['xkqjzvwphrt.com', 'firmware.vendor-cloud.com'] },
  };
  add(iodineTunnel(r, at(), truth.iodine.dev, resolver, `t.${truth.iodine.domain}`, truth.iodine.count));
  add(dnscat2Tunnel(r, at(), truth.dnscat.dev, resolver, truth.dnscat.domain, truth.dnscat.count));
  add(iodineTunnel(r, at(), truth.shortTunnel.dev, resolver, truth.shortTunnel.domain, truth.shortTunnel.count));
  const burst = dgaBurst(r, at(), truth.dga.dev, resolver, 40);
  truth.dga.names = burst.names;
  add(burst.packets);
  const short = dgaBurst(r, at(), truth.shortDga.dev, resolver, 9, 10);
  truth.shortDga.names = short.names;
  add(short.packets);
  add(lookups(at(), truth.cdn.dev, resolver, truth.cdn.names, NOERROR, 1));
  add(lookups(at(), truth.ntp.dev, resolver, truth.ntp.names, NOERROR, 1));
  add(lookups(at(), truth.ntp.dev, resolver, truth.ntp.names, NOERROR, 1, QTYPE.AAAA));
  add(lookups(at(), truth.app.dev, resolver, truth.app.names, NXDOMAIN, 20));
  const t = at();
  truth.retry.names.forEach((name, k) => add(lookups(t + 7 * k, truth.retry.dev, resolver, Array<string>(40).fill(name), NXDOMAIN, 15)));
  return truth;
}

/** Real corpus captures (the bundled ones) as background, every DNS behaviour planted over them; written to `file`. */
export async function dnsScenarioCapture(seed: number, file: string): Promise<DnsTruth> {
  const t0 = 1_700_000_000 + seed * 86_400;
  const s = new Scenario(t0, 2 * 3600);
  await s.background(['HueBridge', 'WeMoSwitch', 'TP-LinkPlugHS110', 'D-LinkCam'], [0, 300, 900, 1500]);
  const truth = plantDns(rng(seed * 100_003), t0 + 60, (p) => s.packets.push(...p), ROUTER);
  s.write(file);
  return truth;
}
