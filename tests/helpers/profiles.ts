// What the device profile tests share: where the profiles and fixtures are,
// YAML text built line by line, and the ProfileError a call throws.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ProfileError } from '../../sensor/errors.js';
import { errorOf } from './errors.js';

/** The profiles shipped with phonehome. */
export const RULES_DEVICES = resolve(import.meta.dirname, '../../rules/devices');
/** RFC 8520 MUD files: the RFC's example and the shapes real files come in. */
export const MUD_FIXTURES = resolve(import.meta.dirname, '../fixtures/mud');
/** YAML profiles with one mistake each. */
export const BAD_PROFILES = resolve(import.meta.dirname, '../fixtures/profiles-bad');

export const mudFixture = (name: string): string => readFileSync(join(MUD_FIXTURES, name), 'utf8');

/** YAML text of `lines`, each ending in a newline. */
export const yamlLines = (...lines: string[]): string => `${lines.join('\n')}\n`;

/** A valid profile with `lines` as its documented entries (entries start on line 5). */
export const profileDocumenting = (...lines: string[]): string =>
  yamlLines('profile: demo', 'match:', "  oui: ['aa:bb:cc']", 'documented:', ...lines);

/** The ProfileError that fn throws; fails if it throws nothing or something else. */
export const profileErrorOf = (fn: () => unknown): ProfileError => errorOf(ProfileError, fn);
