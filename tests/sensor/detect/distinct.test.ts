// DistinctCounter: exact while the values are few, a HyperLogLog estimate past
// its bound or the shared budget, and the budget given back when dropped.
import { describe, expect, it } from 'vitest';
import { DistinctBudget, DistinctCounter } from '../../../sensor/detect/distinct.js';

const addr = (i: number) => `${10 + (i >>> 24)}.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}`;

describe('DistinctCounter', () => {
  it('counts exactly while under its bound, repeats once', () => {
    const c = new DistinctCounter(new DistinctBudget(1000), 1000);
    for (let i = 0; i < 500; i++) expect(c.add(addr(i))).toBe(true);
    for (let i = 0; i < 500; i++) expect(c.add(addr(i))).toBe(false);
    expect([c.size, c.estimated]).toEqual([500, false]);
  });

  it('estimates within 5 % past its bound (200,000 addresses counted in 4 KiB), and stays exact up to it', () => {
    for (const n of [5_000, 50_000, 200_000]) {
      const c = new DistinctCounter(new DistinctBudget(10_000), 1_000);
      for (let i = 0; i < n; i++) c.add(addr(i * 7 + 3));
      // repeats change nothing
      for (let i = 0; i < n; i += 3) c.add(addr(i * 7 + 3));
      expect(c.estimated).toBe(true);
      expect(Math.abs(c.size - n) / n, `${n}`).toBeLessThan(0.05);
    }
  });

  it('shares one budget: a counter past it turns into a sketch, and a dropped counter gives its share back', () => {
    const budget = new DistinctBudget(100);
    const a = new DistinctCounter(budget, 1000);
    const b = new DistinctCounter(budget, 1000);
    for (let i = 0; i < 80; i++) a.add(addr(i));
    expect(budget.left).toBe(20);
    for (let i = 0; i < 30; i++) b.add(addr(1000 + i));
    expect(b.estimated).toBe(true);
    expect(b.size).toBe(30);
    // b's exact values went back when it became a sketch
    expect(budget.left).toBe(20);
    a.release();
    expect(budget.left).toBe(100);
  });
});
