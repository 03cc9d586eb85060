import type { FastifyBaseLogger } from 'fastify';
import type { DeviceRecord, StoredAlert } from '../contract/types.js';

/** What naming a device in a label needs: the collector's view of it, by MAC. */
export interface DeviceNames {
  getDevice(mac: string): Promise<Pick<DeviceRecord, 'brand' | 'model'> | null>;
}

/** The page of an alert in the collector's web UI. */
export function alertPage(publicUrl: string, id: string): string {
  return `${publicUrl.replace(/\/$/, '')}/ui/alerts/${encodeURIComponent(id)}`;
}

/**
 * The `device` label: who made it (and the model, when known) and its MAC,
 * "Edimax SP-1101W 74:da:38:00:00:01". The brand comes from the collector's
 * device record, else the alert's OUI vendor; a device without a MAC is its address.
 */
export function deviceLabel(a: StoredAlert, known: Pick<DeviceRecord, 'brand' | 'model'> | null): string {
  const mac = a.device.mac?.toLowerCase() ?? null;
  const maker = [known?.brand ?? a.device.vendor, known?.brand ? known.model : null].filter((x) => x).join(' ');
  const who = mac ?? a.device.ip;
  return maker ? `${maker} ${who}` : who;
}

/**
 * Pushes new alerts to Alertmanager's v2 API, so they are routed and paged
 * like any other. Each links to its page in the web UI (--public-url).
 */
export class AlertmanagerClient {
  constructor(
    private readonly url: string,
    private readonly publicUrl: string | null,
    private readonly log: FastifyBaseLogger,
    private readonly devices: DeviceNames | null = null,
  ) {}

  static body(alerts: StoredAlert[], publicUrl: string | null, known: Map<string, Pick<DeviceRecord, 'brand' | 'model'> | null> = new Map()): object[] {
    return alerts.map((a) => {
      const link = publicUrl ? alertPage(publicUrl, a.id) : undefined;
      const mac = a.device.mac?.toLowerCase() ?? null;
      return {
        labels: {
          alertname: a.rule,
          rule: a.rule,
          severity: a.severity,
          // device reads well but changes as the brand becomes known; mac is the stable key to group by
          device: deviceLabel(a, mac ? known.get(mac) ?? null : null),
          mac: mac ?? a.device.ip,
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

  /** The collector's record of each MAC's device; one that cannot be read is named by its OUI vendor. */
  private async known(alerts: StoredAlert[]): Promise<Map<string, Pick<DeviceRecord, 'brand' | 'model'> | null>> {
    const out = new Map<string, Pick<DeviceRecord, 'brand' | 'model'> | null>();
    if (!this.devices) return out;
    for (const mac of new Set(alerts.map((a) => a.device.mac?.toLowerCase()).filter((m): m is string => Boolean(m)))) {
      out.set(mac, await this.devices.getDevice(mac).catch(() => null));
    }
    return out;
  }

  async push(alerts: StoredAlert[]): Promise<void> {
    if (alerts.length === 0) return;
    const body = JSON.stringify(AlertmanagerClient.body(alerts, this.publicUrl, await this.known(alerts)));
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
