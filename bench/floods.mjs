// Generated floods for the memory bounds: classic pcaps written in chunks,
// deterministic (the same n gives the same bytes), with their ground truth.
// Usage: node bench/floods.mjs macs|destinations|scan N FILE
//   macs          N packets, each a TCP SYN from its own random (spoofed) MAC
//                 and private address to its own Internet address: N devices, N flows
//   destinations  N two-packet UDP flows from one device to N Internet addresses
//   scan          N TCP SYNs from one device to N host/port pairs (1,000 ports on each of N/1000 hosts)
import { closeSync, openSync, writeSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const T0 = 1_700_000_000;
const GATEWAY_MAC = '00b56d0608ba';
const DEVICE_MAC = '50c7bf00c703';

function pcapHeader() {
  const h = Buffer.alloc(24);
  h.writeUInt32LE(0xa1b2c3d4, 0); h.writeUInt16LE(2, 4); h.writeUInt16LE(4, 6); h.writeUInt32LE(65535, 16); h.writeUInt32LE(1, 20);
  return h;
}

/** An Ethernet + IPv4 frame template: TCP (a SYN, 20-byte header) or UDP (15 payload bytes). */
function template(tcp) {
  const ip = Buffer.alloc(20);
  ip[0] = 0x45; ip.writeUInt16BE(tcp ? 40 : 35, 2); ip[6] = 0x40; ip[8] = 64; ip[9] = tcp ? 6 : 17;
  const l4 = Buffer.alloc(tcp ? 20 : 23);
  if (tcp) { l4[12] = 0x50; l4[13] = 0x02; l4.writeUInt16BE(64240, 14); } else l4.writeUInt16BE(23, 4);
  return Buffer.concat([Buffer.from(GATEWAY_MAC + DEVICE_MAC + '0800', 'hex'), ip, l4]);
}

/** Writes `n` records produced by `fill(frame, i, dir)` (returning the packet time), `dirs` packets per i. */
function writeRecords(file, n, dirs, tcp, fill) {
  const fd = openSync(file, 'w');
  writeSync(fd, pcapHeader());
  const frame = template(tcp);
  const recLen = 16 + frame.length;
  const perChunk = 16384;
  const chunk = Buffer.alloc(perChunk * recLen);
  let k = 0;
  for (let i = 0; i < n; i++) {
    for (let dir = 0; dir < dirs; dir++) {
      const rec = chunk.subarray(k * recLen, (k + 1) * recLen);
      const f = rec.subarray(16);
      frame.copy(f);
      const t = fill(f, i, dir);
      rec.writeUInt32LE(Math.floor(t), 0); rec.writeUInt32LE(Math.round((t % 1) * 1e6) % 1e6, 4);
      rec.writeUInt32LE(frame.length, 8); rec.writeUInt32LE(frame.length, 12);
      if (++k === perChunk) { writeSync(fd, chunk); k = 0; }
    }
  }
  if (k) writeSync(fd, chunk.subarray(0, k * recLen));
  closeSync(fd);
}

/** A 32-bit xorshift: deterministic spoofed addresses. */
function rng(seed) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return s;
  };
}

/** Internet address number i: 52.0.0.0 onwards (public, no special range for 16 M addresses). */
const internet = (i) => (0x34000000 + i) >>> 0;

/** One SYN from each of n random locally administered unicast MACs; returns the ground truth. */
export function writeSpoofedMacs(file, n) {
  const next = rng(0x5eed);
  const macs = new Set();
  writeRecords(file, n, 1, true, (f, i) => {
    let hi, lo;
    do {
      // Locally administered (bit 1), unicast (bit 0 clear): what a MAC spoofer sends.
      hi = ((next() & 0xfcff) | 0x0200) & 0xfeff;
      lo = next();
    } while (macs.has(hi * 2 ** 32 + lo));
    macs.add(hi * 2 ** 32 + lo);
    f.writeUInt16BE(hi, 6); f.writeUInt32BE(lo, 8);
    f.writeUInt32BE((0xc0a80000 | (next() & 0xfeff) | 1) >>> 0, 26);
    f.writeUInt32BE(internet(i), 30);
    f.writeUInt16BE(1024 + (i % 60000), 34); f.writeUInt16BE(443, 36);
    return T0 + i * 0.0005;
  });
  return { packets: n, flows: n, devices: n };
}

/** n two-packet UDP flows from one device to n Internet addresses. */
export function writeDestinations(file, n) {
  writeRecords(file, n, 2, false, (f, i, dir) => {
    const a = 0xc0a80114; const b = internet(i); const sp = 1024 + (i % 60000); const dp = 443;
    if (dir) { f.write(DEVICE_MAC, 0, 'hex'); f.write(GATEWAY_MAC, 6, 'hex'); }
    f.writeUInt32BE(dir ? b : a, 26); f.writeUInt32BE(dir ? a : b, 30);
    f.writeUInt16BE(dir ? dp : sp, 34); f.writeUInt16BE(dir ? sp : dp, 36);
    return T0 + i * 0.0005 + dir * 0.0001;
  });
  return { packets: 2 * n, flows: n, devices: 1 };
}

/** n SYNs from one device: ports 1-1000 on each of n/1000 hosts, each from its own source port. */
export function writeScan(file, n) {
  writeRecords(file, n, 1, true, (f, i) => {
    f.writeUInt32BE(0xc0a80114, 26); f.writeUInt32BE(internet(Math.floor(i / 1000)), 30);
    f.writeUInt16BE(1024 + (i % 60000), 34); f.writeUInt16BE(1 + (i % 1000), 36);
    return T0 + i * 0.0002;
  });
  return { packets: n, flows: n, devices: 1 };
}

export const FLOODS = { macs: writeSpoofedMacs, destinations: writeDestinations, scan: writeScan };

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [kind, n, file] = process.argv.slice(2);
  if (!FLOODS[kind] || !(Number(n) > 0) || !file) {
    console.error('usage: node bench/floods.mjs macs|destinations|scan N FILE');
    process.exit(2);
  }
  console.log(JSON.stringify(FLOODS[kind](file, Number(n))));
}
