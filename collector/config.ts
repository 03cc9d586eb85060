import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import { parse as parseYaml } from 'yaml';
import { CollectorConfigError } from './errors.js';
import { SIEM_FORMATS, type SiemFormat } from '../contract/siem.js';

/** What an API token may do: viewer reads, analyst also changes alerts, admin also reads the audit log. */
export type Role = 'viewer' | 'analyst' | 'admin';
export const ROLES: readonly Role[] = ['viewer', 'analyst', 'admin'];

export interface ApiToken {
  name: string;
  role: Role;
  secret: string;
}

/** The name the audit log gives the single --api-token, which acts as admin. */
export const SINGLE_API_TOKEN_NAME = 'api-token';

/** Kinds of stored data with a retention period. */
export const RETENTION_KINDS = ['flows', 'alerts', 'evidence', 'dead_letters'] as const;
export type RetentionKind = (typeof RETENTION_KINDS)[number];

export interface CollectorConfig {
  host: string;
  port: number;
  db: string;
  sensorTokens: { name: string; secret: string }[];
  /** the single API token of earlier releases: an admin named 'api-token' */
  apiToken: string | null;
  /** named API tokens, each with its role */
  apiTokens: ApiToken[];
  /** /metrics needs this token when set; open by default so Prometheus can scrape */
  metricsToken: string | null;
  alertmanager: string | null;
  /** base URL analysts reach the collector at, for links in Alertmanager annotations */
  publicUrl: string | null;
  bodyLimitBytes: number;
  /** ingest requests per sensor per minute */
  rateLimitPerMinute: number;
  logLevel: string;
  /** PEM files: HTTPS when cert and key are set; sensors need a certificate signed by the client CA when it is set */
  tlsCert: string | null;
  tlsKey: string | null;
  tlsClientCa: string | null;
  /** days each kind is kept; 0 keeps it forever */
  retentionDays: Record<RetentionKind, number>;
  /** new alerts go to this syslog receiver (RFC 5424 over TCP, RFC 6587 octet counting): tcp://HOST:PORT or tls://HOST:PORT */
  forwardSyslog: string | null;
  /** PEM files for tls://: the CA the receiver's certificate must be signed by, and a client certificate and its key */
  forwardSyslogCa: string | null;
  forwardSyslogCert: string | null;
  forwardSyslogKey: string | null;
  /** new alerts are POSTed to this http(s) URL, a JSON array per batch */
  forwardWebhook: string | null;
  /** PEM CA for an https webhook signed by a private CA */
  forwardWebhookCa: string | null;
  /** the shape of forwarded alerts: Suricata EVE or ECS */
  forwardFormat: SiemFormat;
  /** the longest wait between two tries of a target that does not take alerts, seconds */
  forwardRetryMaxS: number;
}

export const DEFAULTS: CollectorConfig = {
  host: '127.0.0.1',
  port: 8080,
  db: 'sqlite:./phonehome.db',
  sensorTokens: [],
  apiToken: null,
  apiTokens: [],
  metricsToken: null,
  alertmanager: null,
  publicUrl: null,
  bodyLimitBytes: 8 * 1024 * 1024,
  rateLimitPerMinute: 600,
  logLevel: 'info',
  tlsCert: null,
  tlsKey: null,
  tlsClientCa: null,
  retentionDays: { flows: 30, alerts: 365, evidence: 365, dead_letters: 30 },
  forwardSyslog: null,
  forwardSyslogCa: null,
  forwardSyslogCert: null,
  forwardSyslogKey: null,
  forwardWebhook: null,
  forwardWebhookCa: null,
  forwardFormat: 'eve',
  forwardRetryMaxS: 60,
};

/** HOST:PORT, [IPv6]:PORT, or a bare PORT on loopback: listening on every interface must be asked for by name. */
export function parseListen(v: string, where: string): { host: string; port: number } {
  const m = /^(?:(\[[^\]]+\]|[^:]+):)?(\d{1,5})$/.exec(v);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port < 0 || port > 65535) throw new CollectorConfigError(`${where}: listen address must be HOST:PORT or PORT, got '${v}'`);
  return { host: (m[1] ?? '127.0.0.1').replace(/^\[|\]$/g, ''), port };
}

const TOKEN_NAME = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/;

/** Secrets are never echoed: a mistake names the token by its name, or by where it was given. */
export function parseSensorToken(v: string, where: string): { name: string; secret: string } {
  const i = v.indexOf(':');
  if (i < 0) throw new CollectorConfigError(`${where}: sensor token must be NAME:SECRET, got a value without ':'`);
  if (i === 0 || i === v.length - 1) throw new CollectorConfigError(`${where}: sensor token must be NAME:SECRET, got '${v.replace(/:.*/, ':...')}'`);
  const secret = v.slice(i + 1);
  if (secret.length < 16) throw new CollectorConfigError(`${where}: the secret of sensor '${v.slice(0, i)}' is ${secret.length} characters; use at least 16`);
  return { name: v.slice(0, i), secret };
}

/** NAME:ROLE:SECRET, the role one of viewer, analyst, admin. */
export function parseApiToken(v: string, where: string): ApiToken {
  const m = /^([^:]*):([^:]*):(.*)$/s.exec(v);
  if (!m) throw new CollectorConfigError(`${where}: API token must be NAME:ROLE:SECRET (role ${ROLES.join(', ')})`);
  const [, name, role, secret] = m;
  if (!TOKEN_NAME.test(name)) throw new CollectorConfigError(`${where}: API token name must be letters, digits and _.@- (at most 64), got '${name.slice(0, 64)}'`);
  if (!(ROLES as readonly string[]).includes(role)) throw new CollectorConfigError(`${where}: the role of API token '${name}' must be ${ROLES.join(', ')}, got '${role.slice(0, 32)}'`);
  if (secret.length < 16) throw new CollectorConfigError(`${where}: the secret of API token '${name}' is ${secret.length} characters; use at least 16`);
  return { name, role: role as Role, secret };
}

/** One token per line; blank lines and lines starting with # are skipped. Mistakes name the file and line, never the secret. */
export function readTokenFile<T>(file: string, where: string, parse: (line: string, where: string) => T): T[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new CollectorConfigError(`${where} ${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const out: T[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    const t = line.trim();
    if (t && !t.startsWith('#')) out.push(parse(t, `${where} ${file} line ${i + 1}`));
  });
  if (out.length === 0) throw new CollectorConfigError(`${where} ${file}: holds no token`);
  return out;
}

/** `flows=30,alerts=365`: days per kind, 0 keeps forever; kinds not named keep their setting. */
export function parseRetention(v: string | Record<string, unknown>, where: string): Partial<Record<RetentionKind, number>> {
  const pairs: [string, unknown][] = typeof v === 'string' ? v.split(',').filter((p) => p.trim()).map((p) => p.trim().split('=') as [string, unknown]) : Object.entries(v);
  const out: Partial<Record<RetentionKind, number>> = {};
  for (const [kind, days] of pairs) {
    if (!(RETENTION_KINDS as readonly string[]).includes(kind)) throw new CollectorConfigError(`${where}: unknown kind '${String(kind).slice(0, 32)}' (${RETENTION_KINDS.join(', ')})`);
    const n = typeof days === 'number' ? days : typeof days === 'string' && /^\d+(\.\d+)?$/.test(days.trim()) ? Number(days) : NaN;
    if (!Number.isFinite(n) || n < 0) throw new CollectorConfigError(`${where}: ${kind} must be a number of days (0 keeps forever), got '${String(days).slice(0, 32)}'`);
    out[kind as RetentionKind] = n;
  }
  return out;
}

/** What one source (flags, environment or file) sets; retention per kind, so sources mix kinds. */
export type ConfigSource = Partial<Omit<CollectorConfig, 'retentionDays'>> & { retentionDays?: Partial<Record<RetentionKind, number>> };

/** Sources from lowest to highest precedence: DEFAULTS, the config file, the environment, the flags. */
export function merge(...sources: ConfigSource[]): CollectorConfig {
  const out: CollectorConfig = { ...DEFAULTS, retentionDays: { ...DEFAULTS.retentionDays } };
  for (const s of sources) {
    const { retentionDays, ...rest } = s;
    Object.assign(out, rest);
    Object.assign(out.retentionDays, retentionDays ?? {});
  }
  return out;
}

/** Tokens given inline and in a token file by the same source are all kept. */
function addTokens<K extends 'sensorTokens' | 'apiTokens'>(out: ConfigSource, key: K, tokens: NonNullable<ConfigSource[K]>): void {
  out[key] = [...(out[key] ?? []), ...tokens] as ConfigSource[K];
}

/** Config-file keys that hold text or numbers, and the settings they set. */
const TEXT_KEYS: Record<string, keyof ConfigSource> = {
  db: 'db', api_token: 'apiToken', metrics_token: 'metricsToken', alertmanager: 'alertmanager', public_url: 'publicUrl', log_level: 'logLevel',
  forward_syslog: 'forwardSyslog', forward_webhook: 'forwardWebhook', forward_format: 'forwardFormat',
};
const PATH_KEYS: Record<string, keyof ConfigSource> = {
  tls_cert: 'tlsCert', tls_key: 'tlsKey', tls_client_ca: 'tlsClientCa',
  forward_syslog_ca: 'forwardSyslogCa', forward_syslog_cert: 'forwardSyslogCert', forward_syslog_key: 'forwardSyslogKey', forward_webhook_ca: 'forwardWebhookCa',
};
const NUMBER_KEYS: Record<string, keyof ConfigSource> = { body_limit_bytes: 'bodyLimitBytes', rate_limit_per_minute: 'rateLimitPerMinute', forward_retry_max_s: 'forwardRetryMaxS' };
const FORWARD_KEYS = ['forward_syslog', 'forward_syslog_ca', 'forward_syslog_cert', 'forward_syslog_key', 'forward_webhook', 'forward_webhook_ca', 'forward_format', 'forward_retry_max_s'];
const FILE_KEYS = ['listen', 'db', 'sensor_tokens', 'sensor_token_file', 'api_token', 'api_tokens', 'api_token_file', 'metrics_token', 'alertmanager', 'public_url', 'tls_cert', 'tls_key', 'tls_client_ca', 'retention', 'body_limit_bytes', 'rate_limit_per_minute', 'log_level', ...FORWARD_KEYS];

function readYaml(file: string): Record<string, unknown> {
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new CollectorConfigError(`${file}: ${(e as Error).message.split('\n')[0]}`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new CollectorConfigError(`${file}: expected a mapping of settings`);
  return raw as Record<string, unknown>;
}

/**
 * Settings from a YAML config file (keys as in the environment, lower-case,
 * without PHONEHOME_). Relative file paths in it are relative to the file.
 */
export function fromFile(file: string): ConfigSource {
  const out: ConfigSource = {};
  const path = (p: string) => resolve(dirname(file), p);
  for (const [k, v] of Object.entries(readYaml(file))) {
    const where = `${file}: ${k}`;
    const s = (x: unknown) => {
      if (typeof x !== 'string' && typeof x !== 'number') throw new CollectorConfigError(`${where} must be a string`);
      return String(x);
    };
    const list = (what: string) => {
      if (!Array.isArray(v)) throw new CollectorConfigError(`${where} must be a list of ${what}`);
      return v.map(s);
    };
    if (k === 'listen') Object.assign(out, parseListen(s(v), where));
    else if (k === 'sensor_tokens') addTokens(out, 'sensorTokens', list('NAME:SECRET').map((t) => parseSensorToken(t, where)));
    else if (k === 'api_tokens') addTokens(out, 'apiTokens', list('NAME:ROLE:SECRET').map((t) => parseApiToken(t, where)));
    else if (k === 'sensor_token_file') addTokens(out, 'sensorTokens', readTokenFile(path(s(v)), where, parseSensorToken));
    else if (k === 'api_token_file') addTokens(out, 'apiTokens', readTokenFile(path(s(v)), where, parseApiToken));
    else if (k === 'retention') out.retentionDays = parseRetention(v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : s(v), where);
    else if (Object.hasOwn(PATH_KEYS, k)) Object.assign(out, { [PATH_KEYS[k]]: path(s(v)) });
    else if (Object.hasOwn(TEXT_KEYS, k)) Object.assign(out, { [TEXT_KEYS[k]]: s(v) });
    else if (Object.hasOwn(NUMBER_KEYS, k)) Object.assign(out, { [NUMBER_KEYS[k]]: Number(s(v)) });
    else throw new CollectorConfigError(`${file}: unknown setting '${k}' (${FILE_KEYS.join(', ')})`);
  }
  return out;
}

/** Settings from PHONEHOME_* environment variables. */
export function fromEnv(env: NodeJS.ProcessEnv): ConfigSource {
  const out: ConfigSource = {};
  const list = (v: string) => v.split(',').map((t) => t.trim()).filter(Boolean);
  if (env.PHONEHOME_LISTEN) Object.assign(out, parseListen(env.PHONEHOME_LISTEN, 'PHONEHOME_LISTEN'));
  if (env.PHONEHOME_DB) out.db = env.PHONEHOME_DB;
  if (env.PHONEHOME_SENSOR_TOKENS) addTokens(out, 'sensorTokens', list(env.PHONEHOME_SENSOR_TOKENS).map((t) => parseSensorToken(t, 'PHONEHOME_SENSOR_TOKENS')));
  if (env.PHONEHOME_SENSOR_TOKEN_FILE) addTokens(out, 'sensorTokens', readTokenFile(env.PHONEHOME_SENSOR_TOKEN_FILE, 'PHONEHOME_SENSOR_TOKEN_FILE', parseSensorToken));
  if (env.PHONEHOME_API_TOKEN) out.apiToken = env.PHONEHOME_API_TOKEN;
  if (env.PHONEHOME_API_TOKENS) addTokens(out, 'apiTokens', list(env.PHONEHOME_API_TOKENS).map((t) => parseApiToken(t, 'PHONEHOME_API_TOKENS')));
  if (env.PHONEHOME_API_TOKEN_FILE) addTokens(out, 'apiTokens', readTokenFile(env.PHONEHOME_API_TOKEN_FILE, 'PHONEHOME_API_TOKEN_FILE', parseApiToken));
  if (env.PHONEHOME_METRICS_TOKEN) out.metricsToken = env.PHONEHOME_METRICS_TOKEN;
  if (env.PHONEHOME_ALERTMANAGER) out.alertmanager = env.PHONEHOME_ALERTMANAGER;
  if (env.PHONEHOME_PUBLIC_URL) out.publicUrl = env.PHONEHOME_PUBLIC_URL;
  if (env.PHONEHOME_TLS_CERT) out.tlsCert = env.PHONEHOME_TLS_CERT;
  if (env.PHONEHOME_TLS_KEY) out.tlsKey = env.PHONEHOME_TLS_KEY;
  if (env.PHONEHOME_TLS_CLIENT_CA) out.tlsClientCa = env.PHONEHOME_TLS_CLIENT_CA;
  if (env.PHONEHOME_RETENTION) out.retentionDays = parseRetention(env.PHONEHOME_RETENTION, 'PHONEHOME_RETENTION');
  if (env.PHONEHOME_BODY_LIMIT_BYTES) out.bodyLimitBytes = Number(env.PHONEHOME_BODY_LIMIT_BYTES);
  if (env.PHONEHOME_RATE_LIMIT_PER_MINUTE) out.rateLimitPerMinute = Number(env.PHONEHOME_RATE_LIMIT_PER_MINUTE);
  if (env.PHONEHOME_LOG_LEVEL) out.logLevel = env.PHONEHOME_LOG_LEVEL;
  forwardFromEnv(env, out);
  return out;
}

/** PHONEHOME_FORWARD_*: the SIEM forwarder's settings, named as the config file's forward_* keys. */
function forwardFromEnv(env: NodeJS.ProcessEnv, out: ConfigSource): void {
  for (const key of FORWARD_KEYS) {
    const v = env[`PHONEHOME_${key.toUpperCase()}`];
    if (v) Object.assign(out, { [TEXT_KEYS[key] ?? PATH_KEYS[key] ?? NUMBER_KEYS[key]]: Object.hasOwn(NUMBER_KEYS, key) ? Number(v) : v });
  }
}

/** A syslog receiver's address: tcp://HOST:PORT or tls://HOST:PORT (IPv6 in brackets). */
export function parseSyslogUrl(v: string, where = 'forward_syslog'): { tls: boolean; host: string; port: number } {
  const m = /^(tcp|tls):\/\/(\[[^\]]+\]|[^:/[\]]+):(\d{1,5})\/?$/i.exec(v);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port > 0 && port <= 65535)) throw new CollectorConfigError(`${where}: must be tcp://HOST:PORT or tls://HOST:PORT, got '${redactUrl(v).slice(0, 200)}'`);
  return { tls: m[1].toLowerCase() === 'tls', host: m[2].replace(/^\[|\]$/g, ''), port };
}

/** The forwarder's settings checked together: a mistake names the setting, before anything listens. */
function validateForward(c: CollectorConfig): void {
  if (!(SIEM_FORMATS as readonly string[]).includes(c.forwardFormat)) throw new CollectorConfigError(`forward_format must be ${SIEM_FORMATS.join(' or ')}, got '${String(c.forwardFormat).slice(0, 32)}'`);
  const syslog = c.forwardSyslog ? parseSyslogUrl(c.forwardSyslog) : null;
  if ((c.forwardSyslogCa || c.forwardSyslogCert || c.forwardSyslogKey) && !syslog?.tls) throw new CollectorConfigError('forward_syslog_ca, forward_syslog_cert and forward_syslog_key need forward_syslog tls://HOST:PORT');
  if (Boolean(c.forwardSyslogCert) !== Boolean(c.forwardSyslogKey)) throw new CollectorConfigError('a syslog client certificate needs both forward_syslog_cert and forward_syslog_key');
  if (c.forwardWebhook && !/^https?:\/\/[^/]/i.test(c.forwardWebhook)) throw new CollectorConfigError(`forward_webhook must be an http(s) URL, got '${redactUrl(c.forwardWebhook).slice(0, 200)}'`);
  if (c.forwardWebhookCa && !/^https:/i.test(c.forwardWebhook ?? '')) throw new CollectorConfigError('forward_webhook_ca needs an https forward_webhook');
  if (!(c.forwardRetryMaxS >= 1)) throw new CollectorConfigError(`forward_retry_max_s must be a number of seconds, at least 1, got '${String(c.forwardRetryMaxS).slice(0, 32)}'`);
}

/** Every API token with its role: the named ones, and the single --api-token as an admin. */
export function apiTokensOf(c: CollectorConfig): ApiToken[] {
  return [...(c.apiToken ? [{ name: SINGLE_API_TOKEN_NAME, role: 'admin' as const, secret: c.apiToken }] : []), ...c.apiTokens];
}

function unique(names: string[], what: string): void {
  const seen = new Set<string>();
  for (const n of names) {
    if (seen.has(n)) throw new CollectorConfigError(`two ${what} tokens are named '${n}'; each needs a name of its own (the audit log and the logs name it)`);
    seen.add(n);
  }
}

export function validate(c: CollectorConfig): CollectorConfig {
  if (c.sensorTokens.length === 0) throw new CollectorConfigError('no sensor can send events: give --sensor-token NAME:SECRET or --sensor-token-file FILE (or PHONEHOME_SENSOR_TOKENS, or sensor_tokens in the config file)');
  if (!c.apiToken && c.apiTokens.length === 0) throw new CollectorConfigError('the analyst API needs a token: give --api-token SECRET or --api-token-file FILE (or PHONEHOME_API_TOKEN, PHONEHOME_API_TOKENS, or api_tokens in the config file)');
  if (c.apiToken && c.apiToken.length < 16) throw new CollectorConfigError('--api-token must be at least 16 characters');
  unique(c.sensorTokens.map((t) => t.name), 'sensor');
  const api = apiTokensOf(c);
  unique(api.map((t) => t.name), 'API');
  if (new Set(api.map((t) => t.secret)).size < api.length) throw new CollectorConfigError('two API tokens have the same secret; each token needs a secret of its own, or its role would be ambiguous');
  if (!(c.bodyLimitBytes > 0)) throw new CollectorConfigError('body_limit_bytes must be a positive number');
  if (!(c.rateLimitPerMinute > 0)) throw new CollectorConfigError('rate_limit_per_minute must be a positive number');
  if (c.alertmanager && !/^https?:\/\//.test(c.alertmanager)) throw new CollectorConfigError(`--alertmanager must be an http(s) URL, got '${redactUrl(c.alertmanager)}'`);
  if (Boolean(c.tlsCert) !== Boolean(c.tlsKey)) throw new CollectorConfigError('HTTPS needs both --tls-cert and --tls-key');
  if (c.tlsClientCa && !c.tlsCert) throw new CollectorConfigError('--tls-client-ca needs HTTPS: give --tls-cert and --tls-key as well');
  validateForward(c);
  return c;
}

/** A URL with any password replaced, for messages and logs. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/@]*?:)[^/@]*@/i, '$1***@');
}

export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  /** the CA sensors' client certificates must be signed by */
  ca: Buffer | null;
}

/** Reads and checks the PEM files, so that a mistake is one line naming the file rather than a failure inside the server. */
export function readTls(c: CollectorConfig): TlsMaterial | null {
  if (!c.tlsCert || !c.tlsKey) return null;
  const read = (file: string, flag: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (e) {
      throw new CollectorConfigError(`${flag} ${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  };
  const tls: TlsMaterial = { cert: read(c.tlsCert, '--tls-cert'), key: read(c.tlsKey, '--tls-key'), ca: c.tlsClientCa ? read(c.tlsClientCa, '--tls-client-ca') : null };
  try {
    createSecureContext({ cert: tls.cert, key: tls.key });
  } catch (e) {
    throw new CollectorConfigError(`--tls-cert ${c.tlsCert} and --tls-key ${c.tlsKey}: not a PEM certificate and its private key (${(e as Error).message.split('\n')[0]})`);
  }
  if (tls.ca) {
    try {
      // createSecureContext skips what is not PEM in a CA bundle; a CA file with no certificate would then trust nothing, silently.
      new X509Certificate(tls.ca);
    } catch (e) {
      throw new CollectorConfigError(`--tls-client-ca ${c.tlsClientCa}: not a PEM CA certificate (${(e as Error).message.split('\n')[0]})`);
    }
  }
  return tls;
}
