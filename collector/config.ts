import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { CollectorConfigError } from './errors.js';

export interface CollectorConfig {
  host: string;
  port: number;
  db: string;
  sensorTokens: { name: string; secret: string }[];
  apiToken: string | null;
  /** /metrics needs this token when set; open by default so Prometheus can scrape */
  metricsToken: string | null;
  alertmanager: string | null;
  /** base URL analysts reach the collector at, for links in Alertmanager annotations */
  publicUrl: string | null;
  bodyLimitBytes: number;
  /** ingest requests per sensor per minute */
  rateLimitPerMinute: number;
  logLevel: string;
}

export const DEFAULTS: CollectorConfig = {
  host: '127.0.0.1',
  port: 8080,
  db: 'sqlite:./phonehome.db',
  sensorTokens: [],
  apiToken: null,
  metricsToken: null,
  alertmanager: null,
  publicUrl: null,
  bodyLimitBytes: 8 * 1024 * 1024,
  rateLimitPerMinute: 600,
  logLevel: 'info',
};

export function parseListen(v: string, where: string): { host: string; port: number } {
  const m = /^(?:(\[[^\]]+\]|[^:]+):)?(\d{1,5})$/.exec(v);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port < 0 || port > 65535) throw new CollectorConfigError(`${where}: listen address must be HOST:PORT or PORT, got '${v}'`);
  return { host: (m[1] ?? '0.0.0.0').replace(/^\[|\]$/g, ''), port };
}

export function parseSensorToken(v: string, where: string): { name: string; secret: string } {
  const i = v.indexOf(':');
  if (i <= 0 || i === v.length - 1) throw new CollectorConfigError(`${where}: sensor token must be NAME:SECRET, got '${v.replace(/:.*/, ':...')}'`);
  const secret = v.slice(i + 1);
  if (secret.length < 16) throw new CollectorConfigError(`${where}: the secret of sensor '${v.slice(0, i)}' is ${secret.length} characters; use at least 16`);
  return { name: v.slice(0, i), secret };
}

type Partial_ = Partial<CollectorConfig>;

/** Config-file keys that hold text or numbers, and the settings they set. */
const TEXT_KEYS: Record<string, keyof Partial_> = { db: 'db', api_token: 'apiToken', metrics_token: 'metricsToken', alertmanager: 'alertmanager', public_url: 'publicUrl', log_level: 'logLevel' };
const NUMBER_KEYS: Record<string, keyof Partial_> = { body_limit_bytes: 'bodyLimitBytes', rate_limit_per_minute: 'rateLimitPerMinute' };
const FILE_KEYS = ['listen', 'db', 'sensor_tokens', 'api_token', 'metrics_token', 'alertmanager', 'public_url', 'body_limit_bytes', 'rate_limit_per_minute', 'log_level'];

/** Settings from a YAML config file (keys as in the environment, lower-case, without PHONEHOME_). */
export function fromFile(file: string): Partial_ {
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new CollectorConfigError(`${file}: ${(e as Error).message.split('\n')[0]}`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new CollectorConfigError(`${file}: expected a mapping of settings`);
  const out: Partial_ = {};
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    const where = `${file}: ${k}`;
    const s = (x: unknown) => {
      if (typeof x !== 'string' && typeof x !== 'number') throw new CollectorConfigError(`${where} must be a string`);
      return String(x);
    };
    if (k === 'listen') Object.assign(out, parseListen(s(v), where));
    else if (k === 'sensor_tokens') {
      if (!Array.isArray(v)) throw new CollectorConfigError(`${where} must be a list of NAME:SECRET`);
      out.sensorTokens = v.map((t) => parseSensorToken(s(t), where));
    } else if (Object.hasOwn(TEXT_KEYS, k)) Object.assign(out, { [TEXT_KEYS[k]]: s(v) });
    else if (Object.hasOwn(NUMBER_KEYS, k)) Object.assign(out, { [NUMBER_KEYS[k]]: Number(s(v)) });
    else throw new CollectorConfigError(`${file}: unknown setting '${k}' (${FILE_KEYS.join(', ')})`);
  }
  return out;
}

/** Settings from PHONEHOME_* environment variables. */
export function fromEnv(env: NodeJS.ProcessEnv): Partial_ {
  const out: Partial_ = {};
  if (env.PHONEHOME_LISTEN) Object.assign(out, parseListen(env.PHONEHOME_LISTEN, 'PHONEHOME_LISTEN'));
  if (env.PHONEHOME_DB) out.db = env.PHONEHOME_DB;
  if (env.PHONEHOME_SENSOR_TOKENS) out.sensorTokens = env.PHONEHOME_SENSOR_TOKENS.split(',').map((t) => parseSensorToken(t.trim(), 'PHONEHOME_SENSOR_TOKENS'));
  if (env.PHONEHOME_API_TOKEN) out.apiToken = env.PHONEHOME_API_TOKEN;
  if (env.PHONEHOME_METRICS_TOKEN) out.metricsToken = env.PHONEHOME_METRICS_TOKEN;
  if (env.PHONEHOME_ALERTMANAGER) out.alertmanager = env.PHONEHOME_ALERTMANAGER;
  if (env.PHONEHOME_PUBLIC_URL) out.publicUrl = env.PHONEHOME_PUBLIC_URL;
  if (env.PHONEHOME_BODY_LIMIT_BYTES) out.bodyLimitBytes = Number(env.PHONEHOME_BODY_LIMIT_BYTES);
  if (env.PHONEHOME_RATE_LIMIT_PER_MINUTE) out.rateLimitPerMinute = Number(env.PHONEHOME_RATE_LIMIT_PER_MINUTE);
  return out;
}

export function validate(c: CollectorConfig): CollectorConfig {
  if (c.sensorTokens.length === 0) throw new CollectorConfigError('no sensor can send events: give --sensor-token NAME:SECRET (or PHONEHOME_SENSOR_TOKENS, or sensor_tokens in the config file)');
  if (!c.apiToken) throw new CollectorConfigError('the analyst API needs a token: give --api-token SECRET (or PHONEHOME_API_TOKEN, or api_token in the config file)');
  if (c.apiToken.length < 16) throw new CollectorConfigError('--api-token must be at least 16 characters');
  if (!(c.bodyLimitBytes > 0)) throw new CollectorConfigError('body_limit_bytes must be a positive number');
  if (!(c.rateLimitPerMinute > 0)) throw new CollectorConfigError('rate_limit_per_minute must be a positive number');
  if (c.alertmanager && !/^https?:\/\//.test(c.alertmanager)) throw new CollectorConfigError(`--alertmanager must be an http(s) URL, got '${c.alertmanager}'`);
  return c;
}
