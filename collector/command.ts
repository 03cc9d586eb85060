import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import {
  apiTokensOf, fromEnv, fromFile, merge, parseApiToken, parseListen, parseRetention, parseSensorToken, readTls, readTokenFile, redactUrl, validate,
  type CollectorConfig, type ConfigSource,
} from './config.js';
import { CollectorConfigError } from './errors.js';
import { buildCollector } from './server.js';
import { openStore } from './store/open.js';

export const COLLECTOR_HELP = `Usage: phonehome collector [options]

Receives sensors' flows, alerts and devices, stores them (SQLite, or
PostgreSQL for several collectors sharing a database), serves the analyst API
(/api/v1/..., OpenAPI at /docs), Prometheus metrics (/metrics) and pushes new
alerts to Alertmanager.

Options (also PHONEHOME_* environment variables, or a --config YAML file;
flags win over the environment, which wins over the file):
  --listen [HOST:]PORT     address to listen on; a bare PORT is loopback only,
                           0.0.0.0:PORT listens on every interface [127.0.0.1:8080] (PHONEHOME_LISTEN)
  --db URL                 sqlite:PATH or postgres://... [sqlite:./phonehome.db] (PHONEHOME_DB)
  --sensor-token NAME:SECRET  a sensor allowed to send events; repeatable (PHONEHOME_SENSOR_TOKENS=a:s1,b:s2)
  --sensor-token-file FILE sensor tokens, one NAME:SECRET a line (PHONEHOME_SENSOR_TOKEN_FILE)
  --api-token SECRET       one API token with the admin role, named api-token (PHONEHOME_API_TOKEN)
  --api-token-file FILE    API tokens, one NAME:ROLE:SECRET a line; ROLE is viewer (read),
                           analyst (read, change alerts) or admin (also the audit log)
                           (PHONEHOME_API_TOKEN_FILE, or PHONEHOME_API_TOKENS=n:role:s,...)
  --metrics-token SECRET   require this token on /metrics [open]   (PHONEHOME_METRICS_TOKEN)
  --tls-cert FILE          serve HTTPS with this PEM certificate (chain) (PHONEHOME_TLS_CERT)
  --tls-key FILE           ... and this PEM private key            (PHONEHOME_TLS_KEY)
  --tls-client-ca FILE     sensors must present a client certificate signed by this
                           CA to deliver events (mutual TLS on /api/v1/events only) (PHONEHOME_TLS_CLIENT_CA)
  --retention KIND=DAYS,.. days kept per kind: flows, alerts, evidence, dead_letters;
                           0 keeps forever [flows=30,alerts=365,evidence=365,dead_letters=30]
                           (PHONEHOME_RETENTION); applied at start and hourly
  --alertmanager URL       push new alerts to this Alertmanager    (PHONEHOME_ALERTMANAGER)
  --public-url URL         where analysts reach this collector, for alert links (PHONEHOME_PUBLIC_URL)
  --forward-syslog URL     send each new alert to a syslog receiver, RFC 5424 over
                           tcp://HOST:PORT or tls://HOST:PORT (PHONEHOME_FORWARD_SYSLOG;
                           CA and client certificate: forward_syslog_ca/_cert/_key in --config)
  --forward-webhook URL    POST each new alert to this HTTP(S) URL (PHONEHOME_FORWARD_WEBHOOK)
  --forward-format FORMAT  eve (Suricata EVE alert) or ecs (Elastic Common Schema) [eve]
                           (PHONEHOME_FORWARD_FORMAT)
  --config FILE            YAML with listen, db, sensor_tokens, api_tokens, retention, ...
  --log-level LEVEL        pino level [info]                       (PHONEHOME_LOG_LEVEL)
  -h, --help               show this help

Secrets given as flags are visible to every user of the machine (ps); prefer
token files or the environment. Tokens never appear in the logs.

Examples:
  phonehome collector --listen 0.0.0.0:8080 --db sqlite:/var/lib/phonehome/phonehome.db \\
    --sensor-token-file /etc/phonehome/sensors.tokens --api-token-file /etc/phonehome/api.tokens \\
    --alertmanager http://alertmanager:9093

  # HTTPS, sensors with client certificates, flows kept 7 days
  phonehome collector --listen 0.0.0.0:8443 --tls-cert /etc/phonehome/collector.pem \\
    --tls-key /etc/phonehome/collector.key --tls-client-ca /etc/phonehome/sensors-ca.pem \\
    --sensor-token-file /etc/phonehome/sensors.tokens --api-token-file /etc/phonehome/api.tokens \\
    --retention flows=7

  # every new alert to a SIEM as ECS JSON over syslog with TLS, and to a webhook
  phonehome collector --listen 0.0.0.0:8080 --api-token-file /etc/phonehome/api.tokens \\
    --forward-syslog tls://siem.example.org:6514 --forward-format ecs \\
    --forward-webhook https://hooks.example.org/phonehome

  # tokens from the environment
  PHONEHOME_SENSOR_TOKENS=lab:s3cret-lab-token-123 PHONEHOME_API_TOKEN=analyst-token-4567890 \\
    phonehome collector --listen 8080
`;

const OPTIONS = {
  listen: { type: 'string' }, db: { type: 'string' }, 'sensor-token': { type: 'string', multiple: true }, 'sensor-token-file': { type: 'string' },
  'api-token': { type: 'string' }, 'api-token-file': { type: 'string' }, 'metrics-token': { type: 'string' }, 'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' }, 'tls-client-ca': { type: 'string' }, retention: { type: 'string' }, alertmanager: { type: 'string' },
  'public-url': { type: 'string' }, 'forward-syslog': { type: 'string' }, 'forward-webhook': { type: 'string' }, 'forward-format': { type: 'string' }, config: { type: 'string' }, 'log-level': { type: 'string' }, help: { type: 'boolean', short: 'h' },
} as const;

type Flags = ReturnType<typeof parseArgs<{ args: string[]; strict: true; options: typeof OPTIONS }>>['values'];

function fromFlags(v: Flags): ConfigSource {
  const flags: ConfigSource = {};
  if (v.listen) Object.assign(flags, parseListen(v.listen, '--listen'));
  if (v.db) flags.db = v.db;
  const sensors = [...(v['sensor-token'] ?? []).map((t) => parseSensorToken(t, '--sensor-token'))];
  if (v['sensor-token-file']) sensors.push(...readTokenFile(v['sensor-token-file'], '--sensor-token-file', parseSensorToken));
  if (sensors.length) flags.sensorTokens = sensors;
  if (v['api-token']) flags.apiToken = v['api-token'];
  if (v['api-token-file']) flags.apiTokens = readTokenFile(v['api-token-file'], '--api-token-file', parseApiToken);
  if (v['metrics-token']) flags.metricsToken = v['metrics-token'];
  if (v['tls-cert']) flags.tlsCert = v['tls-cert'];
  if (v['tls-key']) flags.tlsKey = v['tls-key'];
  if (v['tls-client-ca']) flags.tlsClientCa = v['tls-client-ca'];
  if (v.retention) flags.retentionDays = parseRetention(v.retention, '--retention');
  if (v.alertmanager) flags.alertmanager = v.alertmanager;
  if (v['public-url']) flags.publicUrl = v['public-url'];
  if (v['forward-syslog']) flags.forwardSyslog = v['forward-syslog'];
  if (v['forward-webhook']) flags.forwardWebhook = v['forward-webhook'];
  if (v['forward-format']) flags.forwardFormat = v['forward-format'] as CollectorConfig['forwardFormat'];
  if (v['log-level']) flags.logLevel = v['log-level'];
  return flags;
}

/** The effective settings, from the flags, the environment and the config file. */
export function configFrom(argv: string[], env: NodeJS.ProcessEnv): CollectorConfig | null {
  let v: Flags;
  try {
    ({ values: v } = parseArgs({ args: argv, strict: true, options: OPTIONS }));
  } catch (e) {
    throw new CollectorConfigError((e as Error).message.split('\n')[0].replace(/\. To specify .*/, ''));
  }
  if (v.help) return null;
  return validate(merge(v.config ? fromFile(v.config) : {}, fromEnv(env), fromFlags(v)));
}

/** What the start-up line says: the address the socket is really bound to, and settings without their secrets. */
function readyFields(config: CollectorConfig, address: AddressInfo | string | null, db: string, https: boolean): object {
  const where = typeof address === 'object' && address ? `${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}` : String(address);
  return {
    listening: `${https ? 'https' : 'http'}://${where}`,
    db,
    sensors: config.sensorTokens.map((t) => t.name),
    api_tokens: apiTokensOf(config).map((t) => `${t.name}:${t.role}`),
    client_certificates: Boolean(config.tlsClientCa),
    retention_days: config.retentionDays,
    alertmanager: config.alertmanager ? redactUrl(config.alertmanager) : null,
    forward: [config.forwardSyslog, config.forwardWebhook && redactUrl(config.forwardWebhook)].filter(Boolean),
  };
}

export async function runCollector(argv: string[]): Promise<number> {
  const config = configFrom(argv, process.env);
  if (!config) {
    process.stdout.write(COLLECTOR_HELP);
    return 0;
  }
  const tls = readTls(config);
  const store = await openStore(config.db);
  const app = await buildCollector(config, store, { tls });
  try {
    await app.listen({ host: config.host, port: config.port });
  } catch (e) {
    await app.close();
    await store.close();
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EADDRNOTAVAIL' || code === 'EACCES') {
      throw new CollectorConfigError(`--listen ${config.host}:${config.port}: ${code === 'EADDRINUSE' ? 'the port is in use' : code === 'EACCES' ? 'not allowed to listen there' : 'no such local address'} (${code})`);
    }
    throw e;
  }
  app.log.info(readyFields(config, app.server.address(), store.kind, tls !== null), 'collector ready');
  app.retention.start();
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      app.log.info({ signal }, 'shutting down');
      resolve();
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  await app.close();
  await store.close();
  return 0;
}
