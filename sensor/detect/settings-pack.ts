// The shipped detection settings and device profiles as the loaders read
// them, kept as JSON beside the built code by `npm run build`: a run with the
// shipped files then needs neither the YAML library nor its parse (most of
// start-up on a small capture). A pack is used only while the files it was
// made from and the detection code that read them are byte for byte the
// same; otherwise the files are read as usual.

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import type { DeviceProfile } from '../../contract/types.js';
import { writeAtomically } from '../util/files.js';
import { packageRoot, RULES_DIR } from '../util/paths.js';
import type { DetectionConfig } from './rule.js';

/** What the loaders give for the shipped rules/ folder. */
export interface ShippedSettings {
  config: DetectionConfig;
  profiles: DeviceProfile[];
  /** profile loading notes */
  warnings: string[];
}

interface Pack {
  format: number;
  /** digests of the settings files and of the code, when packed */
  inputs: string;
  code: string;
  value: ShippedSettings;
}

const FORMAT = 1;

/** Where the build writes the pack. */
export const SETTINGS_PACK = join(packageRoot(), 'dist', 'data', 'settings.json');

/** What the loaders read under rules/: the detections file, the watch lists, the device profiles. */
const INPUTS = ['detections.yaml', 'watch', 'devices'];

/** The built code whose answers the pack holds: detection, the enrich and util helpers it calls, the errors it throws, the contract. */
const CODE = ['.', '../enrich', '../util', '../errors.js', '../../contract'].map((p) => fileURLToPath(new URL(p, import.meta.url)));

/** Every file at or under each path, in a stable order; source maps change nothing a run does, and were half of the bytes read at every start. */
function filesUnder(paths: string[]): string[] {
  const out: string[] = [];
  const walk = (p: string): void => {
    let entries;
    try {
      entries = readdirSync(p, { withFileTypes: true });
    } catch {
      out.push(p);
      return;
    }
    for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      if (e.isDirectory()) walk(join(p, e.name));
      else if (e.isFile() && !e.name.endsWith('.map')) out.push(join(p, e.name));
    }
  };
  for (const p of paths) walk(p);
  return out;
}

/** One SHA-256 over each file's name (relative to `base`) and bytes; a missing file counts as one. */
function digest(paths: string[], base: string): string {
  const h = createHash('sha256');
  for (const f of filesUnder(paths)) {
    h.update(f.slice(base.length)).update('\0');
    h.update(existsSync(f) ? readFileSync(f) : 'missing').update('\0');
  }
  return h.digest('hex');
}

const inputsDigest = (rulesDir: string) => digest(INPUTS.map((p) => join(rulesDir, p)), rulesDir);
const codeDigest = () => digest(CODE, packageRoot());

/** The shipped settings from the pack, or null when there is none or it does not match the files and code as they are now. */
export function shippedSettings(pack = SETTINGS_PACK, rulesDir = RULES_DIR): ShippedSettings | null {
  try {
    const p = JSON.parse(readFileSync(pack, 'utf8')) as Pack;
    if (p.format !== FORMAT || p.inputs !== inputsDigest(rulesDir) || p.code !== codeDigest()) return null;
    return p.value;
  } catch {
    return null;
  }
}

/**
 * Loads the settings of `rulesDir` with the loaders and writes them as a pack
 * (atomically). Writes nothing, and returns false, when the loaded values do
 * not survive JSON unchanged.
 */
export async function writeSettingsPack(pack = SETTINGS_PACK, rulesDir = RULES_DIR): Promise<boolean> {
  const { loadDetectionConfig } = await import('./config.js');
  const { loadProfiles } = await import('./profiles/load.js');
  const { profiles, warnings } = loadProfiles(join(rulesDir, 'devices'));
  const value: ShippedSettings = { config: loadDetectionConfig(join(rulesDir, 'detections.yaml')), profiles, warnings };
  const json = JSON.stringify({ format: FORMAT, inputs: inputsDigest(rulesDir), code: codeDigest(), value } satisfies Pack);
  if (!isDeepStrictEqual((JSON.parse(json) as Pack).value, value)) return false;
  mkdirSync(dirname(pack), { recursive: true });
  writeAtomically(pack, json);
  return true;
}
