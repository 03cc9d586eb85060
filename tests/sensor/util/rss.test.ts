// peakRssBytes is this process's own peak resident memory: it grows with
// memory the process really touched, never falls below the current resident
// size, and a process spawned by a large one does not inherit the parent's peak.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../../helpers/repo.js';

const RSS = join(ROOT, 'dist/sensor/util/rss.js');
const MB = 1 << 20;

/** Runs a script in a fresh node with peakRssBytes imported; returns what it printed as JSON. */
function inChild(body: string, flags: string[] = []): Record<string, number> {
  const r = spawnSync(process.execPath, [...flags, '--input-type=module', '-e', `const { peakRssBytes } = await import(${JSON.stringify(RSS)});\n${body}`], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

describe('peakRssBytes', () => {
  it('a process that touched 300 MB reports a peak above 300 MB, and at least its current resident size', () => {
    const r = inChild(`
      const before = peakRssBytes();
      const big = Buffer.alloc(300 * ${MB}, 1);
      const rss = process.memoryUsage().rss;
      const after = peakRssBytes();
      console.log(JSON.stringify({ before, after, rss, kept: big[12345] }));
    `);
    expect(r.before).toBeLessThan(200 * MB);
    expect(r.after).toBeGreaterThan(300 * MB);
    expect(r.after).toBeGreaterThanOrEqual(r.rss);
  });

  it('the peak stays after the memory is given back', () => {
    const r = inChild(`
      let big = Buffer.alloc(300 * ${MB}, 1);
      big = null;
      globalThis.gc();
      await new Promise((res) => setTimeout(res, 50));
      globalThis.gc();
      console.log(JSON.stringify({ peak: peakRssBytes(), rss: process.memoryUsage().rss }));
    `, ['--expose-gc']);
    // the memory really went back (else this would not tell a peak from the current size)
    expect(r.rss).toBeLessThan(200 * MB);
    expect(r.peak).toBeGreaterThan(300 * MB);
  });

  it("a child spawned by a process with a 400 MB peak reports its own small peak, not its parent's", () => {
    const r = inChild(`
      const { spawnSync } = await import('node:child_process');
      const big = Buffer.alloc(400 * ${MB}, 1);
      const child = spawnSync(process.execPath, ['--input-type=module', '-e',
        'const { peakRssBytes } = await import(' + JSON.stringify(${JSON.stringify(RSS)}) + '); process.stdout.write(String(peakRssBytes()))'], { encoding: 'utf8' });
      console.log(JSON.stringify({ parent: peakRssBytes(), child: Number(child.stdout), kept: big[7] }));
    `);
    expect(r.parent).toBeGreaterThan(400 * MB);
    expect(r.child).toBeGreaterThan(10 * MB);
    expect(r.child).toBeLessThan(200 * MB);
  });
});
