// The argument parsing analyze and sensor share: a mistake is a UsageError
// (exit 2) with one line naming the option and what was given; numbers must
// be positive (whole where they count something); countries are ISO 3166-1
// alpha-2 codes; the analysis options mean the same to both commands.
import { describe, expect, it } from 'vitest';
import { analysisSettings, ANALYSIS_OPTIONS, countryList, parse, positiveNumber } from '../../../sensor/commands/args.js';
import { UsageError } from '../../../sensor/errors.js';
import { errorOf } from '../../helpers/errors.js';

const usage = (fn: () => unknown) => errorOf(UsageError, fn);

describe('parse', () => {
  const options = { out: { type: 'string' }, json: { type: 'boolean' }, geoip: { type: 'string', multiple: true } } as const;

  it('gives values and positionals, in any order, repeatable options as lists', () => {
    const r = parse(['a.pcap', '--out', 'res', '--json', 'b.pcap', '--geoip', 'x.mmdb', '--geoip=y.mmdb', '-'], options);
    expect(r.positionals).toEqual(['a.pcap', 'b.pcap', '-']);
    expect(r.values).toEqual({ out: 'res', json: true, geoip: ['x.mmdb', 'y.mmdb'] });
  });

  it('an unknown option, a missing value or a value given to a flag is a one-line UsageError naming the option (exit 2)', () => {
    for (const [argv, option] of [[['--frobnicate'], '--frobnicate'], [['x.pcap', '--out'], '--out'], [['--json=yes'], '--json'], [['-z'], '-z']] as const) {
      const e = usage(() => parse([...argv], options));
      expect(e.message, argv.join(' ')).toContain(option);
      expect(e.message).not.toContain('\n');
      expect(e.message).not.toMatch(/To specify/);
      expect(e.exitCode).toBe(2);
      expect(e.code).toBe('USAGE');
    }
  });
});

describe('positiveNumber', () => {
  it('absent stays absent; positive numbers are read as numbers', () => {
    expect(positiveNumber('settle', undefined)).toBeUndefined();
    expect(positiveNumber('settle', '0.5')).toBe(0.5);
    expect(positiveNumber('settle', '10')).toBe(10);
    expect(positiveNumber('max-flows', '1e5', true)).toBe(100_000);
    expect(positiveNumber('max-flows', '500000', true)).toBe(500_000);
  });

  it('zero, negatives, words, empty, infinite and (for counts) fractions are a UsageError naming the option and the value', () => {
    for (const v of ['0', '-1', '-0.5', 'abc', '', 'NaN', 'Infinity', '10s']) {
      const e = usage(() => positiveNumber('udp-timeout', v));
      expect(e.message).toBe(`--udp-timeout must be a positive number, got '${v}'`);
      expect(e.exitCode).toBe(2);
    }
    expect(usage(() => positiveNumber('max-flows', '1.5', true)).message).toBe("--max-flows must be a positive integer, got '1.5'");
    expect(usage(() => positiveNumber('max-flows', 'lots', true)).message).toBe("--max-flows must be a positive integer, got 'lots'");
  });
});

describe('countryList', () => {
  it('reads comma-separated ISO 3166-1 alpha-2 codes in any case and spacing, upper-cased', () => {
    expect(countryList(undefined)).toBeUndefined();
    expect(countryList('CN,HK,RU')).toEqual(['CN', 'HK', 'RU']);
    expect(countryList(' cn, hk ,Ru,,')).toEqual(['CN', 'HK', 'RU']);
  });

  it('a name, a three-letter code or a number is a UsageError saying what the option takes', () => {
    for (const [v, bad] of [['China', 'CHINA'], ['CN,CHN', 'CHN'], ['CN,1', '1'], ['C N', 'C N']]) {
      const e = usage(() => countryList(v));
      expect(e.message).toBe(`--watch-countries takes ISO 3166-1 alpha-2 codes separated by commas (like CN,HK,RU), got '${bad}'`);
    }
  });
});

describe('analysisSettings', () => {
  it('the options analyze and sensor share, as the pipeline takes them; timeouts only where given', () => {
    const { values } = parse(
      ['--profiles', 'p', '--detections', 'd.yaml', '--geoip', 'a.mmdb', '--geoip', 'b.mmdb', '--watch-countries', 'cn,ru', '--max-flows', '1000', '--udp-timeout', '30'],
      ANALYSIS_OPTIONS,
    );
    expect(analysisSettings(values)).toEqual({
      profilesDir: 'p', detectionsFile: 'd.yaml', geoip: ['a.mmdb', 'b.mmdb'], watchCountries: ['CN', 'RU'], maxFlows: 1000, timeouts: { udp: 30 },
    });
    expect(analysisSettings({})).toEqual({ profilesDir: undefined, detectionsFile: undefined, geoip: undefined, watchCountries: undefined, maxFlows: undefined, timeouts: {} });
    expect(analysisSettings({ 'no-profiles': true, 'tcp-timeout': '600', 'other-timeout': '5' })).toMatchObject({ profilesDir: null, timeouts: { tcp: 600, other: 5 } });
  });

  it('--profiles with --no-profiles, and a bad number or country among them, are UsageErrors', () => {
    expect(usage(() => analysisSettings({ profiles: 'p', 'no-profiles': true })).message).toBe('--profiles and --no-profiles cannot be combined');
    expect(usage(() => analysisSettings({ 'tcp-timeout': '0' })).message).toBe("--tcp-timeout must be a positive number, got '0'");
    expect(usage(() => analysisSettings({ 'max-flows': '10.5' })).message).toBe("--max-flows must be a positive integer, got '10.5'");
    expect(usage(() => analysisSettings({ 'watch-countries': 'Russia' })).message).toMatch(/^--watch-countries takes ISO/);
  });
});
