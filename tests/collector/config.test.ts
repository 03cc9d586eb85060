// Collector settings from flags, the environment and a YAML file, and the
// CollectorConfigError (exit code 2) every mistake in them is.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULTS, fromEnv, fromFile, parseListen, parseSensorToken, validate } from '../../collector/config.js';
import { CollectorConfigError } from '../../collector/errors.js';
import { errorOf } from '../helpers/errors.js';

const tmp = mkdtempSync(join(tmpdir(), 'phonehome-config-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function yaml(text: string): string {
  const f = join(tmp, `c-${Math.random()}.yaml`);
  writeFileSync(f, text);
  return f;
}

const refused = (fn: () => unknown): CollectorConfigError => {
  const e = errorOf(CollectorConfigError, fn);
  expect(e).toMatchObject({ code: 'COLLECTOR_CONFIG', exitCode: 2 });
  return e;
};

const VALID = { ...DEFAULTS, sensorTokens: [{ name: 'lab', secret: 'lab-sensor-secret-0123' }], apiToken: 'analyst-secret-0123456789' };

describe('collector settings', () => {
  it('listen addresses: HOST:PORT, [IPv6]:PORT or a bare PORT (all interfaces)', () => {
    expect(parseListen('127.0.0.1:8080', 'x')).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(parseListen('[::1]:9000', 'x')).toEqual({ host: '::1', port: 9000 });
    expect(parseListen('8081', 'x')).toEqual({ host: '0.0.0.0', port: 8081 });
    expect(refused(() => parseListen('localhost', '--listen')).message).toBe("--listen: listen address must be HOST:PORT or PORT, got 'localhost'");
    refused(() => parseListen('host:70000', '--listen'));
  });

  it('sensor tokens: NAME:SECRET with a secret of at least 16 characters, never echoed', () => {
    expect(parseSensorToken('lab:0123456789abcdef', 'x')).toEqual({ name: 'lab', secret: '0123456789abcdef' });
    expect(parseSensorToken('lab:a:b:0123456789abcdef', 'x')).toEqual({ name: 'lab', secret: 'a:b:0123456789abcdef' });
    const bad = refused(() => parseSensorToken(':hunter2-hunter2-hunter2', '--sensor-token'));
    expect(bad.message).toBe("--sensor-token: sensor token must be NAME:SECRET, got ':...'");
    expect(refused(() => parseSensorToken('lab:short', 'PHONEHOME_SENSOR_TOKENS')).message).toBe("PHONEHOME_SENSOR_TOKENS: the secret of sensor 'lab' is 5 characters; use at least 16");
  });

  it('a YAML file: every setting, each named in its mistakes', () => {
    const f = yaml('listen: 0.0.0.0:9090\ndb: postgres://x/y\nsensor_tokens: [a:0123456789abcdef]\napi_token: t\nmetrics_token: m\nalertmanager: http://am:9093\npublic_url: https://p\nbody_limit_bytes: 10\nrate_limit_per_minute: 5\nlog_level: warn\n');
    expect(fromFile(f)).toEqual({
      host: '0.0.0.0', port: 9090, db: 'postgres://x/y', sensorTokens: [{ name: 'a', secret: '0123456789abcdef' }], apiToken: 't', metricsToken: 'm',
      alertmanager: 'http://am:9093', publicUrl: 'https://p', bodyLimitBytes: 10, rateLimitPerMinute: 5, logLevel: 'warn',
    });
    const unknown = yaml('colour: blue\n');
    expect(refused(() => fromFile(unknown)).message).toMatch(new RegExp(`^${unknown}: unknown setting 'colour' \\(listen, db, `));
    expect(refused(() => fromFile(yaml('- a\n- b\n'))).message).toMatch(/: expected a mapping of settings$/);
    // Names every object has are not settings: a file saying constructor: x is refused like any unknown key.
    for (const key of ['constructor', 'toString', '__proto__']) expect(refused(() => fromFile(yaml(`${key}: x\n`))).message, key).toMatch(new RegExp(`unknown setting '${key}'`));
    expect(refused(() => fromFile(yaml('sensor_tokens: a:0123456789abcdef\n'))).message).toMatch(/: sensor_tokens must be a list of NAME:SECRET$/);
    expect(refused(() => fromFile(yaml('db: [1]\n'))).message).toMatch(/: db must be a string$/);
    expect(refused(() => fromFile(yaml('a: [\n'))).message).toMatch(/^\/.+\.yaml: /);
    refused(() => fromFile(join(tmp, 'missing.yaml')));
  });

  it('the environment: PHONEHOME_* variables, a comma-separated token list', () => {
    expect(fromEnv({ PHONEHOME_LISTEN: '9000', PHONEHOME_SENSOR_TOKENS: 'a:0123456789abcdef, b:fedcba9876543210', PHONEHOME_BODY_LIMIT_BYTES: '100', HOME: '/root' })).toEqual({
      host: '0.0.0.0', port: 9000, sensorTokens: [{ name: 'a', secret: '0123456789abcdef' }, { name: 'b', secret: 'fedcba9876543210' }], bodyLimitBytes: 100,
    });
    expect(fromEnv({})).toEqual({});
  });

  it('validation: a sensor token, an API token of 16+ characters, positive limits, an http(s) Alertmanager', () => {
    expect(validate(VALID)).toBe(VALID);
    expect(refused(() => validate({ ...VALID, sensorTokens: [] })).message).toMatch(/^no sensor can send events: give --sensor-token/);
    expect(refused(() => validate({ ...VALID, apiToken: null })).message).toMatch(/^the analyst API needs a token/);
    expect(refused(() => validate({ ...VALID, apiToken: 'short' })).message).toBe('--api-token must be at least 16 characters');
    expect(refused(() => validate({ ...VALID, bodyLimitBytes: NaN })).message).toBe('body_limit_bytes must be a positive number');
    expect(refused(() => validate({ ...VALID, rateLimitPerMinute: 0 })).message).toBe('rate_limit_per_minute must be a positive number');
    expect(refused(() => validate({ ...VALID, alertmanager: 'am:9093' })).message).toBe("--alertmanager must be an http(s) URL, got 'am:9093'");
  });
});
