import type { AlertmanagerClient } from './alertmanager.js';
import type { Forwarder } from './forward/forwarder.js';
import type { SessionLookup, TokenSet } from './auth.js';
import type { CollectorConfig, Role } from './config.js';
import type { CollectorMetrics } from './metrics/registry.js';
import type { RetentionJob } from './retention.js';
import type { Store } from './store/store.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** removes old rows once the server listens, then hourly */
    retention: RetentionJob;
  }
  interface FastifyRequest {
    /** the sensor an ingest token belongs to */
    sensorName?: string;
    /** the API token of an analyst API request, for the audit log */
    apiToken?: { name: string; role: Role };
  }
}

/** What every route is given: the server's configuration and the parts it was built from. */
export interface CollectorContext {
  config: CollectorConfig;
  store: Store;
  metrics: CollectorMetrics;
  sensors: TokenSet;
  /** API tokens, each with its role */
  analysts: TokenSet;
  alertmanager: AlertmanagerClient | null;
  /** the web UI's sessions, which may also read the API (GET) */
  sessions: SessionLookup;
  /** sends new alerts to the SIEM targets configured (syslog, webhook); null when none is */
  forwarder: Forwarder | null;
  /** set when sensors must present a client certificate signed by --tls-client-ca */
  clientCertificates: boolean;
}
