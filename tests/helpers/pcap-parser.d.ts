// Types for pcap-parser 0.2 (it ships none).
declare module 'pcap-parser' {
  import type { EventEmitter } from 'node:events';
  import type { Readable } from 'node:stream';

  export interface GlobalHeader {
    magicNumber: number;
    majorVersion: number;
    minorVersion: number;
    gmtOffset: number;
    timestampAccuracy: number;
    snapshotLength: number;
    linkLayerType: number;
  }
  export interface PacketHeader {
    timestampSeconds: number;
    timestampMicroseconds: number;
    capturedLength: number;
    originalLength: number;
  }
  export interface Packet {
    header: PacketHeader;
    data: Buffer;
  }
  export interface Parser extends EventEmitter {
    stream: Readable;
    on(event: 'globalHeader', l: (h: GlobalHeader) => void): this;
    on(event: 'packetHeader', l: (h: PacketHeader) => void): this;
    on(event: 'packet', l: (p: Packet) => void): this;
    on(event: 'end', l: () => void): this;
    on(event: 'error', l: (e: Error) => void): this;
  }
  export function parse(input: string | Readable): Parser;
}
