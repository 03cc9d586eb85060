import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AlertRecord, PcapMissing, PcapMissingCause } from '../../contract/types.js';
import { readCaptureFile } from '../capture/reader.js';
import type { RawPacket } from '../capture/packet.js';
import { newDecoded } from '../decode/decoded.js';
import { decodePacket } from '../decode/packet.js';
import { DecodeWarnings } from '../decode/warnings.js';
import type { FlowRef, KeptFlows } from '../detect/engine.js';
import { MAX_KEPT_ALERT_FLOWS, MAX_KEPT_PER_ALERT, MAX_KEPT_SERIES_FLOWS } from '../detect/kept.js';
import { protoName } from '../flows/flow.js';
import { ip4String, ip6String } from '../util/addr.js';
import { grouped } from '../util/format.js';

/** Bytes of one evidence capture written by analyze --evidence; past it the alert says what was left out. */
export const MAX_EVIDENCE_FILE_BYTES = 64 << 20;
/** Packets held in memory over all captures being cut before they are appended to their files. */
const FLUSH_BYTES = 4 << 20;
const PCAP_HEADER = 24;
const MAX_PARTIAL_UIDS = 100;

/** What cutting one alert's capture gave. */
export interface CutResult {
  /** the file's name in the folder; null when no packet of its flows was found */
  file: string | null;
  /** packets written of each kept flow, in the order of its refs */
  written: number[];
  /** why packets of kept flows were left out */
  causes: Set<PcapMissingCause>;
  /** packets of kept flows found but left out (size, link type) */
  refused: number;
}

/** One capture being cut. */
interface Cut {
  name: string;
  written: number[];
  causes: Set<PcapMissingCause>;
  refused: number;
  linktype: number | null;
  /** bytes of the file, written and buffered */
  bytes: number;
  buf: Buffer[];
  onDisk: boolean;
  /** the last packet (by its number in the read) that was taken or refused: a packet is evidence of an alert once */
  lastPacket: number;
}

/** A kept flow's packets: which capture, which of its flows, its time span. */
interface Want {
  cut: Cut;
  ref: number;
  pkts: number;
  from: number;
  to: number;
}

function key(proto: string, a: string, ap: number, b: string, bp: number): string {
  return a < b || (a === b && ap <= bp) ? `${proto}|${a}|${ap}|${b}|${bp}` : `${proto}|${b}|${bp}|${a}|${ap}`;
}

function wants(refs: Map<string, FlowRef[]>): { cuts: Map<string, Cut>; byKey: Map<string, Want[]> } {
  const cuts = new Map<string, Cut>();
  const byKey = new Map<string, Want[]>();
  for (const [id, flows] of refs) {
    const cut: Cut = { name: `${id}.pcap`, written: flows.map(() => 0), causes: new Set(), refused: 0, linktype: null, bytes: PCAP_HEADER, buf: [], onDisk: false, lastPacket: -1 };
    cuts.set(id, cut);
    flows.forEach((f, ref) => {
      const k = key(f.proto, f.src_ip, f.src_port, f.dst_ip, f.dst_port);
      const list = byKey.get(k) ?? [];
      list.push({ cut, ref, pkts: f.pkts, from: f.ts - 1e-6, to: f.end + 1e-6 });
      byKey.set(k, list);
    });
  }
  return { cuts, byKey };
}

function pcapHeader(linktype: number): Buffer {
  const header = Buffer.alloc(PCAP_HEADER);
  header.writeUInt32LE(0xa1b2c3d4, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(262144, 16);
  header.writeUInt32LE(linktype, 20);
  return header;
}

function record(p: RawPacket): Buffer {
  const rec = Buffer.alloc(16 + p.caplen);
  rec.writeUInt32LE(p.tsSec, 0);
  rec.writeUInt32LE(Math.floor(p.tsNsec / 1000), 4);
  rec.writeUInt32LE(p.caplen, 8);
  rec.writeUInt32LE(p.wirelen, 12);
  p.data.copy(rec, 16, p.off, p.off + p.caplen);
  return rec;
}

function flush(dir: string, cuts: Iterable<Cut>): void {
  for (const c of cuts) {
    if (c.buf.length === 0) continue;
    const path = join(dir, c.name);
    if (c.onDisk) appendFileSync(path, Buffer.concat(c.buf));
    else writeFileSync(path, Buffer.concat([pcapHeader(c.linktype!), ...c.buf]));
    c.onDisk = true;
    c.buf = [];
  }
}

/**
 * Cuts one pcap per alert holding the packets of its kept flows, by reading
 * the captures a second time; each flow gives at most the packets it counted
 * (a later flow on the same ports is not its evidence). Packets are appended
 * to the files as they come (at most FLUSH_BYTES held), and a capture stops
 * growing at maxBytes. Returns what each alert's capture holds.
 */
export async function writeEvidence(files: string[], refs: Map<string, FlowRef[]>, dir: string, maxBytes = MAX_EVIDENCE_FILE_BYTES): Promise<Map<string, CutResult>> {
  const { cuts, byKey } = wants(refs);
  const d = newDecoded();
  const warn = new DecodeWarnings();
  let n = 0;
  let held = 0;
  const take = (p: RawPacket, w: Want): void => {
    const c = w.cut;
    c.lastPacket = n;
    // One link type per capture: a flow seen on two kinds of interface keeps the first.
    const refuse = (why: PcapMissingCause): void => {
      c.causes.add(why);
      c.refused++;
    };
    if ((c.linktype ??= p.linktype) !== p.linktype) return refuse('link-type');
    if (c.bytes + 16 + p.caplen > maxBytes) return refuse('size');
    const rec = record(p);
    c.buf.push(rec);
    c.bytes += rec.length;
    c.written[w.ref]++;
    if ((held += rec.length) >= FLUSH_BYTES) {
      flush(dir, cuts.values());
      held = 0;
    }
  };
  for (const file of files) {
    await readCaptureFile(file, (p) => {
      n++;
      if (!decodePacket(p, d, warn)) return;
      const src = d.ipVersion === 4 ? ip4String(d.src4) : ip6String(d.data, d.src6Off);
      const dst = d.ipVersion === 4 ? ip4String(d.dst4) : ip6String(d.data, d.dst6Off);
      const hits = byKey.get(key(protoName(d.proto), src, d.sport, dst, d.dport));
      if (!hits) return;
      for (const w of hits) {
        if (d.ts < w.from || d.ts > w.to || w.cut.lastPacket === n || w.cut.written[w.ref] >= w.pkts) continue;
        take(p, w);
      }
    });
  }
  flush(dir, cuts.values());
  return new Map([...cuts].map(([id, c]) => [id, { file: c.onDisk ? c.name : null, written: c.written, causes: c.causes, refused: c.refused }]));
}

const CAUSES: Record<PcapMissingCause, string> = {
  'alert-flows': `the alert keeps the packets of its first ${grouped(MAX_KEPT_PER_ALERT)} flows`,
  'series-flows': `the device-destination series keeps the packets of its first ${grouped(MAX_KEPT_PER_ALERT)} flows`,
  'run-flows': `the run keeps the packets of ${grouped(MAX_KEPT_ALERT_FLOWS)} flows over all alerts, and had kept them when these flows came`,
  'run-series-flows': `the run keeps the packets of ${grouped(MAX_KEPT_SERIES_FLOWS)} flows over all device-destination series, and had kept them when these flows came`,
  size: 'the capture reached its size bound',
  'link-type': 'some packets came on an interface of another link type than the capture\'s first packet',
  'not-found': 'some packets were not in the files read again (removed or rotated since they were analysed)',
  'no-space': 'the disk of the spool had no room for the capture',
};

/**
 * What an alert's capture lacks of the flows and packets its evidence counts,
 * and why; null when it holds them all.
 */
export function pcapMissing(e: AlertRecord['evidence'], kept: KeptFlows, cut: CutResult | undefined, maxBytes = MAX_EVIDENCE_FILE_BYTES): PcapMissing | null {
  const causes = new Set(kept.unkept);
  let flows = Math.max(0, e.flows - kept.refs.length);
  let packets = Math.max(0, e.packets - kept.refs.reduce((s, r) => s + r.pkts, 0));
  const partial: string[] = [];
  let shortKept = 0;
  kept.refs.forEach((r, i) => {
    const short = r.pkts - (cut?.written[i] ?? 0);
    if (short <= 0) return;
    flows++;
    packets += short;
    shortKept += short;
    if (partial.length < MAX_PARTIAL_UIDS) partial.push(r.uid);
  });
  if (flows === 0 && packets === 0) return null;
  for (const c of cut?.causes ?? []) causes.add(c);
  if (shortKept > (cut?.refused ?? 0)) causes.add('not-found');
  const words = [...causes].map((c) => (c === 'size' ? `${CAUSES.size} (${grouped(maxBytes)} bytes)` : CAUSES[c]));
  const reason = `the capture lacks ${grouped(packets)} packet(s) of ${grouped(flows)} flow(s) counted here: ${words.join('; ')}`;
  return { flows, packets, causes: [...causes], reason, partial };
}
