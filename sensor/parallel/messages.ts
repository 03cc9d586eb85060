import type { FlowRecord } from '../../contract/types.js';
import { CaptureError, type CaptureErrorCode } from '../capture/errors.js';
import type { ReadResult } from '../capture/reader.js';
import type { DeviceFacts, DeviceSnapshot } from '../devices/inventory.js';
import type { AnalyzerOptions } from '../analyzer.js';

/** What a shard worker is started with. */
export interface ShardTask {
  files: string[];
  shard: { index: number; count: number };
  analyzer: Pick<AnalyzerOptions, 'timeouts' | 'maxFlows'>;
  geoip: string[];
  /** send flows and DNS messages as JSON lines (only when they are written out) */
  lines: boolean;
  /** Int32Array over a SharedArrayBuffer: [index] counts batches the main thread has taken */
  acks: SharedArrayBuffer;
}

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

export interface SerialCaptureError {
  code: CaptureErrorCode;
  file: string;
  offset: number | null;
  detail: string;
}

export type FileResult = Omit<ReadResult, 'error'> & { error: SerialCaptureError | null };

export interface DoneMessage {
  type: 'done';
  files: FileResult[];
  packets: number;
  bytes: number;
  flows: number;
  dnsMessages: number;
  warnings: Record<string, number>;
  devices: DeviceSnapshot[];
}

export interface FailedMessage {
  type: 'failed';
  /** a CaptureError thrown before reading (not a capture at all), or any other error's message */
  capture: SerialCaptureError | null;
  message: string;
}

export type WorkerMessage = BatchMessage | DoneMessage | FailedMessage;

export function serialError(e: CaptureError): SerialCaptureError {
  return { code: e.code, file: e.file, offset: e.offset, detail: e.detail };
}

export function captureError(e: SerialCaptureError): CaptureError {
  return new CaptureError(e.code, e.file, e.offset, e.detail);
}
