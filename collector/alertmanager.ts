import type { FastifyBaseLogger } from 'fastify';
import type { StoredAlert } from '../contract/types.js';

/** Pushes new alerts to Alertmanager's v2 API, so they are routed and paged like any other. */
export class AlertmanagerClient {
  constructor(
    private readonly url: string,
    private readonly publicUrl: string | null,
    private readonly log: FastifyBaseLogger,
  ) {}

  static body(alerts: StoredAlert[], publicUrl: string | null): object[] {
    return alerts.map((a) => {
      const link = publicUrl ? `${publicUrl.replace(/\/$/, '')}/api/v1/alerts/${encodeURIComponent(a.id)}` : undefined;
      return {
        labels: {
          alertname: a.rule,
          rule: a.rule,
          severity: a.severity,
          device: a.device.mac ?? a.device.ip,
          country: a.destination?.country ?? '',
          sensor: a.sensor,
          phonehome_id: a.id,
        },
        annotations: {
          summary: a.message,
          description: `${a.message}. Evidence: ${a.evidence.flows} flow(s), ${a.evidence.bytes_out} bytes out${a.evidence.reason ? `; ${a.evidence.reason}` : ''}.`,
          ...(link && { link }),
        },
        startsAt: new Date(a.ts * 1000).toISOString(),
        ...(link && { generatorURL: link }),
      };
    });
  }

  async push(alerts: StoredAlert[]): Promise<void> {
    if (alerts.length === 0) return;
    const body = JSON.stringify(AlertmanagerClient.body(alerts, this.publicUrl));
    for (let attempt = 1; attempt <= 3; attempt++) {
      try {
        const res = await fetch(`${this.url.replace(/\/$/, '')}/api/v2/alerts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(5000) });
        if (res.ok) return;
        this.log.warn({ status: res.status, body: (await res.text()).slice(0, 500), attempt }, 'alertmanager refused alerts');
      } catch (e) {
        this.log.warn({ err: (e as Error).message, attempt }, 'alertmanager unreachable');
      }
      await new Promise((r) => setTimeout(r, 200 * attempt));
    }
    this.log.error({ alerts: alerts.map((a) => a.id) }, 'alerts not pushed to alertmanager after 3 attempts (they are stored; the API still serves them)');
  }
}
