import { CaptureError } from '../errors.js';
import { MAX_CAPLEN, type PacketSink, type RawPacket } from './packet.js';
import { u32, u32le } from '../util/bytes.js';

export const PCAP_HEADER_LEN = 24;
const RECORD_HEADER_LEN = 16;

/** Classic libpcap file: microsecond (a1b2c3d4) or nanosecond (a1b23c4d) magic, either byte order. */
export function isPcapMagic(buf: Buffer): boolean {
  if (buf.length < 4) return false;
  const be = buf.readUInt32BE(0);
  const le = buf.readUInt32LE(0);
  return be === 0xa1b2c3d4 || le === 0xa1b2c3d4 || be === 0xa1b23c4d || le === 0xa1b23c4d;
}

/**
 * Incremental reader for classic pcap. `parse` frames every complete record in
 * buf[start, end) without copying and returns where the first incomplete record
 * starts, so the caller can keep the tail and append the next chunk to it.
 */
export class PcapParser {
  readonly format: string;
  readonly linktype: number;
  readonly snaplen: number;
  private readonly le: boolean;
  private readonly nanos: boolean;
  /** records longer than the header's snap length, and the first of them */
  private longer = 0;
  private firstLonger: { at: number; caplen: number } | null = null;

  constructor(
    private readonly file: string,
    header: Buffer,
  ) {
    const be = header.readUInt32BE(0);
    this.le = be === 0xd4c3b2a1 || be === 0x4d3cb2a1;
    this.nanos = be === 0xa1b23c4d || be === 0x4d3cb2a1;
    const major = this.le ? header.readUInt16LE(4) : header.readUInt16BE(4);
    if (major !== 2) {
      throw new CaptureError('UNSUPPORTED', file, 4, `pcap version ${major} is not supported (expected 2.x)`);
    }
    this.snaplen = this.le ? header.readUInt32LE(16) : header.readUInt32BE(16);
    // Upper bits of the link type field carry FCS information, not the type.
    this.linktype = (this.le ? header.readUInt32LE(20) : header.readUInt32BE(20)) & 0xffff;
    this.format = `pcap${this.nanos ? '-ns' : ''}${this.le ? '' : '-be'}`;
  }

  /** What a reader should tell once per file: records longer than the header's snap length. */
  get warnings(): string[] {
    const f = this.firstLonger;
    if (f === null) return [];
    return [
      `${this.file}: ${this.longer} record(s) longer than the header's snap length ${this.snaplen} (the first at byte ${f.at}, ${f.caplen} bytes); read whole, up to ${MAX_CAPLEN} bytes`,
    ];
  }

  /** @param absStart byte offset in the file of buf[start] */
  // Record headers are read by hand: Buffer#readUInt32LE validates its offset on every
  // call, four times per packet, and that showed in profiles.
  parse(buf: Buffer, start: number, end: number, absStart: number, pkt: RawPacket, sink: PacketSink): number {
    const le = this.le;
    // A record longer than the header's snap length is read whole (up to the hard limit), as
    // tshark reads it: tools that rewrite or merge captures leave a smaller snap length in the
    // header than their records have. A zero snap length is written by some tools and means "unknown".
    const snap = this.snaplen > 0 && this.snaplen < MAX_CAPLEN ? this.snaplen : MAX_CAPLEN;
    const nsMul = this.nanos ? 1 : 1000;
    pkt.data = buf;
    pkt.linktype = this.linktype;
    let i = start;
    while (end - i >= RECORD_HEADER_LEN) {
      const caplen = le ? u32le(buf, i + 8) : u32(buf, i + 8);
      if (caplen > snap) {
        if (caplen > MAX_CAPLEN) {
          throw new CaptureError(
            'CORRUPT_RECORD',
            this.file,
            absStart + (i - start),
            `record claims ${caplen} captured bytes (snap length ${this.snaplen}, limit ${MAX_CAPLEN}); the file is corrupt from here`,
          );
        }
        if (end - i - RECORD_HEADER_LEN < caplen) break;
        // Counted once complete: an incomplete record is parsed again with the next chunk.
        if (this.longer++ === 0) this.firstLonger = { at: absStart + (i - start), caplen };
      } else if (end - i - RECORD_HEADER_LEN < caplen) break;
      pkt.tsSec = le ? u32le(buf, i) : u32(buf, i);
      pkt.tsNsec = (le ? u32le(buf, i + 4) : u32(buf, i + 4)) * nsMul;
      pkt.caplen = caplen;
      pkt.wirelen = le ? u32le(buf, i + 12) : u32(buf, i + 12);
      pkt.off = i + RECORD_HEADER_LEN;
      pkt.fileOffset = absStart + (i - start);
      sink(pkt);
      i += RECORD_HEADER_LEN + caplen;
    }
    return i;
  }
}
