import { getHeapStatistics, setFlagsFromString } from 'node:v8';

/**
 * Every table phonehome keeps is bounded, so what it holds live is too; but
 * V8 grows the heap by up to double at each step, and a flood (300,000
 * spoofed MACs, a scan of 2 M destinations) then peaked at 1.6 GiB for some
 * 450 MB of live data. Growth steps of 30 % hold those floods under 1 GiB.
 * Capping growth from the start made small heaps collect far too often (the
 * sensor spent a fifth of its time in full collections of a 30 MB heap), so
 * the cap is set once the heap holds this much.
 */
const CAP_GROWTH_FROM_BYTES = 256 * 2 ** 20;
let capped = false;

/** Caps the heap's growth steps at 30 % once it is large; call it now and then (cheap). Not a hard limit: the heap still grows as far as the data needs. */
export function boundHeapGrowth(): void {
  if (capped || getHeapStatistics().used_heap_size < CAP_GROWTH_FROM_BYTES) return;
  capped = true;
  setFlagsFromString('--heap-growing-percent=30');
}
