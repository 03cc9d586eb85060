// EvidenceSender: the sensor sends a pcap of each alert's flows once, cut
// from the files it read (the bytes analyze --evidence writes for the same
// alert), reading again only files whose time span can hold those flows;
// none for a stream, none when disabled; a capture too large for a batch is
// logged instead of sent; cuts live in a temporary folder of the spool that
// a later run clears if this one was killed.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { IngestEvent } from '../../../contract/types.js';
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

const evidenceOf = (sent: IngestEvent[]) => new Map(sent.filter((e) => e.kind === 'evidence').map((e) => [e.key.slice('evidence:'.length), Buffer.from((e.data as { pcap_base64: string }).pcap_base64, 'base64')]));

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
    for (const a of alerts) expect(r.events.needsEvidence(a.id), a.id).toBe((r.pipeline.evidenceFlows().get(a.id)?.length ?? 0) === 0);
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
    const withFlows = alerts.filter((a) => (stream.pipeline.evidenceFlows().get(a.id)?.length ?? 0) > 0);
    expect(withFlows.length).toBeGreaterThan(0);
    for (const a of withFlows) expect(stream.events.needsEvidence(a.id), a.id).toBe(false);
  });

  it('a capture larger than 5 MiB is not sent: a warning names the alert and its size', async () => {
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
    expect(evidenceOf(r.sent).size).toBe(0);
    const warned = r.logs.filter((l) => l.level === 40 && String(l.msg).includes('larger than'));
    expect(warned.map((l) => l.alert).sort()).toEqual(alerts.map((a) => a.id).sort());
    // The capture it would have sent: every packet of the flow.
    const { packets } = await readWithPcapParser(file);
    const size = 24 + packets.reduce((s, p) => s + 16 + p.data.length, 0);
    for (const w of warned) expect(w.bytes).toBe(size);
    expect(size).toBeGreaterThan(5 * 2 ** 20);
    for (const a of alerts) expect(r.events.needsEvidence(a.id)).toBe(false);
  });

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
