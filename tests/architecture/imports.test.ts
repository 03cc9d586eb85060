// The code's structure as the README promises it: no import cycle, and data
// flowing one way through the sensor's stages (a stage imports only stages
// before it, never one after), the contract importing neither side.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import madge from 'madge';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/repo.js';

/** Sensor stages in data-flow order; a module may import from its own rank or a lower one. */
const SENSOR_RANK: Record<string, number> = {
  util: 0, 'errors.ts': 0,
  capture: 1,
  decode: 2, protocols: 2,
  flows: 3, devices: 3,
  enrich: 4,
  detect: 5,
  pipeline: 6, output: 6,
  parallel: 7,
  run: 8,
  commands: 9,
  'cli.ts': 10,
};

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) return sources(p);
    return p.endsWith('.ts') && !p.endsWith('.d.ts') ? [p] : [];
  });
}

/** Relative imports of a TypeScript file (type-only ones included: a reader follows those too), as repo paths. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)[^'";]*?from\s+'(\.[^']+)'/g)) {
    out.push(relative(ROOT, resolve(dirname(file), m[1].replace(/\.js$/, '.ts'))));
  }
  return out;
}

/** The sensor stage of a repo path like sensor/detect/rules/x.ts: 'detect'; sensor/cli.ts: 'cli.ts'. */
const stageOf = (path: string): string => path.split('/')[1];

describe('imports', () => {
  const files = ['sensor', 'collector', 'contract'].flatMap((d) => sources(join(ROOT, d))).map((f) => relative(ROOT, f));

  it('every sensor stage is ranked, so a new folder must say where it sits in the flow', () => {
    const stages = new Set(files.filter((f) => f.startsWith('sensor/')).map(stageOf));
    expect([...stages].filter((s) => !(s in SENSOR_RANK))).toEqual([]);
  });

  it('sensor stages import only earlier stages: capture → decode → flows → enrich → detect → output', () => {
    const backwards: string[] = [];
    for (const f of files.filter((x) => x.startsWith('sensor/'))) {
      for (const dep of importsOf(join(ROOT, f)).filter((d) => d.startsWith('sensor/'))) {
        if (SENSOR_RANK[stageOf(dep)] > SENSOR_RANK[stageOf(f)]) backwards.push(`${f} -> ${dep}`);
      }
    }
    expect(backwards).toEqual([]);
  });

  it('the contract imports neither side, and the collector nothing of the sensor', () => {
    const wrong = files.flatMap((f) => importsOf(join(ROOT, f)).map((d) => [f, d]))
      .filter(([f, d]) => (f.startsWith('contract/') && !d.startsWith('contract/')) || (f.startsWith('collector/') && d.startsWith('sensor/')))
      .map(([f, d]) => `${f} -> ${d}`);
    expect(wrong).toEqual([]);
  });

  it('madge finds no import cycle, type-only imports included', async () => {
    const graph = await madge(['sensor', 'collector', 'contract'].map((d) => join(ROOT, d)), {
      baseDir: ROOT,
      fileExtensions: ['ts'],
      tsConfig: join(ROOT, 'tsconfig.json'),
      detectiveOptions: { ts: { skipTypeImports: false } },
    });
    const deps = graph.obj();
    expect(Object.keys(deps).length).toBeGreaterThan(100);
    // A type-only import is followed: the detector imports the inventory for a type alone.
    expect(deps['sensor/detect/engine.ts']).toContain('sensor/devices/inventory.ts');
    expect(graph.circular()).toEqual([]);
  });
});
