/**
 * One captured frame. Readers reuse a single instance and point `data` into
 * their read buffer, so a consumer must copy what it wants to keep.
 */
export interface RawPacket {
  /** buffer holding the frame; the frame is data[off, off + caplen) */
  data: Buffer;
  off: number;
  caplen: number;
  /** length on the wire */
  wirelen: number;
  tsSec: number;
  tsNsec: number;
  /** LINKTYPE_* of the interface the frame was captured on */
  linktype: number;
  /** byte offset of the record in its (decompressed) capture file */
  fileOffset: number;
}

export type PacketSink = (p: RawPacket) => void;

export function newRawPacket(): RawPacket {
  return { data: Buffer.alloc(0), off: 0, caplen: 0, wirelen: 0, tsSec: 0, tsNsec: 0, linktype: 0, fileOffset: 0 };
}

/** Largest frame we accept, matching libpcap's MAXIMUM_SNAPLEN. */
export const MAX_CAPLEN = 262144;
