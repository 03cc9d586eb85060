// packageRoot finds the folder holding both package.json and rules/, from the
// sources (tests), from the build (dist/), and from an installed copy; a
// nested package.json without rules/ is passed over; no root at all is an error.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot, RULES_DIR } from '../../../sensor/util/paths.js';
import { ROOT } from '../../helpers/repo.js';

const BUILT = join(ROOT, 'dist/sensor/util/paths.js');
const tmp = realpathSync(mkdtempSync(join(tmpdir(), 'phonehome-paths-')));

/** RULES_DIR as the module at `file` computes it in a fresh process. */
function rulesDirFrom(file: string) {
  return spawnSync(process.execPath, ['--input-type=module', '-e', `import(${JSON.stringify(file)}).then((m) => process.stdout.write(m.RULES_DIR))`], { encoding: 'utf8' });
}

describe('packageRoot', () => {
  it('from the sources it is the repository root, and RULES_DIR holds the shipped detections file', () => {
    expect(packageRoot()).toBe(ROOT);
    expect(RULES_DIR).toBe(join(ROOT, 'rules'));
    expect(existsSync(join(RULES_DIR, 'detections.yaml'))).toBe(true);
  });

  it('from the build in dist/ it is the same root', () => {
    const r = rulesDirFrom(BUILT);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(join(ROOT, 'rules'));
  });

  it('an installed copy finds its own root, passing over a package.json that has no rules/ beside it', () => {
    const pkg = join(tmp, 'node_modules', 'phonehome');
    mkdirSync(join(pkg, 'dist', 'sensor', 'util'), { recursive: true });
    mkdirSync(join(pkg, 'rules'));
    writeFileSync(join(pkg, 'package.json'), '{"name":"phonehome","type":"module"}');
    // a package.json inside dist (as some build tools write) but no rules/ there
    writeFileSync(join(pkg, 'dist', 'package.json'), '{"type":"module"}');
    copyFileSync(BUILT, join(pkg, 'dist', 'sensor', 'util', 'paths.js'));
    const r = rulesDirFrom(join(pkg, 'dist', 'sensor', 'util', 'paths.js'));
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(join(pkg, 'rules'));
  });

  it('with no package.json and rules/ anywhere above, loading fails naming what is missing', () => {
    const lone = join(tmp, 'lone', 'dist', 'sensor', 'util');
    mkdirSync(lone, { recursive: true });
    writeFileSync(join(tmp, 'lone', 'package.json'), '{"type":"module"}');
    copyFileSync(BUILT, join(lone, 'paths.js'));
    // nothing above the temp folder may be a phonehome root, or this test proves nothing
    expect(execFileSync('sh', ['-c', `d="${tmp}"; while [ "$d" != / ]; do d=$(dirname "$d"); [ -e "$d/package.json" ] && [ -d "$d/rules" ] && echo "$d"; done; true`]).toString()).toBe('');
    const r = rulesDirFrom(join(lone, 'paths.js'));
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('phonehome package root not found');
  });
});
