import { parseArgs } from 'node:util';
import { DEFAULTS, fromEnv, fromFile, parseListen, parseSensorToken, validate, type CollectorConfig } from './config.js';
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
  --listen HOST:PORT       address to listen on [127.0.0.1:8080]   (PHONEHOME_LISTEN)
  --db URL                 sqlite:PATH or postgres://... [sqlite:./phonehome.db] (PHONEHOME_DB)
  --sensor-token NAME:SECRET  a sensor allowed to send events; repeatable (PHONEHOME_SENSOR_TOKENS=a:s1,b:s2)
  --api-token SECRET       token analysts and dashboards use for /api/v1 (PHONEHOME_API_TOKEN)
  --metrics-token SECRET   require this token on /metrics [open]   (PHONEHOME_METRICS_TOKEN)
  --alertmanager URL       push new alerts to this Alertmanager    (PHONEHOME_ALERTMANAGER)
  --public-url URL         where analysts reach this collector, for alert links (PHONEHOME_PUBLIC_URL)
  --config FILE            YAML with listen, db, sensor_tokens, api_token, ...
  --log-level LEVEL        pino level [info]
  -h, --help               show this help

Example:
  phonehome collector --listen 0.0.0.0:8080 --db sqlite:/var/lib/phonehome/phonehome.db \\
    --sensor-token lab:s3cret-lab-token-123 --api-token analyst-token-4567890 \\
    --alertmanager http://alertmanager:9093
`;

export async function runCollector(argv: string[]): Promise<number> {
  let v;
  try {
    ({ values: v } = parseArgs({
      args: argv,
      strict: true,
      options: {
        listen: { type: 'string' }, db: { type: 'string' }, 'sensor-token': { type: 'string', multiple: true }, 'api-token': { type: 'string' },
        'metrics-token': { type: 'string' }, alertmanager: { type: 'string' }, 'public-url': { type: 'string' }, config: { type: 'string' },
        'log-level': { type: 'string' }, help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    throw new CollectorConfigError((e as Error).message.split('\n')[0].replace(/\. To specify .*/, ''));
  }
  if (v.help) {
    process.stdout.write(COLLECTOR_HELP);
    return 0;
  }
  const flags: Partial<CollectorConfig> = {};
  if (v.listen) Object.assign(flags, parseListen(v.listen, '--listen'));
  if (v.db) flags.db = v.db;
  if (v['sensor-token']) flags.sensorTokens = v['sensor-token'].map((t) => parseSensorToken(t, '--sensor-token'));
  if (v['api-token']) flags.apiToken = v['api-token'];
  if (v['metrics-token']) flags.metricsToken = v['metrics-token'];
  if (v.alertmanager) flags.alertmanager = v.alertmanager;
  if (v['public-url']) flags.publicUrl = v['public-url'];
  if (v['log-level']) flags.logLevel = v['log-level'];
  const config = validate({ ...DEFAULTS, ...(v.config ? fromFile(v.config) : {}), ...fromEnv(process.env), ...flags });

  const store = await openStore(config.db);
  const app = await buildCollector(config, store);
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
  app.log.info({ db: store.kind, sensors: config.sensorTokens.map((t) => t.name), alertmanager: config.alertmanager }, 'collector ready');
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
