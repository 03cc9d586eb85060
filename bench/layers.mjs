// How fast the first stages alone go on a capture, to show where the time of
// a full analysis goes: read + frame, + decode, + flow table. `tuples` is a
// floor rather than a stage: read, frame, decode, then count packets and
// bytes per 5-tuple in typed arrays, the least any flow analysis must do.
// Usage: node bench/layers.mjs FILE frame|decode|flows|tuples  (prints the packet count)
import { readCaptureFile } from '../dist/sensor/capture/reader.js';
import { newDecoded } from '../dist/sensor/decode/decoded.js';
import { decodePacket } from '../dist/sensor/decode/packet.js';
import { DecodeWarnings } from '../dist/sensor/decode/warnings.js';
import { FlowTable } from '../dist/sensor/flows/table.js';

const [file, layer] = process.argv.slice(2);
const d = newDecoded();
const warnings = new DecodeWarnings();
const table = new FlowTable(() => {});
let n = 0;

/** Open addressing over typed arrays: both directions of an IPv4 5-tuple in one slot. */
const tuples = {
  mask: (1 << 20) - 1,
  keys: new Int32Array(4 << 20),
  used: new Uint8Array(1 << 20),
  packets: new Float64Array(2 << 20),
  bytes: new Float64Array(2 << 20),
  add(proto, a, b, pa, pb, len) {
    let dir = 0;
    if (a > b || (a === b && pa > pb)) {
      [a, b, pa, pb, dir] = [b, a, pb, pa, 1];
    }
    const ports = (pa << 16) | pb;
    let h = Math.imul(a ^ Math.imul(b, 0x9e3779b1) ^ Math.imul(ports, 0x85ebca6b) ^ proto, 0xc2b2ae35);
    h = (h ^ (h >>> 15)) & this.mask;
    const k = this.keys;
    for (;;) {
      if (!this.used[h]) {
        this.used[h] = 1;
        k[h * 4] = proto;
        k[h * 4 + 1] = a;
        k[h * 4 + 2] = b;
        k[h * 4 + 3] = ports;
        break;
      }
      if (k[h * 4] === proto && k[h * 4 + 1] === a && k[h * 4 + 2] === b && k[h * 4 + 3] === ports) break;
      h = (h + 1) & this.mask;
    }
    this.packets[h * 2 + dir]++;
    this.bytes[h * 2 + dir] += len;
  },
};
const sinks = {
  frame: () => n++,
  decode: (p) => {
    n++;
    decodePacket(p, d, warnings);
  },
  flows: (p) => {
    n++;
    if (!decodePacket(p, d, warnings)) return;
    table.tick(d);
    table.update(d);
  },
  tuples: (p) => {
    n++;
    if (!decodePacket(p, d, warnings) || d.ipVersion !== 4) return;
    tuples.add(d.proto, d.src4 | 0, d.dst4 | 0, d.sport, d.dport, p.wirelen);
  },
};
if (!sinks[layer]) throw new Error(`layer must be frame, decode, flows or tuples, not ${layer}`);
await readCaptureFile(file, sinks[layer]);
table.flush();
console.log(n);
