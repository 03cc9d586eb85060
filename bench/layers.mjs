// How fast the first stages alone go on a capture, to show where the time of
// a full analysis goes: read + frame, + decode, + flow table.
// Usage: node bench/layers.mjs FILE frame|decode|flows  (prints the packet count)
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
};
if (!sinks[layer]) throw new Error(`layer must be frame, decode or flows, not ${layer}`);
await readCaptureFile(file, sinks[layer]);
table.flush();
console.log(n);
