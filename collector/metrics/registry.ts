import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { REFUSAL_CODES } from '../store/checks.js';
import type { MetricsSnapshot, Store } from '../store/store.js';

/**
 * The collector's Prometheus metrics. Device and alert figures are read from
 * the database at scrape time, so every collector sharing a database reports
 * the same numbers and they survive restarts. Labels come only from bounded
 * sets: rules, severities, countries, the fleet's devices and sensors, never
 * destination addresses.
 */
export class CollectorMetrics {
  readonly registry = new Registry();
  readonly rejected: Counter<'reason'>;
  /** events of accepted batches this collector refused (kept as dead letters), by code */
  readonly refused: Counter<'reason'>;
  private snapshot: Promise<MetricsSnapshot> | null = null;
  private snapshotAt = 0;

  constructor(private readonly store: Store) {
    const r = this.registry;
    collectDefaultMetrics({ register: r });
    const self = this;
    const snap = () => self.current();
    const fromDb = <L extends string>(kind: 'counter' | 'gauge', name: string, help: string, labelNames: L[], rows: (s: MetricsSnapshot) => { labels: Record<L, string>; value: number }[]) => {
      const config = {
        name, help, labelNames, registers: [r],
        async collect(this: Counter<L> | Gauge<L>) {
          const s = await snap();
          this.reset();
          for (const row of rows(s)) {
            if (this instanceof Counter) this.inc(row.labels, row.value);
            else (this as Gauge<L>).set(row.labels, row.value);
          }
        },
      };
      return kind === 'counter' ? new Counter<L>(config) : new Gauge<L>(config);
    };
    fromDb('counter', 'phonehome_alerts_total', 'Alerts stored, by rule, severity and destination country', ['rule', 'severity', 'country'], (s) =>
      s.alerts.map((a) => ({ labels: { rule: a.rule, severity: a.severity, country: a.country }, value: a.count })));
    fromDb('gauge', 'phonehome_alerts_open', 'Alerts not yet acknowledged or resolved', ['rule', 'severity'], (s) =>
      s.openAlerts.map((a) => ({ labels: { rule: a.rule, severity: a.severity }, value: a.count })));
    fromDb('counter', 'phonehome_device_bytes_out_total', 'Bytes devices sent to the Internet, by destination country', ['device', 'country'], (s) =>
      s.deviceTraffic.map((d) => ({ labels: { device: d.device, country: d.country }, value: d.bytes_out })));
    fromDb('counter', 'phonehome_device_flows_total', 'Flows devices opened to the Internet, by destination country', ['device', 'country'], (s) =>
      s.deviceTraffic.map((d) => ({ labels: { device: d.device, country: d.country }, value: d.flows })));
    fromDb('gauge', 'phonehome_device_destinations', 'Distinct Internet addresses each device has contacted', ['device'], (s) =>
      s.deviceDestinations.map((d) => ({ labels: { device: d.device }, value: d.destinations })));
    fromDb('gauge', 'phonehome_devices', 'Devices, by manufacturer country and whether a profile covers them', ['vendor_country', 'profiled'], (s) =>
      s.devices.map((d) => ({ labels: { vendor_country: d.vendor_country, profiled: String(d.profiled) }, value: d.count })));
    fromDb('gauge', 'phonehome_sensor_last_seen_timestamp_seconds', 'When each sensor last delivered events', ['sensor'], (s) =>
      s.sensors.map((x) => ({ labels: { sensor: x.sensor }, value: x.last_seen })));
    fromDb('counter', 'phonehome_ingest_events_total', 'Events stored, by sensor and kind', ['sensor', 'kind'], (s) =>
      s.ingest.map((x) => ({ labels: { sensor: x.sensor, kind: x.kind }, value: x.count })));
    this.rejected = new Counter({ name: 'phonehome_ingest_rejected_total', help: 'Ingest requests this collector rejected, by reason', labelNames: ['reason'], registers: [r] });
    for (const reason of ['unauthorized', 'invalid', 'too_large', 'rate_limited']) this.rejected.inc({ reason }, 0);
    this.refused = new Counter({
      name: 'phonehome_collector_events_refused_total',
      help: 'Events this collector refused on their own (kept as dead letters) while storing the rest of their batch, by code',
      labelNames: ['reason'],
      registers: [r],
    });
    for (const reason of REFUSAL_CODES) this.refused.inc({ reason }, 0);
  }

  /** One database read per scrape, shared by every metric. */
  private current(): Promise<MetricsSnapshot> {
    const now = Date.now();
    if (!this.snapshot || now - this.snapshotAt > 1000) {
      this.snapshot = this.store.metrics();
      this.snapshotAt = now;
    }
    return this.snapshot;
  }
}
