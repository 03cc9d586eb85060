// A capture in which a hostile device controls every string phonehome shows:
// its DHCP host name and vendor class, the DNS names it resolves, the SNI of
// its TLS hellos, and the Host and User-Agent of its HTTP requests carry
// markup, script URLs, very long text and bytes that are not UTF-8. Its
// flows go to an address the GeoIP test database places in China, so they
// raise alerts (geo-callback, unprofiled-device) whose pages show those
// strings.
import { dnsResponse, packet, tcpSession, udpFrame, type Endpoint } from './build.js';
import { dnsQuery, QTYPE } from './dns.js';
import { writePcap, type TestPacket } from './pcap.js';
import { clientHello, ext } from './tls.js';
import { dhcp4, dhcpOption } from '../sensor/protocols/build.js';

/** The strings planted, as the device sent them (latin1: one character per byte). */
export const HOSTILE = {
  script: '<script>window.__pwned=1</script>',
  img: '"><img src=x onerror="window.__pwned=2">',
  js: 'javascript:window.__pwned=3',
  svg: "<svg onload='window.__pwned=4'>",
  /** 0xff 0xfe and a lone UTF-8 continuation byte: not UTF-8 */
  bytes: 'bad\xff\xfe\x80name',
  long: `${'A'.repeat(60)}.`.repeat(4).slice(0, 240),
} as const;

export const HOSTILE_DEVICE: Endpoint = { mac: '02:66:00:00:00:66', ip: '192.168.66.66', port: 40000 };
export const HOSTILE_ROUTER: Endpoint = { mac: '02:66:00:00:00:01', ip: '192.168.66.1', port: 53 };
/** In the GeoLite2-Country test database: CN, a watched country. */
export const HOSTILE_SERVER_IP = '111.235.160.9';

/** A DHCPREQUEST naming the device with `hostname` and `vendorClass`. */
function dhcpRequest(t: number, hostname: string, vendorClass: string): TestPacket {
  const mac = HOSTILE_DEVICE.mac.split(':').map((h) => parseInt(h, 16));
  const bytes = (s: string) => [...Buffer.from(s, 'latin1')];
  const options = [...dhcpOption(53, [3]), ...dhcpOption(12, bytes(hostname)), ...dhcpOption(60, bytes(vendorClass)), 255];
  const from = { ...HOSTILE_DEVICE, ip: '0.0.0.0', port: 68 };
  const to = { mac: 'ff:ff:ff:ff:ff:ff', ip: '255.255.255.255', port: 67 };
  return packet(t, udpFrame(from, to, Buffer.from(dhcp4({ mac, options }))));
}

/** A name in DNS wire format whose labels may hold any byte. */
function rawName(labels: string[]): Buffer {
  return Buffer.concat([...labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'latin1')])), Buffer.from([0])]);
}

/** A resolver's answer giving `ip` for a name of any bytes. */
function rawAnswer(id: number, labels: string[], ip: string): Buffer {
  const plain = dnsResponse(id, 'x.example', [ip]);
  const q = rawName(labels);
  // dnsResponse's question name is 11 bytes ("x.example"); its answer points back at offset 12.
  return Buffer.concat([plain.subarray(0, 12), q, plain.subarray(12 + 11)]);
}

function lookup(t: number, id: number, labels: string[], ip: string): TestPacket[] {
  const client = { ...HOSTILE_DEVICE, port: 50000 + id };
  const query = dnsQuery(id, 'x.example', QTYPE.A);
  const q = Buffer.concat([query.subarray(0, 12), rawName(labels), query.subarray(12 + 11)]);
  return [packet(t, udpFrame(client, HOSTILE_ROUTER, q)), packet(t + 0.01, udpFrame(HOSTILE_ROUTER, client, rawAnswer(id, labels, ip)))];
}

function httpRequest(host: string, userAgent: string): Buffer {
  return Buffer.from(`GET /?q=${encodeURIComponent(HOSTILE.script)} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: ${userAgent}\r\n\r\n`, 'latin1');
}

/** Every packet of the hostile device, in time order from t0. */
export function hostilePackets(t0: number): TestPacket[] {
  const server = (port: number): Endpoint => ({ mac: HOSTILE_ROUTER.mac, ip: HOSTILE_SERVER_IP, port });
  const at = (n: number) => ({ ...HOSTILE_DEVICE, port: 41000 + n });
  const hello = (sni: string) => clientHello({ ciphers: [0x1301, 0xc02f], extensions: [ext.sni(sni), ext.alpn(['h2'])] });
  const out: TestPacket[] = [
    dhcpRequest(t0, HOSTILE.script, HOSTILE.img),
    ...lookup(t0 + 1, 1, [HOSTILE.img, 'example', 'cn'], HOSTILE_SERVER_IP),
    ...lookup(t0 + 2, 2, [HOSTILE.bytes, HOSTILE.svg.replace(/\./g, '')], HOSTILE_SERVER_IP),
    ...lookup(t0 + 3, 3, [...HOSTILE.long.split('.').filter(Boolean), 'cn'], HOSTILE_SERVER_IP),
    ...tcpSession(t0 + 4, at(1), server(443), hello(HOSTILE.img)),
    ...tcpSession(t0 + 5, at(2), server(443), hello(HOSTILE.js)),
    ...tcpSession(t0 + 6, at(3), server(80), httpRequest(HOSTILE.js, HOSTILE.script)),
    ...tcpSession(t0 + 7, at(4), server(80), httpRequest(HOSTILE.svg, `${HOSTILE.bytes} ${'U'.repeat(3000)}`)),
    ...tcpSession(t0 + 8, at(5), server(8080), httpRequest(HOSTILE.long, HOSTILE.img)),
  ];
  return out;
}

/** Writes the hostile device's capture (Ethernet) to `file`. */
export function writeHostileCapture(file: string, t0 = 1_700_000_000): void {
  writePcap(file, 1, hostilePackets(t0));
}
