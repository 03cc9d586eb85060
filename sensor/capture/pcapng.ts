import { CaptureError } from '../errors.js';
import { MAX_CAPLEN, type PacketSink, type RawPacket } from './packet.js';

const SHB = 0x0a0d0d0a;
const IDB = 1;
const OPB = 2; // obsolete Packet Block, still written by old tools
const SPB = 3;
const EPB = 6;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
/** Non-packet blocks (name resolution, secrets) can be big, but not this big. */
const MAX_BLOCK_LEN = 16 * 1024 * 1024;

export function isPcapngMagic(buf: Buffer): boolean {
  return buf.length >= 4 && buf.readUInt32BE(0) === SHB;
}

interface Iface {
  linktype: number;
  snaplen: number;
  /** null: microseconds, the default and the fast path */
  tsDiv: bigint | null;
  tsBase2: boolean;
  tsOffset: number;
}

/**
 * Incremental pcapng reader (SHB/IDB/EPB/SPB/OPB; other blocks skipped).
 * Like PcapParser, `parse` consumes complete blocks only and returns where the
 * first incomplete one starts.
 */
export class PcapngParser {
  readonly format = 'pcapng';
  readonly linktypes = new Set<number>();
  private le = true;
  private ifaces: Iface[] = [];

  constructor(private readonly file: string) {}

  parse(buf: Buffer, start: number, end: number, absStart: number, pkt: RawPacket, sink: PacketSink): number {
    pkt.data = buf;
    let i = start;
    while (end - i >= 12) {
      const abs = absStart + (i - start);
      let type = this.le ? buf.readUInt32LE(i) : buf.readUInt32BE(i);
      if (type === SHB || buf.readUInt32BE(i) === SHB) {
        type = SHB;
        const bom = buf.readUInt32LE(i + 8);
        if (bom === BYTE_ORDER_MAGIC) this.le = true;
        else if (buf.readUInt32BE(i + 8) === BYTE_ORDER_MAGIC) this.le = false;
        else throw new CaptureError('CORRUPT_RECORD', this.file, abs + 8, `section header has byte-order magic 0x${bom.toString(16)} (expected 0x1a2b3c4d)`);
      }
      const len = this.le ? buf.readUInt32LE(i + 4) : buf.readUInt32BE(i + 4);
      if (len < 12 || len % 4 !== 0 || len > MAX_BLOCK_LEN) {
        throw new CaptureError('CORRUPT_RECORD', this.file, abs, `block of type ${type} has total length ${len} (expected a multiple of 4 between 12 and ${MAX_BLOCK_LEN})`);
      }
      if (end - i < len) break;
      const trailer = this.le ? buf.readUInt32LE(i + len - 4) : buf.readUInt32BE(i + len - 4);
      if (trailer !== len) {
        throw new CaptureError('CORRUPT_RECORD', this.file, abs, `block total length ${len} does not match its trailing copy ${trailer}`);
      }
      switch (type) {
        case SHB:
          this.ifaces = [];
          break;
        case IDB:
          this.addInterface(buf, i, len, abs);
          break;
        case EPB:
        case OPB: {
          const ifid = type === EPB ? this.u32(buf, i + 8) : this.u16(buf, i + 8);
          const iface = this.iface(ifid, abs);
          const caplen = this.u32(buf, i + 20);
          if (caplen > len - 32 || caplen > MAX_CAPLEN) {
            throw new CaptureError('CORRUPT_RECORD', this.file, abs, `packet block claims ${caplen} captured bytes in a block of ${len} bytes`);
          }
          this.setTime(pkt, iface, this.u32(buf, i + 12), this.u32(buf, i + 16));
          pkt.caplen = caplen;
          pkt.wirelen = this.u32(buf, i + 24);
          pkt.off = i + 28;
          pkt.linktype = iface.linktype;
          pkt.fileOffset = abs;
          sink(pkt);
          break;
        }
        case SPB: {
          const iface = this.iface(0, abs);
          const wirelen = this.u32(buf, i + 8);
          let caplen = Math.min(wirelen, len - 16);
          if (iface.snaplen > 0) caplen = Math.min(caplen, iface.snaplen);
          // Simple packet blocks carry no timestamp.
          pkt.tsSec = 0;
          pkt.tsNsec = 0;
          pkt.caplen = caplen;
          pkt.wirelen = wirelen;
          pkt.off = i + 12;
          pkt.linktype = iface.linktype;
          pkt.fileOffset = abs;
          sink(pkt);
          break;
        }
        default:
          break;
      }
      i += len;
    }
    return i;
  }

  private u32(buf: Buffer, at: number): number {
    return this.le ? buf.readUInt32LE(at) : buf.readUInt32BE(at);
  }

  private u16(buf: Buffer, at: number): number {
    return this.le ? buf.readUInt16LE(at) : buf.readUInt16BE(at);
  }

  private iface(id: number, abs: number): Iface {
    const iface = this.ifaces[id];
    if (!iface) throw new CaptureError('CORRUPT_RECORD', this.file, abs, `packet refers to interface ${id}, but only ${this.ifaces.length} interface(s) are described`);
    return iface;
  }

  private addInterface(buf: Buffer, i: number, len: number, abs: number): void {
    if (len < 20) throw new CaptureError('CORRUPT_RECORD', this.file, abs, `interface description block is ${len} bytes (expected at least 20)`);
    const iface: Iface = { linktype: this.u16(buf, i + 8), snaplen: this.u32(buf, i + 12), tsDiv: null, tsBase2: false, tsOffset: 0 };
    let o = i + 16;
    const optEnd = i + len - 4;
    while (o + 4 <= optEnd) {
      const code = this.u16(buf, o);
      const olen = this.u16(buf, o + 2);
      if (code === 0 || o + 4 + olen > optEnd) break;
      if (code === 9 && olen >= 1) {
        const r = buf[o + 4];
        const exp = r & 0x7f;
        iface.tsBase2 = (r & 0x80) !== 0;
        if (iface.tsBase2 || exp !== 6) iface.tsDiv = iface.tsBase2 ? 1n << BigInt(exp) : 10n ** BigInt(exp);
      } else if (code === 14 && olen >= 8) {
        iface.tsOffset = Number(this.le ? buf.readBigInt64LE(o + 4) : buf.readBigInt64BE(o + 4));
      }
      o += 4 + ((olen + 3) & ~3);
    }
    this.ifaces.push(iface);
    this.linktypes.add(iface.linktype);
  }

  private setTime(pkt: RawPacket, iface: Iface, hi: number, lo: number): void {
    if (iface.tsDiv === null) {
      // Microseconds since 1970 fit a double exactly until the year 2255.
      const units = hi * 4294967296 + lo;
      const sec = Math.floor(units / 1e6);
      pkt.tsSec = sec + iface.tsOffset;
      pkt.tsNsec = (units - sec * 1e6) * 1000;
      return;
    }
    const units = (BigInt(hi) << 32n) | BigInt(lo);
    const sec = units / iface.tsDiv;
    const rem = units % iface.tsDiv;
    pkt.tsSec = Number(sec) + iface.tsOffset;
    pkt.tsNsec = Number((rem * 1000000000n) / iface.tsDiv);
  }
}
