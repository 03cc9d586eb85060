import { existsSync, mkdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import { writeAtomically } from '../util/files.js';

/** The file in a --state folder holding what the learning rules learnt. */
export const STATE_FILE = 'baseline.json';
/** What the file says it is, and the one layout this phonehome reads and writes. */
export const STATE_FORMAT = 'phonehome-baseline';
export const STATE_VERSION = 1;
/** A file larger than this is not one phonehome wrote (its rules bound what they keep): moved aside unread. */
const MAX_STATE_BYTES = 256 * 1024 * 1024;

/**
 * The file as written: per rule, per device (MAC, or address without one),
 * what the rule keeps, least recently seen device first.
 */
interface StateDoc {
  format: typeof STATE_FORMAT;
  version: number;
  /** wall-clock time of the write (ISO 8601), for people reading the file */
  written: string;
  rules: Record<string, Record<string, unknown>>;
}

/** What a rule sees of the store (RuleContext.state). */
export interface RuleState {
  /**
   * The devices the rule kept when the file was last written, least recently
   * seen first, each checked by `parse`: an entry it refuses (null) is
   * dropped with one warning for the file, and that device is learnt again.
   */
  devices<T>(parse: (raw: unknown) => T | null): [string, T][];
  /** How to get the rule's devices (in the same order) when the file is written. */
  keep(snapshot: () => Iterable<[string, unknown]>): void;
}

/** A device key as the rules file devices: a MAC or an address, nothing longer. */
const isDeviceKey = (k: string): boolean => k.length > 0 && k.length <= 64 && /^[0-9a-fA-F:.]+$/.test(k);

/** Why a parsed file cannot be used, or null. */
function problem(doc: unknown): string | null {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return 'not a JSON object';
  const d = doc as Partial<StateDoc>;
  if (d.format !== STATE_FORMAT) return `format is ${JSON.stringify(d.format ?? null)}, not "${STATE_FORMAT}"`;
  if (d.version !== STATE_VERSION) return `format version ${JSON.stringify(d.version ?? null)} is not one this phonehome reads (${STATE_VERSION})`;
  if (typeof d.rules !== 'object' || d.rules === null || Array.isArray(d.rules)) return 'no "rules" object';
  for (const [rule, devices] of Object.entries(d.rules)) {
    if (typeof devices !== 'object' || devices === null || Array.isArray(devices)) return `rules.${rule} is not an object of devices`;
    const bad = Object.keys(devices).find((k) => !isDeviceKey(k));
    if (bad !== undefined) return `rules.${rule} has ${JSON.stringify(bad.slice(0, 80))}, which is not a MAC or address`;
  }
  return null;
}

/**
 * Baselines kept across runs and sensor restarts (--state DIR): one JSON file,
 * DIR/baseline.json, with a format name and version, written atomically
 * whenever alerts are asked for. A file that cannot be read (cut, edited, a
 * version this phonehome does not know) is moved aside with one warning and
 * learning starts again: never a failed run. How much it holds is bounded by
 * the rules (each caps its devices and what it keeps per device).
 */
export class StateStore {
  readonly file: string;
  private doc: StateDoc['rules'] = {};
  private readonly snapshots = new Map<string, () => Iterable<[string, unknown]>>();
  /** one warning per failure kind: a sensor writing after every file must not flood its log */
  private writeFailed = false;
  private dropped = 0;

  private constructor(
    readonly dir: string,
    private readonly warn: (message: string) => void,
  ) {
    this.file = join(dir, STATE_FILE);
  }

  /** Opens (makes) the folder and reads its file; a folder that cannot be made is the user's to fix (UsageError). */
  static open(dir: string, warn: (message: string) => void, now: () => number = Date.now): StateStore {
    try {
      mkdirSync(dir, { recursive: true });
    } catch (e) {
      throw new UsageError(`--state ${dir}: cannot be made a folder (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    const s = new StateStore(dir, warn);
    const read = readState(s.file);
    if (read === null) return s;
    if (typeof read !== 'string') {
      s.doc = read.rules;
      return s;
    }
    const aside = `${s.file}.corrupt-${now()}`;
    try {
      renameSync(s.file, aside);
      warn(`${s.file}: unusable baseline file (${read}); moved to ${aside}, learning starts again`);
    } catch (e) {
      warn(`${s.file}: unusable baseline file (${read}) that cannot be moved aside (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); learning starts again and the next write replaces it`);
    }
    return s;
  }

  /** The store as one rule sees it. */
  forRule(id: string): RuleState {
    return {
      devices: <T>(parse: (raw: unknown) => T | null) => {
        const out: [string, T][] = [];
        for (const [key, raw] of Object.entries(this.doc[id] ?? {})) {
          const v = parse(raw);
          if (v === null) this.dropped++;
          else out.push([key, v]);
        }
        if (this.dropped > 0) {
          this.warn(`${this.file}: ${this.dropped} device baseline(s) of ${id} could not be read and are learnt again`);
          this.dropped = 0;
        }
        return out;
      },
      keep: (snapshot) => {
        this.snapshots.set(id, snapshot);
      },
    };
  }

  /**
   * Writes every rule's devices now. Sections of rules not running (switched
   * off in this run) are kept as read. A failed write (disk full, the folder
   * gone) is a warning, once, not a failed run: the next write tries again.
   */
  save(): void {
    const rules: StateDoc['rules'] = { ...this.doc };
    for (const [id, snapshot] of this.snapshots) {
      const section: Record<string, unknown> = {};
      for (const [k, v] of snapshot()) section[k] = v;
      rules[id] = section;
    }
    const doc: StateDoc = { format: STATE_FORMAT, version: STATE_VERSION, written: new Date().toISOString(), rules };
    try {
      writeAtomically(this.file, `${JSON.stringify(doc)}\n`);
      this.writeFailed = false;
    } catch (e) {
      if (!this.writeFailed) this.warn(`${this.file}: baselines could not be written (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); learning goes on in memory and the next write tries again`);
      this.writeFailed = true;
    }
  }
}

/** The file's content; null when there is none; a reason when it cannot be used. */
function readState(file: string): StateDoc | string | null {
  if (!existsSync(file)) return null;
  let text: string;
  try {
    if (statSync(file).size > MAX_STATE_BYTES) return `larger than ${MAX_STATE_BYTES / 1024 / 1024} MB`;
    text = readFileSync(file, 'utf8');
  } catch (e) {
    return `cannot be read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`;
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    return text.trim() === '' ? 'empty file' : `not JSON (${(e as Error).message})`;
  }
  return problem(doc) ?? (doc as StateDoc);
}

/** What `phonehome baseline reset` did. */
export interface ResetResult {
  file: string;
  /** per device asked for: the rules whose baseline of it was removed (empty: it had none) */
  removed: Map<string, string[]>;
}

/**
 * Forgets devices (or every device: `devices` null) in a --state folder, so
 * that each is learnt again from its next Internet flow. The file is
 * rewritten atomically; a process running with the same folder overwrites it
 * at its next write, so stop it first. A file that cannot be used is a
 * UsageError naming it (nothing is changed).
 */
export function resetDevices(dir: string, devices: string[] | null): ResetResult {
  const file = join(dir, STATE_FILE);
  const read = readState(file);
  const removed = new Map<string, string[]>();
  if (read === null) {
    for (const d of devices ?? []) removed.set(d, []);
    return { file, removed };
  }
  if (typeof read === 'string') throw new UsageError(`${file}: ${read}; the next run with --state ${dir} moves it aside and learns again`);
  for (const [rule, section] of Object.entries(read.rules)) {
    for (const key of devices ?? Object.keys(section)) {
      const list = removed.get(key) ?? [];
      removed.set(key, list);
      if (Object.hasOwn(section, key)) {
        delete section[key];
        list.push(rule);
      }
    }
  }
  for (const d of devices ?? []) if (!removed.has(d)) removed.set(d, []);
  writeAtomically(file, `${JSON.stringify({ ...read, written: new Date().toISOString() })}\n`);
  return { file, removed };
}
