import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The installed package's root (the code runs from dist/ when built and from the sources under test). */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) || !existsSync(join(dir, 'rules'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('phonehome package root not found');
    dir = up;
  }
  return dir;
}

export const RULES_DIR = join(packageRoot(), 'rules');
/** The shipped device profiles. */
export const DEFAULT_PROFILES_DIR = join(RULES_DIR, 'devices');

/** phonehome's version, from its package.json ('0.0.0' when unreadable). */
export function phonehomeVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}
