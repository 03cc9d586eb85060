// Writes a classic little-endian pcap to stdout as fast as the reader takes it,
// stamping every packet with the current time, so a sensor reading it sees a
// live stream and its lag metric means what it means on a real link.
// Like tcpdump -w -, it writes from one reused buffer with plain blocking
// writes: a fresh copy per chunk and Node's stream layer cost more CPU than
// the pipe itself, and the replayer shares the two cores with the sensor.
// Usage: node bench/live-replay.mjs FILE | phonehome sensor --input - ...
import { closeSync, openSync, readSync, writeSync } from 'node:fs';

const fd = openSync(process.argv[2], 'r');
const buf = Buffer.allocUnsafe(8 << 20);
let len = readSync(fd, buf, 0, buf.length, null);
if (buf.readUInt32LE(0) !== 0xa1b2c3d4) throw new Error('expects a little-endian microsecond pcap');
const pause = new Int32Array(new SharedArrayBuffer(4));
function writeAll(chunk) {
  for (let off = 0; off < chunk.length; ) {
    try {
      off += writeSync(1, chunk, off, chunk.length - off);
    } catch (e) {
      if (e.code === 'EPIPE') process.exit(0);
      // stdout left non-blocking by whoever set up the pipe: wait for the reader
      if (e.code !== 'EAGAIN') throw e;
      Atomics.wait(pause, 0, 0, 1);
    }
  }
}
writeAll(buf.subarray(0, 24));
let pos = 24;
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
  writeAll(buf.subarray(pos, i));
  buf.copy(buf, 0, i, len);
  len -= i;
  pos = 0;
  const n = readSync(fd, buf, len, buf.length - len, null);
  if (n === 0) break;
  len += n;
}
closeSync(fd);
