// A folder of device profiles (rules/devices): YAML profiles in our format
// and RFC 8520 MUD files, read as one set.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DeviceProfile } from '../../../contract/types.js';
import { ProfileError } from '../../errors.js';
import { mudToProfile } from './mud.js';
import { parseProfileYamlWithLine } from './yaml.js';

/** The profile files directly in `dir`, in name order: *.yaml, *.yml and *.json, not hidden. */
function profileFiles(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((d) => (d.isFile() || d.isSymbolicLink()) && !d.name.startsWith('.') && /\.(ya?ml|json)$/i.test(d.name))
      .map((d) => d.name)
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  } catch (e) {
    throw new ProfileError('PROFILE_IO', dir, null, `cannot read the profile directory: ${(e as Error).message}`);
  }
}

/** One file's profile, the line of its name (YAML only) and what a MUD file could not map. */
function readProfile(file: string): { profile: DeviceProfile; line: number | null; warnings: string[] } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ProfileError('PROFILE_IO', file, null, `cannot read: ${(e as Error).message}`);
  }
  if (/\.json$/i.test(file)) {
    const r = mudToProfile(text, file);
    return { profile: { ...r.profile, source: file }, line: null, warnings: r.unmapped.map((u) => `${file}: ${u}`) };
  }
  const r = parseProfileYamlWithLine(text, file);
  return { profile: r.profile, line: r.nameLine, warnings: [] };
}

/**
 * Loads every *.yaml / *.yml profile and *.json MUD file directly in `dir`,
 * in name order. The first problem is thrown; a half-loaded profile set would
 * make alerts depend on which file happened to be broken.
 */
export function loadProfiles(dir: string): { profiles: DeviceProfile[]; warnings: string[] } {
  const profiles: DeviceProfile[] = [];
  const warnings: string[] = [];
  const byName = new Map<string, string>();
  for (const name of profileFiles(dir)) {
    const file = join(dir, name);
    const { profile, line, warnings: notes } = readProfile(file);
    warnings.push(...notes);
    const earlier = byName.get(profile.profile);
    if (earlier !== undefined) {
      throw new ProfileError('PROFILE_INVALID', file, line, `profile ${JSON.stringify(profile.profile)} is already defined in ${earlier}`);
    }
    byName.set(profile.profile, file);
    profiles.push(profile);
  }
  return { profiles, warnings };
}
