// Events: what the sensor sends of the pipeline's output, on real records.
// Every flow once under flow:<uid>; an alert when it first fires and again
// only when it holds more flows (the key names the count); a device whenever
// its last_seen or its flow count changed (the key names both); evidence
// once per alert, the pcap in base64.
import { describe, expect, it } from 'vitest';
import type { AlertRecord, DeviceRecord, IngestEvent } from '../../../contract/types.js';
import { Events } from '../../../sensor/run/events.js';
import { fixture } from '../../helpers/corpus.js';
import { realEvents, type RealEvents } from '../../helpers/events.js';

let real: Promise<RealEvents> | null = null;
/** Flows, alerts (beacons among them), devices and evidence analyze gives for a real capture. */
const records = () => (real ??= realEvents([fixture('HueBridge')], { watchCountries: ['US', 'IE'] }));

function recorder(): { events: Events; sent: IngestEvent[] } {
  const sent: IngestEvent[] = [];
  return { events: new Events((e) => sent.push(e)), sent };
}

const withFlows = (a: AlertRecord, flows: number): AlertRecord => ({ ...structuredClone(a), evidence: { ...a.evidence, flows } });

describe('Events', () => {
  it('sends every flow under its uid, the record as it is', async () => {
    const { flows } = await records();
    expect(flows.length).toBeGreaterThan(100);
    const { events, sent } = recorder();
    for (const f of flows) events.flow(f);
    expect(sent).toEqual(flows.map((f) => ({ kind: 'flow', key: `flow:${f.uid}`, data: f })));
  });

  it('sends an alert when it first fires and again only when its flow count changes; the key names the count', async () => {
    const { alerts } = await records();
    expect(alerts.length).toBeGreaterThan(1);
    const [a, b] = alerts;
    const { events, sent } = recorder();
    events.alert(a);
    events.alert(b);
    events.alert(structuredClone(a));
    expect(sent.map((e) => e.key)).toEqual([`alert:${a.id}:${a.evidence.flows}`, `alert:${b.id}:${b.evidence.flows}`]);
    expect(sent[0]).toEqual({ kind: 'alert', key: `alert:${a.id}:${a.evidence.flows}`, data: a });
    // Grown: more flows in its evidence.
    const grown = withFlows(a, a.evidence.flows + 3);
    events.alert(grown);
    events.alert(withFlows(a, a.evidence.flows + 3));
    expect(sent.slice(2)).toEqual([{ kind: 'alert', key: `alert:${a.id}:${a.evidence.flows + 3}`, data: grown }]);
    // Every key is unique, so the collector keeps every version and the last one tells the final count.
    expect(new Set(sent.map((e) => e.key)).size).toBe(sent.length);
  });

  it('sends a device when its last_seen or its flow count changed, keyed by MAC (or first address) with both', async () => {
    const { devices } = await records();
    expect(devices.length).toBeGreaterThan(2);
    const { events, sent } = recorder();
    const keyOf = (d: DeviceRecord) => `device:${d.mac ?? d.ips[0]}:${d.last_seen}:${d.flows}`;
    events.devices(devices);
    expect(sent).toEqual(devices.map((d) => ({ kind: 'device', key: keyOf(d), data: d })));
    // Nothing changed: nothing sent.
    events.devices(structuredClone(devices));
    expect(sent).toHaveLength(devices.length);
    // A flow ended (same last_seen, one flow more), another device was seen later.
    const next = structuredClone(devices);
    next[0].flows += 1;
    next[1].last_seen += 60;
    events.devices(next);
    expect(sent.slice(devices.length).map((e) => e.key)).toEqual([keyOf(next[0]), keyOf(next[1])]);
    // A device without a MAC (raw IP captures) goes by its first address.
    const ipOnly = { ...structuredClone(devices[2]), mac: null, ips: ['10.9.8.7', '10.9.8.8'] };
    events.devices([ipOnly]);
    expect(sent.at(-1)!.key).toBe(`device:10.9.8.7:${ipOnly.last_seen}:${ipOnly.flows}`);
  });

  it('sends evidence again only when the alert keeps more flows; the key names them; the pcap travels in base64', async () => {
    const { alerts, evidence } = await records();
    const [id, pcap] = [...evidence][0];
    const sent: IngestEvent[] = [];
    const events = new Events((e) => sent.push(e));
    expect(events.needsEvidence(id, 3)).toBe(true);
    events.evidenceTriedFor(id, 3);
    expect(events.needsEvidence(id, 3)).toBe(false);
    expect(events.needsEvidence(id, 4)).toBe(true);
    expect(events.needsEvidence(alerts.find((a) => a.id !== id)!.id, 1)).toBe(true);
    events.evidence(id, 3, pcap);
    expect(sent).toEqual([{ kind: 'evidence', key: `evidence:${id}:3`, data: { alert_id: id, pcap_base64: pcap.toString('base64') } }]);
  });

  it('an alert is sent again when what its capture lacks changes, with the packets lacking in its key', async () => {
    const { alerts } = await records();
    const a = alerts[0];
    const sent: IngestEvent[] = [];
    const events = new Events((e) => sent.push(e));
    events.alert(a);
    const lacking = { ...structuredClone(a), evidence: { ...a.evidence, pcap_missing: { flows: 1, packets: 7, causes: ['size' as const], reason: 'r', partial: [] } } };
    events.alert(lacking);
    events.alert(lacking);
    expect(sent.map((e) => e.key)).toEqual([`alert:${a.id}:${a.evidence.flows}`, `alert:${a.id}:${a.evidence.flows}:7`]);
  });
});
