// Integer reads without Buffer's per-call argument validation, for the
// per-packet path (callers have already checked the bounds); big-endian unless named.

export function u16(b: Buffer, o: number): number {
  return (b[o] << 8) | b[o + 1];
}

export function u32(b: Buffer, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

/** Little-endian, for capture headers written in the writer's byte order. */
export function u32le(b: Buffer, o: number): number {
  return (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
}
