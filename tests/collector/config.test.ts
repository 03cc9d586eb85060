// Collector settings from flags, the environment and a YAML file, and the
// CollectorConfigError (exit code 2) every mistake in them is.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { apiTokensOf, DEFAULTS, fromEnv, fromFile, merge, parseApiToken, parseListen, parseRetention, parseSensorToken, readTls, readTokenFile, validate } from '../../collector/config.js';
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
  it('listen addresses: HOST:PORT, [IPv6]:PORT or a bare PORT (loopback only)', () => {
    expect(parseListen('127.0.0.1:8080', 'x')).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(parseListen('[::1]:9000', 'x')).toEqual({ host: '::1', port: 9000 });
    expect(parseListen('8081', 'x')).toEqual({ host: '127.0.0.1', port: 8081 });
    expect(parseListen('0.0.0.0:8081', 'x')).toEqual({ host: '0.0.0.0', port: 8081 });
    expect(refused(() => parseListen('localhost', '--listen')).message).toBe("--listen: listen address must be HOST:PORT or PORT, got 'localhost'");
    refused(() => parseListen('host:70000', '--listen'));
  });

  it('sensor tokens: NAME:SECRET with a secret of at least 16 characters, never echoed', () => {
    expect(parseSensorToken('lab:0123456789abcdef', 'x')).toEqual({ name: 'lab', secret: '0123456789abcdef' });
    expect(parseSensorToken('lab:a:b:0123456789abcdef', 'x')).toEqual({ name: 'lab', secret: 'a:b:0123456789abcdef' });
    const bad = refused(() => parseSensorToken(':hunter2-hunter2-hunter2', '--sensor-token'));
    expect(bad.message).toBe("--sensor-token: sensor token must be NAME:SECRET, got ':...'");
    expect(refused(() => parseSensorToken('lab:short', 'PHONEHOME_SENSOR_TOKENS')).message).toBe("PHONEHOME_SENSOR_TOKENS: the secret of sensor 'lab' is 5 characters; use at least 16");
    // A bare secret (the colon forgotten) is not echoed either.
    expect(refused(() => parseSensorToken('hunter2-hunter2-hunter2', 'x')).message).toBe("x: sensor token must be NAME:SECRET, got a value without ':'");
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
      host: '127.0.0.1', port: 9000, sensorTokens: [{ name: 'a', secret: '0123456789abcdef' }, { name: 'b', secret: 'fedcba9876543210' }], bodyLimitBytes: 100,
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

  it('API tokens: NAME:ROLE:SECRET with a role of viewer, analyst or admin; the single --api-token is an admin named api-token', () => {
    expect(parseApiToken('soc-1:analyst:0123456789abcdef:x', 'x')).toEqual({ name: 'soc-1', role: 'analyst', secret: '0123456789abcdef:x' });
    expect(refused(() => parseApiToken('soc-1:root:0123456789abcdef', 'f line 2')).message).toBe("f line 2: the role of API token 'soc-1' must be viewer, analyst, admin, got 'root'");
    expect(refused(() => parseApiToken('soc-1:viewer:short', 'x')).message).toBe("x: the secret of API token 'soc-1' is 5 characters; use at least 16");
    expect(refused(() => parseApiToken('hunter2-hunter2-hunter2', 'x')).message).not.toContain('hunter2');
    expect(refused(() => parseApiToken('a b:viewer:0123456789abcdef', 'x')).message).toMatch(/name must be letters, digits/);
    const c = { ...VALID, apiTokens: [{ name: 'ro', role: 'viewer' as const, secret: 'viewer-secret-0123456789' }] };
    expect(apiTokensOf(c).map((t) => `${t.name}:${t.role}`)).toEqual(['api-token:admin', 'ro:viewer']);
    expect(validate({ ...c, apiToken: null })).toMatchObject({ apiToken: null });
    expect(refused(() => validate({ ...c, apiTokens: [...c.apiTokens, { name: 'ro', role: 'admin', secret: 'other-secret-0123456789' }] })).message).toMatch(/^two API tokens are named 'ro'/);
    expect(refused(() => validate({ ...c, apiTokens: [{ name: 'x', role: 'viewer', secret: VALID.apiToken }] })).message).toMatch(/^two API tokens have the same secret/);
    expect(refused(() => validate({ ...VALID, sensorTokens: [...VALID.sensorTokens, ...VALID.sensorTokens] })).message).toMatch(/^two sensor tokens are named 'lab'/);
  });

  it('token files: one token a line, comments and blank lines skipped; a mistake names file and line, never the secret', () => {
    const f = yaml('# sensors\nlab:lab-sensor-secret-0123\n\n  roof:roof-sensor-secret-0123  \n');
    expect(readTokenFile(f, '--sensor-token-file', parseSensorToken)).toEqual([{ name: 'lab', secret: 'lab-sensor-secret-0123' }, { name: 'roof', secret: 'roof-sensor-secret-0123' }]);
    const bad = yaml('lab:lab-sensor-secret-0123\nroof:tooshort-secret\nhunter2-hunter2-hunter2\n');
    expect(refused(() => readTokenFile(bad, '--sensor-token-file', parseSensorToken)).message).toBe(`--sensor-token-file ${bad} line 2: the secret of sensor 'roof' is 15 characters; use at least 16`);
    expect(refused(() => readTokenFile(join(tmp, 'nope'), '--api-token-file', parseApiToken)).message).toBe(`--api-token-file ${join(tmp, 'nope')}: cannot read it (ENOENT)`);
    expect(refused(() => readTokenFile(yaml('# none\n'), 'x', parseApiToken)).message).toMatch(/: holds no token$/);
    // In a config file, token files, like certificates, are found next to it.
    const tokens = join(tmp, 'api.tokens');
    writeFileSync(tokens, 'ro:viewer:viewer-secret-0123456789\n');
    expect(fromFile(yaml('api_token_file: api.tokens\ntls_cert: cert.pem\n'))).toEqual({ apiTokens: [{ name: 'ro', role: 'viewer', secret: 'viewer-secret-0123456789' }], tlsCert: join(tmp, 'cert.pem') });
    expect(fromEnv({ PHONEHOME_API_TOKEN_FILE: tokens, PHONEHOME_API_TOKENS: 'soc:analyst:analyst-secret-0123456789' }).apiTokens?.map((t) => t.name)).toEqual(['soc', 'ro']);
  });

  it('retention: days per kind from the file, the environment and flags, each kind from the highest source that names it', () => {
    expect(DEFAULTS.retentionDays).toEqual({ flows: 30, alerts: 365, evidence: 365, dead_letters: 30 });
    expect(parseRetention('flows=7, evidence=0', 'x')).toEqual({ flows: 7, evidence: 0 });
    expect(fromFile(yaml('retention:\n  alerts: 90\n  flows: 14\n'))).toEqual({ retentionDays: { alerts: 90, flows: 14 } });
    const c = merge(fromFile(yaml('retention: {alerts: 90, flows: 14}\n')), fromEnv({ PHONEHOME_RETENTION: 'flows=7' }), { retentionDays: { evidence: 1.5 } });
    expect(c.retentionDays).toEqual({ flows: 7, alerts: 90, evidence: 1.5, dead_letters: 30 });
    expect(DEFAULTS.retentionDays.flows).toBe(30);
    expect(refused(() => parseRetention('logs=3', '--retention')).message).toBe("--retention: unknown kind 'logs' (flows, alerts, evidence, dead_letters)");
    expect(refused(() => parseRetention('flows=-1', '--retention')).message).toBe("--retention: flows must be a number of days (0 keeps forever), got '-1'");
    expect(refused(() => parseRetention('flows', 'PHONEHOME_RETENTION')).message).toMatch(/flows must be a number of days/);
  });

  it('TLS: cert and key together, a client CA only with them, unreadable files named', () => {
    expect(refused(() => validate({ ...VALID, tlsCert: '/c.pem' })).message).toBe('HTTPS needs both --tls-cert and --tls-key');
    expect(refused(() => validate({ ...VALID, tlsClientCa: '/ca.pem' })).message).toBe('--tls-client-ca needs HTTPS: give --tls-cert and --tls-key as well');
    expect(readTls(VALID)).toBeNull();
    const missing = join(tmp, 'missing.pem');
    expect(refused(() => readTls({ ...VALID, tlsCert: missing, tlsKey: missing })).message).toBe(`--tls-cert ${missing}: cannot read it (ENOENT)`);
    const junk = yaml('not a certificate\n');
    expect(refused(() => readTls({ ...VALID, tlsCert: junk, tlsKey: junk })).message).toMatch(new RegExp(`^--tls-cert ${junk} and --tls-key ${junk}: not a PEM certificate and its private key \\(`));
  });
});

describe('SIEM forwarder settings', () => {
  it('come from forward_* file keys and PHONEHOME_FORWARD_* variables, relative paths from the file', () => {
    const f = yaml('forward_syslog: tls://siem.example.org:6514\nforward_syslog_ca: ca.pem\nforward_format: ecs\nforward_retry_max_s: 5\n');
    const c = validate(merge(VALID, fromFile(f), fromEnv({ PHONEHOME_FORWARD_WEBHOOK: 'https://u:p@siem/x', PHONEHOME_FORWARD_RETRY_MAX_S: '7' })));
    expect(c).toMatchObject({ forwardSyslog: 'tls://siem.example.org:6514', forwardSyslogCa: join(tmp, 'ca.pem'), forwardFormat: 'ecs', forwardWebhook: 'https://u:p@siem/x', forwardRetryMaxS: 7 });
  });

  it('mistakes are one line naming the setting, and a webhook password is never echoed', () => {
    expect(refused(() => validate({ ...VALID, forwardSyslog: 'udp://siem:514' })).message).toMatch(/forward_syslog: must be tcp:\/\/HOST:PORT or tls:\/\/HOST:PORT/);
    expect(refused(() => validate({ ...VALID, forwardSyslog: 'tcp://siem:514', forwardSyslogCa: '/ca.pem' })).message).toMatch(/need forward_syslog tls:/);
    expect(refused(() => validate({ ...VALID, forwardSyslog: 'tls://siem:6514', forwardSyslogCert: '/c.pem' })).message).toMatch(/both forward_syslog_cert and forward_syslog_key/);
    const hook = refused(() => validate({ ...VALID, forwardWebhook: 'ftp://u:s3cret@siem/' })).message;
    expect(hook).toMatch(/forward_webhook must be an http\(s\) URL/);
    expect(hook).not.toContain('s3cret');
    expect(refused(() => validate({ ...VALID, forwardFormat: 'cef' as never })).message).toMatch(/forward_format must be eve or ecs/);
    expect(refused(() => validate({ ...VALID, forwardRetryMaxS: 0 })).message).toMatch(/forward_retry_max_s/);
  });
});
