// Writes a classic little-endian pcap to stdout as fast as the reader takes it,
// stamping every packet with the current time, so a sensor reading it sees a
// live stream and its lag metric means what it means on a real link.
// Usage: node bench/live-replay.mjs FILE | phonehome sensor --input - ...
import { closeSync, openSync, readSync } from 'node:fs';

const fd = openSync(process.argv[2], 'r');
const buf = Buffer.allocUnsafe(8 << 20);
let len = readSync(fd, buf, 0, buf.length, null);
if (buf.readUInt32LE(0) !== 0xa1b2c3d4) throw new Error('expects a little-endian microsecond pcap');
process.stdout.write(Buffer.from(buf.subarray(0, 24)));
let pos = 24;
const write = (chunk) => new Promise((resolve) => (process.stdout.write(chunk) ? resolve() : process.stdout.once('drain', resolve)));
for (;;) {
  let i = pos;
  const now = Date.now();
  const sec = Math.floor(now / 1000);
  const usec = (now % 1000) * 1000;
  while (len - i >= 16) {
    const caplen = buf.readUInt32LE(i + 8);
    if (len - i - 16 < caplen) break;
    buf.writeUInt32LE(sec, i);
    buf.writeUInt32LE(usec, i + 4);
    i += 16 + caplen;
  }
  await write(Buffer.from(buf.subarray(pos, i)));
  buf.copy(buf, 0, i, len);
  len -= i;
  pos = 0;
  const n = readSync(fd, buf, len, buf.length - len, null);
  if (n === 0) break;
  len += n;
}
closeSync(fd);
