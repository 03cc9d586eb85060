// EvidenceSender: the sensor sends a pcap of each alert's flows once, cut
// from the files it read (the bytes analyze --evidence writes for the same
// alert), reading again only files whose time span can hold those flows;
// none for a stream, none when disabled; a capture stops at 5 MiB (what a
// batch takes) and its alert says what it lacks; cuts live in a temporary folder of the spool that
// a later run clears if this one was killed.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { AlertRecord, IngestEvent } from '../../../contract/types.js';
import { readCaptureFile } from '../../../sensor/capture/reader.js';
import { Pipeline } from '../../../sensor/pipeline/pipeline.js';
import { Events } from '../../../sensor/run/events.js';
import { EvidenceSender, removeEvidenceLeftovers } from '../../../sensor/run/evidence.js';
import { packet, TCP_FLAGS, tcpFrame, type Endpoint } from '../../helpers/build.js';
import { fixture } from '../../helpers/corpus.js';
import { capture } from '../../helpers/detection.js';
import { realEvents } from '../../helpers/events.js';
import { readWithPcapParser } from '../../helpers/pcap.js';

const tmp = mkdtempSync(join(tmpdir(), 'phonehome-run-evidence-'));
let n = 0;
const fresh = (name = 'spool') => {
  const d = join(tmp, `${name}-${++n}`);
  mkdirSync(d);
  return d;
};

interface Run {
  pipeline: Pipeline;
  events: Events;
  sent: IngestEvent[];
  logs: Record<string, any>[];
  /** capture time of the first and last packet of each file */
  spans: Map<string, { first: number; last: number }>;
  sender(enabled?: boolean): EvidenceSender;
}

/** The sensor's pipeline over captures, every flow ended, alerts scored. */
async function analysed(files: string[]): Promise<Run> {
  const sent: IngestEvent[] = [];
  const logs: Record<string, any>[] = [];
  const log = pino({ level: 'info' }, { write: (l: string) => logs.push(JSON.parse(l)) });
  const events = new Events((e) => sent.push(e));
  const pipeline = await Pipeline.create({ profilesDir: null, watchCountries: ['US', 'IE'] }, { alert: (a) => events.alert(a) });
  const spans = new Map<string, { first: number; last: number }>();
  for (const f of files) {
    const input = pipeline.input();
    await readCaptureFile(f, input.sink);
    const { first, last } = input.end();
    spans.set(f, { first: first!, last: last! });
  }
  pipeline.flushFlows();
  const spool = fresh();
  return { pipeline, events, sent, logs, spans, sender: (enabled = true) => new EvidenceSender(spool, pipeline, events, log, enabled) };
}

const evidenceOf = (sent: IngestEvent[]) => new Map(sent.filter((e) => e.kind === 'evidence').map((e) => [(e.data as { alert_id: string }).alert_id, Buffer.from((e.data as { pcap_base64: string }).pcap_base64, 'base64')]));
const keptOf = (r: Run, id: string) => r.pipeline.evidenceFlows().get(id)?.refs.length ?? 0;

describe('EvidenceSender', () => {
  it("sends, once per alert, the capture analyze --evidence cuts for it; a second send sends nothing", async () => {
    const file = fixture('HueBridge');
    const r = await analysed([file]);
    const alerts = r.pipeline.alerts();
    const ev = r.sender();
    const { first, last } = r.spans.get(file)!;
    ev.fileRead(file, first, last);
    await ev.send(alerts);
    const mine = evidenceOf(r.sent);
    const analyze = await realEvents([file], { watchCountries: ['US', 'IE'] });
    expect(analyze.evidence.size).toBeGreaterThan(1);
    expect([...mine.keys()].sort()).toEqual([...analyze.evidence.keys()].sort());
    for (const [id, pcap] of analyze.evidence) expect(mine.get(id)!.equals(pcap), id).toBe(true);
    // Tried: every alert with flows, whether a capture came of it or not.
    for (const a of alerts) expect(r.events.needsEvidence(a.id, keptOf(r, a.id)), a.id).toBe(false);
    // each capture's key names the alert and the flows it was cut from
    for (const e of r.sent.filter((x) => x.kind === 'evidence')) {
      const id = (e.data as { alert_id: string }).alert_id;
      expect(e.key).toBe(`evidence:${id}:${keptOf(r, id)}`);
    }
    // every alert went out after its capture was cut, saying it lacks nothing
    for (const a of alerts) expect(a.evidence.pcap_missing, a.id).toBeUndefined();
    const before = r.sent.length;
    await ev.send(r.pipeline.alerts());
    expect(r.sent.length).toBe(before);
    ev.dispose();
  });

  it('reads again only the files whose time span can hold the flows, and only those still there', async () => {
    const file = fixture('HueBridge');
    const r = await analysed([file]);
    const alerts = r.pipeline.alerts();
    const { first, last } = r.spans.get(file)!;
    // Not a capture: reading it would fail the send.
    const notes = join(fresh('files'), 'notes.txt');
    writeFileSync(notes, 'not a capture\n');
    const ev = r.sender();
    ev.fileRead(notes, first - 7200, first - 3600);
    ev.fileRead(join(fresh('files'), 'rotated-away.pcap'), first, last);
    ev.fileRead(file, first, last);
    await ev.send(alerts);
    expect(evidenceOf(r.sent).size).toBeGreaterThan(1);
    // The same file with a span that overlaps the flows is read, and fails.
    const again = await analysed([file]);
    const bad = again.sender();
    bad.fileRead(notes, first, last);
    bad.fileRead(file, first, last);
    await expect(bad.send(again.pipeline.alerts())).rejects.toThrow(/not a pcap or pcapng capture/);
  });

  it('sends nothing when disabled, nor for a stream (no file to cut from), yet marks the alerts tried', async () => {
    const file = fixture('HueBridge');
    const off = await analysed([file]);
    const disabled = off.sender(false);
    disabled.fileRead(file, off.spans.get(file)!.first, off.spans.get(file)!.last);
    await disabled.send(off.pipeline.alerts());
    expect(evidenceOf(off.sent).size).toBe(0);

    const stream = await analysed([file]);
    const alerts = stream.pipeline.alerts();
    await stream.sender().send(alerts);
    expect(evidenceOf(stream.sent).size).toBe(0);
    const withFlows = alerts.filter((a) => keptOf(stream, a.id) > 0);
    expect(withFlows.length).toBeGreaterThan(0);
    for (const a of withFlows) expect(stream.events.needsEvidence(a.id, keptOf(stream, a.id)), a.id).toBe(false);
    // none of their packets was in a file read: each alert says so
    for (const a of withFlows) expect(a.evidence.pcap_missing, a.id).toMatchObject({ flows: a.evidence.flows, packets: a.evidence.packets, causes: ['not-found'] });
  });

  it('a capture stops at 5 MiB: it is sent, and its alert says how many packets it lacks and why', async () => {
    // A device uploading 6 MB to an address it never resolved: direct-ip and unprofiled-device alerts.
    const dev: Endpoint = { mac: '02:30:00:00:00:01', ip: '192.168.1.20', port: 40000 };
    const srv: Endpoint = { mac: '02:30:00:00:00:fe', ip: '52.49.65.150', port: 443 };
    const { SYN, ACK, PSH, FIN } = TCP_FLAGS;
    const t0 = 1_700_000_000;
    const pkts = [
      packet(t0, tcpFrame(dev, srv, SYN)),
      packet(t0 + 0.01, tcpFrame(srv, dev, SYN | ACK)),
      packet(t0 + 0.02, tcpFrame(dev, srv, ACK)),
      ...Array.from({ length: 100 }, (_, i) => packet(t0 + 0.03 + i * 0.001, tcpFrame(dev, srv, PSH | ACK, Buffer.alloc(60_000, i), 1 + i * 60_000))),
      packet(t0 + 0.2, tcpFrame(dev, srv, FIN | ACK)),
      packet(t0 + 0.21, tcpFrame(srv, dev, FIN | ACK)),
    ];
    const file = capture(pkts);
    const r = await analysed([file]);
    const alerts = r.pipeline.alerts();
    expect(alerts.length).toBeGreaterThan(0);
    const ev = r.sender();
    ev.fileRead(file, r.spans.get(file)!.first, r.spans.get(file)!.last);
    await ev.send(alerts);
    const sent = evidenceOf(r.sent);
    expect([...sent.keys()].sort()).toEqual(alerts.map((a) => a.id).sort());
    const { packets } = await readWithPcapParser(file);
    expect(24 + packets.reduce((s, p) => s + 16 + p.data.length, 0)).toBeGreaterThan(5 * 2 ** 20);
    // each capture holds the flow's first packets, up to 5 MiB
    let bytes = 24;
    const fits = packets.findIndex((p) => (bytes += 16 + p.data.length) > 5 * 2 ** 20);
    for (const [id, pcap] of sent) {
      expect(pcap.length, id).toBeLessThanOrEqual(5 * 2 ** 20);
      const f = join(fresh('cut'), 'cut.pcap');
      writeFileSync(f, pcap);
      const held = (await readWithPcapParser(f)).packets;
      expect(held.length, id).toBeGreaterThanOrEqual(fits);
      const sig = (p: { tsSec: number; tsUsec: number; data: Buffer }) => `${p.tsSec}.${p.tsUsec}/${p.data.length}`;
      // the packets that fitted, then only smaller ones that still fit (the closing FINs), in order
      expect(held.slice(0, fits).map(sig), id).toEqual(packets.slice(0, fits).map(sig));
      let j = 0;
      for (const h of held) while (j < packets.length && sig(packets[j++]) !== sig(h)) expect(j, `${id}: in order`).toBeLessThan(packets.length);
      const a = alerts.find((x) => x.id === id)!;
      expect(a.evidence.pcap_missing, id).toMatchObject({ flows: 1, packets: packets.length - held.length, causes: ['size'] });
    }
    // the alerts went out (after the cut) saying so
    const keys = r.sent.filter((e) => e.kind === 'alert').map((e) => e.key);
    for (const a of alerts) expect(keys, a.id).toContain(`alert:${a.id}:${a.evidence.flows}:${a.evidence.pcap_missing!.packets}`);
  }, 60_000);

  it('cuts in a temporary folder of the spool, removed by dispose(); a killed run\'s folders are removed at the next start', async () => {
    const file = fixture('HueBridge');
    const r = await analysed([file]);
    const spool = fresh();
    const ev = new EvidenceSender(spool, r.pipeline, r.events, pino({ level: 'silent' }), true);
    ev.fileRead(file, r.spans.get(file)!.first, r.spans.get(file)!.last);
    await ev.send(r.pipeline.alerts());
    const cuts = readdirSync(spool).filter((d) => d.startsWith('.evidence-'));
    expect(cuts).toHaveLength(1);
    // Sent files are removed as they go.
    expect(readdirSync(join(spool, cuts[0]))).toEqual([]);
    ev.dispose();
    expect(existsSync(join(spool, cuts[0]))).toBe(false);

    const killed = fresh();
    mkdirSync(join(killed, '.evidence-a1b2c3'));
    writeFileSync(join(killed, '.evidence-a1b2c3', 'cut.pcap'), readFileSync(file).subarray(0, 100));
    mkdirSync(join(killed, 'queue'));
    writeFileSync(join(killed, 'state.json'), '{}\n');
    writeFileSync(join(killed, 'lock'), '1\n');
    removeEvidenceLeftovers(killed);
    expect(readdirSync(killed).sort()).toEqual(['lock', 'queue', 'state.json']);
  });
});
