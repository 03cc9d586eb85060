import type { AlertmanagerClient } from './alertmanager.js';
import type { TokenSet } from './auth.js';
import type { CollectorConfig } from './config.js';
import type { CollectorMetrics } from './metrics/registry.js';
import type { Store } from './store/store.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** the sensor an ingest token belongs to */
    sensorName?: string;
  }
}

/** What every route is given: the server's configuration and the parts it was built from. */
export interface CollectorContext {
  config: CollectorConfig;
  store: Store;
  metrics: CollectorMetrics;
  sensors: TokenSet;
  analysts: TokenSet;
  alertmanager: AlertmanagerClient | null;
}
