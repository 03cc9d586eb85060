import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';

/** What the metrics read when scraped; the hot path only bumps plain numbers. */
export interface MetricSources {
  packets(): number;
  bytes(): number;
  decodeWarnings(): Record<string, number>;
  flowsActive(): number;
  spoolBatches(): number;
  spoolBytes(): number;
  /** null when the input is not live or nothing was read yet */
  lagSeconds(): number | null;
  /** the lag series' input label (stdin, dir) */
  inputKind?: string;
}

export type FailureReason = 'network' | 'timeout' | 'no_space' | `http_${number}`;

/**
 * The sensor's own Prometheus metrics, in their own registry so they never
 * mix with anything else loaded in the process.
 */
export class SensorMetrics {
  readonly registry = new Registry();
  readonly spoolFull: Counter;
  readonly deliveryFailures: Counter<'reason'>;
  readonly eventsSent: Counter<'kind'>;
  readonly eventsRefused: Counter<'reason'>;
  readonly spoolWriteErrors: Counter<'code'>;

  constructor(src: MetricSources) {
    const r = this.registry;
    collectDefaultMetrics({ register: r });
    // Counters fed from the analyzer's own tallies at scrape time: a prom-client
    // call per packet would cost more than decoding the packet.
    const fromTally = (name: string, help: string, read: () => number) => {
      let reported = 0;
      new Counter({
        name, help, registers: [r],
        collect() {
          const now = read();
          if (now > reported) this.inc(now - reported);
          reported = now;
        },
      });
    };
    fromTally('phonehome_sensor_packets_total', 'Packets read from the input', src.packets);
    fromTally('phonehome_sensor_bytes_total', 'Frame bytes (on the wire) read from the input', src.bytes);
    const warned = new Map<string, number>();
    new Counter({
      name: 'phonehome_sensor_decode_warnings_total', help: 'Packets that could not be fully decoded, by kind', labelNames: ['kind'], registers: [r],
      collect() {
        for (const [kind, n] of Object.entries(src.decodeWarnings())) {
          const before = warned.get(kind) ?? 0;
          if (n > before) this.inc({ kind }, n - before);
          warned.set(kind, n);
        }
      },
    });
    new Gauge({ name: 'phonehome_sensor_flows_active', help: 'Flows in the flow table (not yet ended)', registers: [r], collect() { this.set(src.flowsActive()); } });
    new Gauge({ name: 'phonehome_sensor_spool_batches', help: 'Batches in the spool waiting for the collector', registers: [r], collect() { this.set(src.spoolBatches()); } });
    new Gauge({ name: 'phonehome_sensor_spool_bytes', help: 'Bytes of the batches in the spool', registers: [r], collect() { this.set(src.spoolBytes()); } });
    // Labelled so that the series is absent, not 0, while the input is not live.
    const input = src.inputKind ?? 'live';
    new Gauge({
      name: 'phonehome_sensor_lag_seconds', labelNames: ['input'], registers: [r],
      help: 'Wall clock minus the capture timestamp of the last packet read; only for live input (stdin, a watched directory with a capture written in the last 5 minutes), absent otherwise',
      collect() {
        const lag = src.lagSeconds();
        this.reset();
        if (lag !== null) this.set({ input }, lag);
      },
    });
    this.spoolFull = new Counter({ name: 'phonehome_sensor_spool_full_total', help: 'Batches refused because the spool was full (input pauses until space frees)', registers: [r] });
    this.deliveryFailures = new Counter({ name: 'phonehome_sensor_delivery_failures_total', help: 'Failed batch deliveries, by reason', labelNames: ['reason'], registers: [r] });
    this.eventsSent = new Counter({ name: 'phonehome_sensor_events_sent_total', help: 'Events the collector acknowledged, by kind', labelNames: ['kind'], registers: [r] });
    this.eventsRefused = new Counter({
      name: 'phonehome_sensor_events_refused_total', registers: [r], labelNames: ['reason'],
      help: 'Events the collector refused (reason: its code, http_<status> for a whole batch) or lost in a garbled spool file (garbled_spool); kept in the spool\'s rejected/ folder',
    });
    this.spoolWriteErrors = new Counter({
      name: 'phonehome_sensor_spool_write_errors_total', registers: [r], labelNames: ['code'],
      help: 'Writes to the spool directory that failed because its disk is full (code: ENOSPC, EDQUOT); reading pauses until there is room',
    });
    // Zero series from the start, so rate() and alerts see them before the first event or failure.
    for (const kind of ['flow', 'alert', 'device', 'evidence']) this.eventsSent.inc({ kind }, 0);
    for (const reason of ['network', 'timeout']) this.deliveryFailures.inc({ reason }, 0);
    this.eventsRefused.inc({ reason: 'garbled_spool' }, 0);
    for (const code of ['ENOSPC', 'EDQUOT']) this.spoolWriteErrors.inc({ code }, 0);
  }

  /** Serves GET /metrics; resolves with the bound port (0 asks the OS for one). */
  serve(host: string, port: number): Promise<{ port: number; close: () => Promise<void> }> {
    const server: Server = createServer((req, res) => {
      if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics\n');
        return;
      }
      this.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': this.registry.contentType }).end(text),
        (e: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${e.message}\n`),
      );
    });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve({
          port: (server.address() as AddressInfo).port,
          close: () => new Promise((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
        });
      });
    });
  }
}
