import type { FlowRecord } from '../../contract/types.js';
import type { AnalyzerOptions } from '../analyzer.js';
import type { DeviceFacts, DeviceSnapshot } from '../devices/inventory.js';

/** What a shard worker is started with. */
export interface ShardTask {
  index: number;
  analyzer: Pick<AnalyzerOptions, 'timeouts' | 'maxFlows'>;
  geoip: string[];
  /** send flows and DNS messages as JSON lines (only when they are written out) */
  lines: boolean;
  /** Int32Arrays over shared memory, one slot per worker: packet batches finished, result batches taken */
  consumed: SharedArrayBuffer;
  taken: SharedArrayBuffer;
}

/** From the reading thread: a batch of records (see records.ts), or the end of input. */
export type ToWorker = { type: 'packets'; buf: ArrayBuffer; len: number } | { type: 'end' };

/**
 * A flow as the main thread needs it: its sort key, its JSON line when flows
 * are written out, and the record itself only when detection will judge it.
 */
export type EndedFlow = [epoch: number, ts: number, uid: string, packets: number, line: string | null, judged: [rec: FlowRecord, facts: DeviceFacts, resolved: boolean] | null];
export type DnsItem = [epoch: number, packet: number, line: string];

/** With earlier batches, everything a worker delivers for epochs up to and including `through`. */
export interface BatchMessage {
  type: 'batch';
  through: number;
  flows: EndedFlow[];
  dns: DnsItem[];
}

export interface DoneMessage {
  type: 'done';
  flows: number;
  dnsMessages: number;
  warnings: Record<string, number>;
  devices: DeviceSnapshot[];
}

/** A packet batch's buffer, given back for reuse. */
export interface FreeMessage {
  type: 'free';
  buf: ArrayBuffer;
}

export interface FailedMessage {
  type: 'failed';
  message: string;
}

export type FromWorker = BatchMessage | FreeMessage | DoneMessage | FailedMessage;
