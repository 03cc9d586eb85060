import type { DeviceRecord, DnsRecord, FlowRecord } from '../../contract/types.js';
import { FlowMeter, type MeterOptions } from '../../sensor/pipeline/meter.js';
import { readCaptureFile, type ReadResult } from '../../sensor/capture/reader.js';

export interface PhonehomeView {
  flows: FlowRecord[];
  dns: DnsRecord[];
  devices: DeviceRecord[];
  read: ReadResult[];
  warnings: Record<string, number>;
}

/** Runs the analyzer in-process over files, collecting everything it emits. */
export async function phonehomeView(files: string[], opts: MeterOptions = {}): Promise<PhonehomeView> {
  const flows: FlowRecord[] = [];
  const dns: DnsRecord[] = [];
  const a = new FlowMeter({ flow: (r) => flows.push(r), dns: (r) => dns.push(r) }, opts);
  const read: ReadResult[] = [];
  for (const f of files) read.push(await readCaptureFile(f, a.onPacket));
  const devices = a.finish();
  return { flows, dns, devices, read, warnings: { ...a.warnings.counts } };
}
