/** Counts of packets we could not fully decode, by kind. Never thrown: bad packets are data. */
export class DecodeWarnings {
  readonly counts: Record<string, number> = Object.create(null);

  add(kind: string): void {
    this.counts[kind] = (this.counts[kind] ?? 0) + 1;
  }

  get total(): number {
    let n = 0;
    for (const k in this.counts) n += this.counts[k];
    return n;
  }
}
