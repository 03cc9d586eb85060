/**
 * The packet batches the reading thread hands to shard workers: records of a
 * 32-byte header and the frame, each 8-byte aligned so the header is read
 * through typed arrays, not byte by byte.
 *
 * header (u32 words): 0 kind | linktype << 8, 1 caplen, 2 wirelen,
 * 3 tsSec, 4 tsNsec, 5 unused, 6-7 packet index (f64)
 */
export const HEADER = 32;

export const enum Kind {
  /** a packet of this shard's flows */
  Owned = 0,
  /** another shard's packet whose payload every shard reads (DNS answers, DHCP, SSDP, ARP) */
  Shared = 1,
  /** sweep idle flows at this packet's time, then end the epoch */
  Sweep = 2,
  /** end the epoch */
  Epoch = 3,
}

export const recordSize = (caplen: number) => HEADER + ((caplen + 7) & ~7);
