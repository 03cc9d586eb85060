// Scenarios with known ground truth: planted device behaviours mixed into
// real background traffic from the bundled corpus captures. Each planted
// device gets its own MAC and address, so what it did is known exactly.
import { packet, TCP_FLAGS, tcpFrame, tcpSession, udpFrame, dnsResponse, type Endpoint } from './build.js';
import { fixture } from './corpus.js';
import { readWithPcapParser, writePcap, type TestPacket } from './pcap.js';

export const ROUTER: Endpoint = { mac: '00:b5:6d:06:08:ba', ip: '192.168.77.1', port: 53 };

/** Deterministic random numbers, so a scenario is the same capture every time. */
export function rng(seed: number): () => number {
  let s = seed % 2147483647 || 1;
  return () => (s = (s * 16807) % 2147483647) / 2147483647;
}

/** A TLS ClientHello carrying a server name, enough for SNI extraction. */
export function clientHello(sni: string): Buffer {
  const name = Buffer.from(sni);
  const sniExt = Buffer.alloc(9 + name.length);
  sniExt.writeUInt16BE(0, 0);
  sniExt.writeUInt16BE(5 + name.length, 2);
  sniExt.writeUInt16BE(3 + name.length, 4);
  sniExt[6] = 0;
  sniExt.writeUInt16BE(name.length, 7);
  name.copy(sniExt, 9);
  const body = Buffer.concat([
    Buffer.from([3, 3]), Buffer.alloc(32, 7), Buffer.from([0]), Buffer.from([0, 2, 0x13, 0x01]), Buffer.from([1, 0]),
    Buffer.from([(sniExt.length >> 8) & 255, sniExt.length & 255]), sniExt,
  ]);
  const hs = Buffer.concat([Buffer.from([1, 0, (body.length >> 8) & 255, body.length & 255]), body]);
  return Buffer.concat([Buffer.from([0x16, 3, 1, (hs.length >> 8) & 255, hs.length & 255]), hs]);
}

export class Scenario {
  readonly packets: TestPacket[] = [];
  private dnsId = 1;

  constructor(readonly t0: number, readonly span: number) {}

  /** The device resolves `name` to `addresses` through the local resolver at time t. */
  resolve(t: number, dev: Endpoint, name: string, addresses: string[]): void {
    this.packets.push(packet(t, udpFrame(ROUTER, { ...dev, port: 5353 + (this.dnsId % 1000) }, dnsResponse(this.dnsId++, name, addresses))));
  }

  /** A TLS connection (ClientHello with SNI, a response, teardown); its size varies with `extra`. */
  tls(t: number, dev: Endpoint, server: Endpoint, sni: string | null, extra = 0): void {
    const hello = sni ? clientHello(sni) : Buffer.alloc(200, 1);
    this.packets.push(...tcpSession(t, dev, server, Buffer.concat([hello, Buffer.alloc(extra)]), Buffer.alloc(300, 2)));
  }

  /** A connection attempt nobody answers (SYN only). */
  failedSyn(t: number, dev: Endpoint, server: Endpoint): void {
    this.packets.push(packet(t, tcpFrame(dev, server, TCP_FLAGS.SYN)));
  }

  /** Real captures of corpus devices, shifted to start at the given offsets into the scenario. */
  async background(devices: string[], offsets: number[]): Promise<void> {
    for (let i = 0; i < devices.length; i++) {
      const { packets } = await readWithPcapParser(fixture(devices[i]));
      const first = packets[0].tsSec + packets[0].tsUsec / 1e6;
      for (const p of packets) {
        const t = this.t0 + offsets[i] + (p.tsSec + p.tsUsec / 1e6 - first);
        this.packets.push(packet(t, p.data));
      }
    }
  }

  write(file: string): void {
    this.packets.sort((a, b) => a.tsSec - b.tsSec || a.tsUsec - b.tsUsec);
    writePcap(file, 1, this.packets);
  }
}

export { udpFrame, packet };
