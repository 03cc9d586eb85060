// The error contract: ExitCode is the README's exit-code table; every sensor
// error is a PhonehomeError keeping its code, exit code and HTTP status; and
// the CLI ends each user mistake with exactly the message the error makes
// (one line, no stack) and the exit code the catalogue gives it.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExitCode, isPhonehomeError, PhonehomeError } from '../../contract/errors.js';
import { readCaptureFile, sniffCapture } from '../../sensor/capture/reader.js';
import { runAnalyze } from '../../sensor/commands/analyze.js';
import { loadDetectionConfig } from '../../sensor/detect/config.js';
import { loadProfiles } from '../../sensor/detect/profiles/load.js';
import { GeoIp } from '../../sensor/enrich/geoip.js';
import { CaptureError, ConfigError, GeoIpError, ProfileError, SpoolFullError, SpoolLockedError, UsageError } from '../../sensor/errors.js';
import { phonehome } from '../helpers/cli.js';
import { fixture, GEOIP_DIR } from '../helpers/corpus.js';
import { ROOT } from '../helpers/repo.js';

const tmp = mkdtempSync(join(tmpdir(), 'phonehome-errors-'));

/** The error fn throws (sync or async). */
async function thrown(fn: () => unknown): Promise<unknown> {
  try {
    await fn();
  } catch (e) {
    return e;
  }
  throw new Error('nothing was thrown');
}

describe('ExitCode', () => {
  it("is the README's exit-code table, name for name and number for number", () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const section = readme.split('<!-- errors:begin -->')[1].split('<!-- errors:end -->')[0];
    const rows = [...section.matchAll(/^\| (\d+) \| ([A-Z]+) \|/gm)].map((m) => [m[2], Number(m[1])]);
    expect(rows.length).toBe(4);
    expect(Object.entries(ExitCode)).toEqual(rows);
  });

  it("agrees with analyze --help's exit codes", () => {
    const help = phonehome(['analyze', '--help']).stdout.replace(/\s+/g, ' ');
    expect(help).toContain(`Exit codes: ${ExitCode.OK} read everything`);
    expect(help).toContain(`${ExitCode.PARTIAL} a file had a corrupt record`);
    expect(help).toContain(`${ExitCode.USAGE} bad arguments`);
  });
});

describe('sensor errors keep the shape of PhonehomeError', () => {
  const cases: [string, PhonehomeError, string, number, string, number][] = [
    // name, error, code, HTTP status, message, exit code
    ['UsageError', new UsageError('--x is unknown'), 'USAGE', 400, '--x is unknown', ExitCode.USAGE],
    // A corrupt record ends a read part-way: what came before it stands, the run finishes partly.
    ['CaptureError', new CaptureError('CORRUPT_RECORD', 'a.pcap', 1234, 'record claims 99999999 bytes'), 'CORRUPT_RECORD', 400, 'a.pcap at byte 1234: record claims 99999999 bytes', ExitCode.PARTIAL],
    ['CaptureError', new CaptureError('IO', 'b.pcap', null, 'no such file'), 'IO', 400, 'b.pcap: no such file', ExitCode.USAGE],
    ['ConfigError', new ConfigError('d.yaml', 7, 'bad severity'), 'DETECTIONS_INVALID', 400, 'd.yaml:7: bad severity', ExitCode.USAGE],
    ['ConfigError', new ConfigError('d.yaml', null, 'cannot be read'), 'DETECTIONS_INVALID', 400, 'd.yaml: cannot be read', ExitCode.USAGE],
    ['ProfileError', new ProfileError('MUD_INVALID', 'm.json', 3, 'not JSON'), 'MUD_INVALID', 400, 'm.json:3: not JSON', ExitCode.USAGE],
    ['GeoIpError', new GeoIpError('g.mmdb', 'the database is corrupt'), 'GEOIP_INVALID', 400, 'g.mmdb: the database is corrupt', ExitCode.USAGE],
    ['SpoolFullError', new SpoolFullError('spool full'), 'SPOOL_FULL', 507, 'spool full', ExitCode.USAGE],
    ['SpoolLockedError', new SpoolLockedError('locked by pid 7'), 'SPOOL_LOCKED', 400, 'locked by pid 7', ExitCode.USAGE],
  ];

  for (const [name, e, code, status, message, exit] of cases) {
    it(`${name} ${code}: an Error and a PhonehomeError with code, exit code ${exit}, HTTP ${status} and its message`, () => {
      expect(e).toBeInstanceOf(Error);
      expect(e).toBeInstanceOf(PhonehomeError);
      expect(isPhonehomeError(e)).toBe(true);
      expect(e.name).toBe(name);
      expect(e.code).toBe(code);
      expect(e.code).toMatch(/^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/);
      expect(e.exitCode).toBe(exit);
      expect(e.httpStatus).toBe(status);
      expect(e.message).toBe(message);
      expect(String(e)).toBe(`${name}: ${message}`);
      expect(e.stack).toContain(message);
    });
  }

  it('isPhonehomeError is false for other errors and for look-alikes', () => {
    for (const x of [new Error('x'), new TypeError('x'), { code: 'USAGE', exitCode: 2, httpStatus: 400, message: 'x' }, null, undefined, 'USAGE']) expect(isPhonehomeError(x)).toBe(false);
  });
});

describe('the CLI ends each user mistake with the error it makes', () => {
  /** The CLI's run must end exactly as the edge promises for this error: its exit code, and "phonehome: <message>" alone. */
  function endsWith(args: string[], e: unknown) {
    expect(isPhonehomeError(e), String(e)).toBe(true);
    const err = e as PhonehomeError;
    const r = phonehome(args);
    expect(r.code, r.stderr).toBe(err.exitCode);
    expect(r.stderr).toBe(`phonehome: ${err.message}\n`);
    return r;
  }

  it('bad arguments: the UsageError the argument parser raises, exit 2', async () => {
    for (const args of [['--frobnicate', 'x'], ['--max-flows', '-3', 'x'], ['--watch-countries', 'China', 'x'], ['--profiles', 'p', '--no-profiles', 'x'], ['--workers', '65', 'x'], []]) {
      const e = await thrown(() => runAnalyze(args));
      expect(e).toBeInstanceOf(UsageError);
      endsWith(['analyze', ...args], e);
    }
  });

  it('not a capture: the CaptureError naming the file, exit 2', async () => {
    const f = join(tmp, 'notes.md');
    writeFileSync(f, '\x00\x01binary but not a capture');
    const e = await thrown(() => sniffCapture(f));
    expect((e as CaptureError).code).toBe('NOT_A_CAPTURE');
    const r = endsWith(['analyze', f], e);
    expect(r.stderr).toContain(f);
  });

  it('a bad detections file: the ConfigError naming file:line, exit 2', async () => {
    for (const [name, text] of [['syntax.yaml', 'rules:\n  beaconing: {enabled: true\n'], ['unknown.yaml', 'rules:\n  direct-ip:\n    enabled: true\n  no-such-rule:\n    enabled: true\n']]) {
      const f = join(tmp, name);
      writeFileSync(f, text);
      const e = await thrown(() => loadDetectionConfig(f));
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as ConfigError).line).not.toBeNull();
      const r = endsWith(['analyze', fixture('Withings'), '--detections', f], e);
      expect(r.stderr.startsWith(`phonehome: ${f}:${(e as ConfigError).line}: `)).toBe(true);
    }
  });

  it('a bad device profile: the ProfileError naming file:line, exit 2', async () => {
    for (const bad of ['bad-port.yaml', 'unknown-key.yaml', 'yaml-syntax.yaml']) {
      const dir = join(tmp, `profiles-${bad}`);
      mkdirSync(dir);
      copyFileSync(join(ROOT, 'tests/fixtures/profiles-bad', bad), join(dir, bad));
      const e = await thrown(() => loadProfiles(dir));
      expect(e).toBeInstanceOf(ProfileError);
      const r = endsWith(['analyze', fixture('Withings'), '--profiles', dir], e);
      expect(r.stderr).toMatch(new RegExp(`^phonehome: ${join(dir, bad).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+: `));
    }
  });

  it('a file given as a GeoIP database: the GeoIpError naming it, exit 2', async () => {
    const f = join(GEOIP_DIR, 'MaxMind-DB-test-broken-pointers-24.mmdb');
    const e = await thrown(() => GeoIp.open([f]));
    expect(e).toBeInstanceOf(GeoIpError);
    endsWith(['analyze', fixture('Withings'), '--geoip', f], e);
  });

  it('a corrupt record: the CaptureError with its byte offset as one error line, the rest analysed, exit PARTIAL (1), also with workers', async () => {
    const buf = Buffer.from(readFileSync(fixture('HueBridge')));
    let at = 24;
    for (let i = 0; i < 100; i++) at += 16 + buf.readUInt32LE(at + 8);
    buf.writeUInt32LE(0x40000000, at + 8);
    const f = join(tmp, 'corrupt.pcap');
    writeFileSync(f, buf);
    const read = await readCaptureFile(f, () => {});
    expect(read.error?.code).toBe('CORRUPT_RECORD');
    expect(read.error?.offset).toBe(at);
    expect(read.packets).toBe(100);
    for (const extra of [[], ['--workers', '2']]) {
      const r = phonehome(['analyze', f, ...extra]);
      expect(r.code, extra.join(' ')).toBe(ExitCode.PARTIAL);
      expect(r.stderr, extra.join(' ')).toBe(`phonehome: error: ${read.error!.message}\n`);
      expect(r.stdout.split('\n')[0], extra.join(' ')).toMatch(/^1 capture, 100 packets, /);
    }
  });

  // A capture of a version phonehome does not read is unreadable as a whole, like one that is no capture: exit 2.
  it('a capture of an unsupported version: the CaptureError UNSUPPORTED, exit 2', async () => {
    const f = join(tmp, 'v3.pcap');
    const h = Buffer.alloc(24);
    h.writeUInt32LE(0xa1b2c3d4, 0);
    h.writeUInt16LE(3, 4);
    h.writeUInt32LE(65535, 16);
    h.writeUInt32LE(1, 20);
    writeFileSync(f, h);
    const read = await readCaptureFile(f, () => {});
    expect(read.error?.code).toBe('UNSUPPORTED');
    const r = phonehome(['analyze', f]);
    expect(r.code).toBe(read.error!.exitCode);
  });

  // An --out or --evidence path that cannot be a folder is a mistake the user can fix, found before reading.
  it('an --out or --evidence path under a file: one line naming it, exit 2, no stack', () => {
    const file = join(tmp, 'plain-file');
    writeFileSync(file, 'x');
    for (const opt of ['--out', '--evidence']) {
      const r = phonehome(['analyze', fixture('Withings'), opt, join(file, 'sub')]);
      expect(r.code, opt).toBe(ExitCode.USAGE);
      expect(r.stderr.trim().split('\n'), opt).toHaveLength(1);
      expect(r.stderr, opt).toContain(join(file, 'sub'));
      expect(r.stderr, opt).not.toMatch(/\n\s+at /);
    }
  });
});
