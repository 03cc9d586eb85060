import type { AlertRecord, DeviceRecord, FlowRecord, IngestEvent } from '../../contract/types.js';

/** Turns pipeline output into events, sending each record again only when it grew. */
export class Events {
  private readonly alertFlows = new Map<string, string>();
  private readonly deviceState = new Map<string, string>();
  /** alert id -> flows kept when its evidence was last cut */
  private readonly evidenceTried = new Map<string, number>();
  /**
   * Records are followed but nothing is sent: the files being read again
   * after an unclean stop produced these events before, and they were sent.
   */
  muted = false;

  constructor(private readonly send: (e: IngestEvent) => void) {}

  private add(e: IngestEvent): void {
    if (!this.muted) this.send(e);
  }

  flow(r: FlowRecord): void {
    this.add({ kind: 'flow', key: `flow:${r.uid}`, data: r });
  }

  /**
   * The first firing, and every later change in how many flows it holds or
   * in how many packets its evidence capture lacks (the key changes with it).
   */
  alert(a: AlertRecord): void {
    const missing = a.evidence.pcap_missing;
    const state = missing ? `${a.evidence.flows}:${missing.packets}` : `${a.evidence.flows}`;
    if (this.alertFlows.get(a.id) === state) return;
    this.alertFlows.set(a.id, state);
    this.add({ kind: 'alert', key: `alert:${a.id}:${state}`, data: a });
  }

  /**
   * A flow ending changes a device's counters but not its last_seen, so the
   * key carries the flow count too: otherwise the final counts would look
   * like a duplicate of an earlier update.
   */
  devices(list: DeviceRecord[]): void {
    for (const d of list) {
      const id = d.mac ?? d.ips[0] ?? '';
      const state = `${d.last_seen}:${d.flows}`;
      if (this.deviceState.get(id) === state) continue;
      this.deviceState.set(id, state);
      this.add({ kind: 'device', key: `device:${id}:${state}`, data: d });
    }
  }

  /** A device the inventory let go of: its last update, and nothing kept for it here (a flood of MACs must not grow this). */
  evicted(d: DeviceRecord): void {
    this.devices([d]);
    this.deviceState.delete(d.mac ?? d.ips[0] ?? '');
  }

  /** The alert keeps more flows than when its evidence was last cut (or it never was). */
  needsEvidence(id: string, kept: number): boolean {
    return (this.evidenceTried.get(id) ?? 0) < kept;
  }

  evidenceTriedFor(id: string, kept: number): void {
    this.evidenceTried.set(id, kept);
  }

  /** A capture of the alert's kept flows; one cut from more flows replaces it (the key changes with their count). */
  evidence(alertId: string, kept: number, pcap: Buffer): void {
    this.add({ kind: 'evidence', key: `evidence:${alertId}:${kept}`, data: { alert_id: alertId, pcap_base64: pcap.toString('base64') } });
  }
}
