import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readCaptureFile } from '../capture/reader.js';
import { newDecoded } from '../decode/decoded.js';
import { decodePacket } from '../decode/packet.js';
import { DecodeWarnings } from '../decode/warnings.js';
import type { FlowRef } from '../detect/engine.js';
import { protoName } from '../flows/flow.js';
import { ip4String, ip6String } from '../util/addr.js';

const MAX_PACKETS_PER_ALERT = 2000;

function key(proto: string, a: string, ap: number, b: string, bp: number): string {
  return a < b || (a === b && ap <= bp) ? `${proto}|${a}|${ap}|${b}|${bp}` : `${proto}|${b}|${bp}|${a}|${ap}`;
}

/**
 * Cuts one small pcap per alert holding the packets of its flows, by reading
 * the captures a second time. Returns alert id -> file name (in dir).
 */
export async function writeEvidence(files: string[], refs: Map<string, FlowRef[]>, dir: string): Promise<Map<string, string>> {
  const wanted = new Map<string, { id: string; from: number; to: number }[]>();
  for (const [id, flows] of refs) {
    for (const f of flows) {
      const k = key(f.proto, f.src_ip, f.src_port, f.dst_ip, f.dst_port);
      const list = wanted.get(k) ?? [];
      list.push({ id, from: f.ts - 1e-6, to: f.end + 1e-6 });
      wanted.set(k, list);
    }
  }
  const out = new Map<string, { linktype: number; records: Buffer[]; count: number }>();
  const d = newDecoded();
  const warn = new DecodeWarnings();
  for (const file of files) {
    await readCaptureFile(file, (p) => {
      if (!decodePacket(p, d, warn)) return;
      const src = d.ipVersion === 4 ? ip4String(d.src4) : ip6String(d.data, d.src6Off);
      const dst = d.ipVersion === 4 ? ip4String(d.dst4) : ip6String(d.data, d.dst6Off);
      const hits = wanted.get(key(protoName(d.proto), src, d.sport, dst, d.dport));
      if (!hits) return;
      for (const h of hits) {
        if (d.ts < h.from || d.ts > h.to) continue;
        let o = out.get(h.id);
        if (!o) out.set(h.id, (o = { linktype: p.linktype, records: [], count: 0 }));
        // One link type per evidence file; a flow seen on two kinds of interface keeps the first.
        if (o.linktype !== p.linktype || o.count >= MAX_PACKETS_PER_ALERT) continue;
        const rec = Buffer.alloc(16 + p.caplen);
        rec.writeUInt32LE(p.tsSec, 0);
        rec.writeUInt32LE(Math.floor(p.tsNsec / 1000), 4);
        rec.writeUInt32LE(p.caplen, 8);
        rec.writeUInt32LE(p.wirelen, 12);
        p.data.copy(rec, 16, p.off, p.off + p.caplen);
        o.records.push(rec);
        o.count++;
      }
    });
  }
  const names = new Map<string, string>();
  for (const [id, o] of out) {
    const header = Buffer.alloc(24);
    header.writeUInt32LE(0xa1b2c3d4, 0);
    header.writeUInt16LE(2, 4);
    header.writeUInt16LE(4, 6);
    header.writeUInt32LE(262144, 16);
    header.writeUInt32LE(o.linktype, 20);
    const name = `${id}.pcap`;
    writeFileSync(join(dir, name), Buffer.concat([header, ...o.records]));
    names.set(id, name);
  }
  return names;
}
