import type { PacketSink, RawPacket } from '../capture/packet.js';
import type { DecodeWarnings } from '../decode/warnings.js';
import { Router } from './route.js';
import type { ShardPipeline } from './shard.js';
import { HEADER, Kind, recordSize } from './records.js';

/** Bytes per batch: room for the largest frame (libpcap's 256 KiB) several times over. */
const BATCH_BYTES = 1 << 20;
/** Batches a worker may have queued before reading waits for it. */
const MAX_IN_FLIGHT = 8;

interface Batch {
  buf: Buffer;
  u32: Uint32Array;
  f64: Float64Array;
  len: number;
}

function batchOf(ab: ArrayBuffer): Batch {
  return { buf: Buffer.from(ab), u32: new Uint32Array(ab), f64: new Float64Array(ab), len: 0 };
}

/**
 * The reading thread's side of `--workers` on a stream (stdin): routes each
 * packet (see Router) to shard 0 here, or copies it into the batch of the
 * worker whose shard it goes to.
 */
export class Dispatcher {
  private readonly router: Router;
  private readonly batches: Batch[];
  private readonly sent: number[];
  /** batch buffers the workers gave back: a fresh ArrayBuffer is zero-filled, and that showed in profiles */
  private readonly free: ArrayBuffer[][];

  constructor(
    private readonly count: number,
    /** Int32Array over shared memory: batches each worker has finished */
    private readonly consumed: Int32Array,
    private readonly post: (worker: number, buf: ArrayBuffer, len: number) => void,
    private readonly failed: () => Error | null,
    /** shard 0, analysed in this thread: its packets are not copied */
    local: ShardPipeline,
  ) {
    this.free = Array.from({ length: count }, () => []);
    // Shard 0 has no batch; the slot keeps indices those of the shards.
    this.batches = Array.from({ length: count }, (_, w) => batchOf(new ArrayBuffer(w === 0 ? 0 : BATCH_BYTES)));
    this.sent = new Array(count).fill(0);
    const router: Router = new Router(
      count,
      (w, kind, p) => (w === 0 ? local.routed(kind, p, router.ok, router.packets) : this.put(w, kind, p, kind === Kind.Sweep || kind === Kind.Epoch ? 0 : p.caplen)),
      local.decoded,
    );
    this.router = router;
  }

  get sink(): PacketSink {
    return this.router.sink;
  }

  get packets(): number {
    return this.router.packets;
  }

  get bytes(): number {
    return this.router.bytes;
  }

  get warnings(): DecodeWarnings {
    return this.router.warnings;
  }

  private put(w: number, kind: Kind, p: RawPacket, caplen: number): void {
    const size = recordSize(caplen);
    let b = this.batches[w];
    if (b.len + size > BATCH_BYTES) {
      this.flush(w);
      b = this.batches[w];
    }
    const o = b.len >> 2;
    const u32 = b.u32;
    u32[o] = kind | (p.linktype << 8);
    u32[o + 1] = caplen;
    u32[o + 2] = p.wirelen;
    u32[o + 3] = p.tsSec;
    u32[o + 4] = p.tsNsec;
    b.f64[(b.len >> 3) + 3] = this.router.packets;
    if (caplen > 0) p.data.copy(b.buf, b.len + HEADER, p.off, p.off + caplen);
    b.len += size;
  }

  private flush(w: number): void {
    const b = this.batches[w];
    if (b.len === 0) return;
    this.post(w, b.buf.buffer as ArrayBuffer, b.len);
    this.sent[w]++;
    this.batches[w] = batchOf(this.free[w].pop() ?? new ArrayBuffer(BATCH_BYTES));
  }

  /** A worker is done with a batch buffer: it is reused. */
  recycle(w: number, buf: ArrayBuffer): void {
    if (buf.byteLength === BATCH_BYTES) this.free[w].push(buf);
  }

  /**
   * Called between chunks of input: lets the event loop take the workers'
   * results, and waits while a worker is MAX_IN_FLIGHT batches behind.
   */
  async pace(): Promise<void> {
    await new Promise<void>((r) => setImmediate(r));
    for (let w = 1; w < this.count; w++) {
      for (;;) {
        const e = this.failed();
        if (e) throw e;
        const done = Atomics.load(this.consumed, w);
        if (this.sent[w] - done < MAX_IN_FLIGHT) break;
        const r = (Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number, t: number): { async: boolean; value: Promise<string> | string } }).waitAsync(this.consumed, w, done, 500);
        if (r.async) await r.value;
      }
    }
  }

  /** End of input: what is batched goes out. */
  finish(): void {
    for (let w = 1; w < this.count; w++) this.flush(w);
  }
}
