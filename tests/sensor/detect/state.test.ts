// The --state store: one versioned JSON file per folder, written whole through
// a temporary file and a rename; a file it cannot use is moved aside with one
// warning and learning starts again; entries a rule refuses are dropped and
// that device learnt again; reset forgets devices in every rule's section.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resetDevices, STATE_FILE, StateStore } from '../../../sensor/detect/state.js';
import { UsageError } from '../../../sensor/errors.js';
import { tempDir } from '../../helpers/detection.js';

const A = '02:00:00:00:00:0a';
const B = '02:00:00:00:00:0b';
const doc = (rules: Record<string, Record<string, unknown>>, version = 1) => JSON.stringify({ format: 'phonehome-baseline', version, written: '2024-01-01T00:00:00Z', rules });

function open(dir: string): { store: StateStore; warnings: string[] } {
  const warnings: string[] = [];
  return { store: StateStore.open(dir, (m) => warnings.push(m), () => 1234), warnings };
}

describe('StateStore', () => {
  it('writes each rule\'s devices in order, and a new store reads them back', () => {
    const dir = tempDir('state');
    const { store, warnings } = open(dir);
    store.forRule('r1').keep(() => [[A, { n: 1 }], [B, { n: 2 }]]);
    store.forRule('r2').keep(() => [[B, [3]]]);
    store.save();
    expect(warnings).toEqual([]);
    const written = JSON.parse(readFileSync(join(dir, STATE_FILE), 'utf8'));
    expect(written).toMatchObject({ format: 'phonehome-baseline', version: 1, rules: { r1: { [A]: { n: 1 }, [B]: { n: 2 } }, r2: { [B]: [3] } } });
    expect(readdirSync(dir)).toEqual([STATE_FILE]);
    const again = open(dir).store;
    expect(again.forRule('r1').devices((raw) => raw as { n: number })).toEqual([[A, { n: 1 }], [B, { n: 2 }]]);
    expect(again.forRule('missing').devices((raw) => raw)).toEqual([]);
  });

  it('keeps the section of a rule that did not run, as it was read', () => {
    const dir = tempDir('state');
    writeFileSync(join(dir, STATE_FILE), doc({ off: { [A]: { kept: true } } }));
    const { store } = open(dir);
    store.forRule('on').keep(() => [[B, 1]]);
    store.save();
    expect(JSON.parse(readFileSync(join(dir, STATE_FILE), 'utf8')).rules).toEqual({ off: { [A]: { kept: true } }, on: { [B]: 1 } });
  });

  for (const [what, text, reason] of [
    ['cut in the middle', doc({ r: { [A]: 1 } }).slice(0, 30), /not JSON/],
    ['empty', '', /empty file/],
    ['of an unknown version', doc({}, 7), /format version 7 is not one this phonehome reads \(1\)/],
    ['of another format', JSON.stringify({ format: 'other', version: 1, rules: {} }), /format is "other"/],
    ['with a key that is not a device', doc({ r: { '../../etc': 1 } }), /not a MAC or address/],
  ] as const) {
    it(`a file ${what} is moved aside with one warning, and learning starts again`, () => {
      const dir = tempDir('state');
      const file = join(dir, STATE_FILE);
      writeFileSync(file, text);
      const { store, warnings } = open(dir);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(reason);
      expect(warnings[0]).toContain(`moved to ${file}.corrupt-1234`);
      expect(readFileSync(`${file}.corrupt-1234`, 'utf8')).toBe(text);
      expect(existsSync(file)).toBe(false);
      expect(store.forRule('r').devices((raw) => raw)).toEqual([]);
      store.save();
      expect(JSON.parse(readFileSync(file, 'utf8')).version).toBe(1);
    });
  }

  it('drops the entries a rule refuses, with one warning naming how many', () => {
    const dir = tempDir('state');
    writeFileSync(join(dir, STATE_FILE), doc({ r: { [A]: { n: 1 }, [B]: 'garbage' } }));
    const { store, warnings } = open(dir);
    const got = store.forRule('r').devices((raw) => (typeof raw === 'object' ? raw : null));
    expect(got).toEqual([[A, { n: 1 }]]);
    expect(warnings).toEqual([`${join(dir, STATE_FILE)}: 1 device baseline(s) of r could not be read and are learnt again`]);
  });

  it('a write that fails is one warning, not an error, however often it fails; the next that works writes', () => {
    const dir = tempDir('state');
    const { store, warnings } = open(dir);
    // the temporary file's name taken by a folder: the write fails (as root too)
    const blocker = join(dir, `${STATE_FILE}.tmp-${process.pid}`);
    mkdirSync(blocker);
    store.save();
    store.save();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/baselines could not be written \(EISDIR\)/);
    expect(existsSync(join(dir, STATE_FILE))).toBe(false);
    rmdirSync(blocker);
    store.save();
    expect(existsSync(join(dir, STATE_FILE))).toBe(true);
  });

  it('a folder that cannot be made is a UsageError naming it', () => {
    const file = join(tempDir('state'), 'a-file');
    writeFileSync(file, 'x');
    expect(() => StateStore.open(join(file, 'sub'), () => {})).toThrow(UsageError);
    expect(() => StateStore.open(join(file, 'sub'), () => {})).toThrow(`--state ${join(file, 'sub')}: cannot be made a folder (ENOTDIR)`);
  });
});

describe('resetDevices', () => {
  it('forgets a device in every rule, leaving the others', () => {
    const dir = tempDir('state');
    writeFileSync(join(dir, STATE_FILE), doc({ r1: { [A]: 1, [B]: 2 }, r2: { [A]: 3 } }));
    const r = resetDevices(dir, [A, '02:00:00:00:00:0c']);
    expect([...r.removed]).toEqual([[A, ['r1', 'r2']], ['02:00:00:00:00:0c', []]]);
    expect(JSON.parse(readFileSync(join(dir, STATE_FILE), 'utf8')).rules).toEqual({ r1: { [B]: 2 }, r2: {} });
    expect(resetDevices(dir, null).removed.size).toBe(1);
    expect(JSON.parse(readFileSync(join(dir, STATE_FILE), 'utf8')).rules).toEqual({ r1: {}, r2: {} });
  });

  it('refuses a file it cannot read, changing nothing', () => {
    const dir = tempDir('state');
    writeFileSync(join(dir, STATE_FILE), '{"format"');
    expect(() => resetDevices(dir, [A])).toThrow(/not JSON.*the next run with --state .* moves it aside/);
    expect(readFileSync(join(dir, STATE_FILE), 'utf8')).toBe('{"format"');
  });
});
