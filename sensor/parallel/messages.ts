import { CaptureError } from '../errors.js';
import type { DeviceSnapshot } from '../devices/inventory.js';
import type { EnrichedFlow } from '../enrich/destination.js';
import type { MeterOptions } from '../pipeline/meter.js';

/** What a shard worker is started with. */
export interface ShardTask {
  index: number;
  /** shards in all */
  count: number;
  /** capture files the shard reads itself, in this order; null: the reading thread sends packets */
  files: string[] | null;
  meter: Pick<MeterOptions, 'timeouts' | 'maxFlows' | 'localNetworks' | 'maxDevices'>;
  geoip: string[];
  /** send flows and DNS messages as JSON lines (only when they are written out) */
  lines: boolean;
  /** hand on every flow with a local end to detection, not only outbound ones */
  allFlows: boolean;
  /** Int32Arrays over shared memory, one slot per worker: packet batches finished, result batches taken */
  consumed: SharedArrayBuffer;
  taken: SharedArrayBuffer;
}

/** From the reading thread: a batch of records (see records.ts), or the end of input. */
export type ToWorker = { type: 'packets'; buf: ArrayBuffer; len: number } | { type: 'end' };

/**
 * A flow as the main thread needs it: its sort key, its JSON line when flows
 * are written out, and the record itself only when detection will look at it.
 */
export type EndedFlow = [epoch: number, ts: number, uid: string, packets: number, line: string | null, judged: EnrichedFlow | null];
export type DnsItem = [epoch: number, packet: number, line: string];
/** A device a shard's inventory let go of (past its share of --max-devices), to merge where devices are written. */
export type EvictedItem = [epoch: number, device: DeviceSnapshot];

/** With earlier batches, everything a worker delivers for epochs up to and including `through`. */
export interface BatchMessage {
  type: 'batch';
  through: number;
  flows: EndedFlow[];
  dns: DnsItem[];
  evicted: EvictedItem[];
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
  /** a capture the shard could not open or read: reported as one thread reports it */
  capture?: SerialCaptureError;
}

export type FromWorker = BatchMessage | FreeMessage | DoneMessage | FailedMessage;

/** A CaptureError across threads (a structured clone keeps only an Error's message). */
export type SerialCaptureError = Pick<CaptureError, 'code' | 'file' | 'offset' | 'detail'>;

export function serialCaptureError(e: CaptureError): SerialCaptureError {
  return { code: e.code, file: e.file, offset: e.offset, detail: e.detail };
}

export function captureError(e: SerialCaptureError): CaptureError {
  return new CaptureError(e.code, e.file, e.offset, e.detail);
}
