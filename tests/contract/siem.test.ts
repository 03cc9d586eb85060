// The SIEM mapping on real alerts (corpus captures when present, else the
// bundled ones), checked against facts found without phonehome: tshark's own
// Community ID and conversations for the 5-tuple, Suricata's severity scale
// and ECS's field conventions; and bounded on hostile alerts.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bound, eveTime, signatureId, toEcs, toEve } from '../../contract/siem.js';
import type { AlertRecord, FlowRecord } from '../../contract/types.js';
import { RULE_IDS } from '../../sensor/detect/rules/index.js';
import { analyze } from '../../sensor/run/analyze.js';
import { corpusDevices, fixture } from '../helpers/corpus.js';
import { tsharkView, type TsharkView } from '../helpers/tshark.js';

const tmp = mkdtempSync(join(tmpdir(), 'phonehome-siem-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface Case {
  file: string;
  alerts: AlertRecord[];
  flows: Map<string, FlowRecord>;
  tshark: TsharkView;
}
const cases: Case[] = [];

/** The first capture of up to eight corpus devices, else the bundled fixtures. */
function captures(): string[] {
  const corpus = corpusDevices().filter((d) => d.files.length).slice(0, 8).map((d) => d.files[0]);
  return corpus.length ? corpus : ['TP-LinkPlugHS110', 'HueBridge', 'WeMoSwitch', 'D-LinkCam'].map(fixture);
}

beforeAll(async () => {
  for (const [i, file] of captures().entries()) {
    const out = join(tmp, String(i));
    const r = await analyze([file], { outDir: out, watchCountries: ['US', 'CN', 'IE', 'DE'] });
    const flows = new Map(readFileSync(join(out, 'flows.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as FlowRecord).map((f) => [f.uid, f]));
    cases.push({ file, alerts: r.alerts, flows, tshark: await tsharkView(file) });
  }
  expect(cases.reduce((n, c) => n + c.alerts.length, 0)).toBeGreaterThan(5);
}, 300_000);

const SRC = { observer: 'lab', version: '0.1.0' };

describe('EVE alert records of real alerts', () => {
  it("carry the flow's 5-tuple as a tshark conversation, and tshark's Community ID for it", () => {
    let checked = 0;
    for (const c of cases) {
      for (const a of c.alerts) {
        const flow = c.flows.get(a.evidence.uids[0]) ?? null;
        const eve = toEve(a, { ...SRC, flow });
        expect(eve.event_type).toBe('alert');
        if (!flow || (flow.proto !== 'tcp' && flow.proto !== 'udp')) continue;
        expect(c.tshark.communityIds, `${c.file}: ${String(eve.community_id)}`).toContain(eve.community_id);
        const ends = [`${eve.src_ip}:${eve.src_port}`, `${eve.dest_ip}:${eve.dest_port}`].sort();
        const conv = c.tshark.conversations.find((v) => v.proto === flow.proto && [v.a, v.b].sort().join() === ends.join());
        expect(conv, `${c.file}: ${ends.join(' <-> ')}`).toBeDefined();
        expect(eve.proto).toBe(flow.proto.toUpperCase());
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(0);
  });

  it("say what Suricata's alert section says: allowed, gid 1, a local-range sid, severity 1 high to 3 low", () => {
    const scale = { critical: 1, high: 1, medium: 2, low: 3, info: 3 };
    for (const a of cases.flatMap((c) => c.alerts)) {
      const alert = toEve(a, SRC).alert as Record<string, unknown>;
      expect(alert).toMatchObject({ action: 'allowed', gid: 1, rev: 1, severity: scale[a.severity], signature: `PHONEHOME ${a.rule}` });
      expect(alert.signature_id).toBeGreaterThanOrEqual(1_000_000);
      expect(alert.signature_id).toBeLessThan(2_000_000);
      expect(typeof alert.category).toBe('string');
    }
  });

  it('every rule of the registry has a signature id of its own', () => {
    expect(new Set(RULE_IDS.map(signatureId)).size).toBe(RULE_IDS.length);
  });

  it("timestamps are Suricata's: microseconds and a +0000 offset, the alert's time exactly", () => {
    expect(eveTime(1472729311.334667)).toBe('2016-09-01T11:28:31.334667+0000');
    expect(eveTime(1472729311.9999996)).toBe('2016-09-01T11:28:32.000000+0000');
  });
});

describe('ECS documents of real alerts', () => {
  it('name the device as the source, and the destination with its domain, AS and country', () => {
    let withAs = 0;
    for (const c of cases) {
      for (const a of c.alerts) {
        const flow = c.flows.get(a.evidence.uids[0]) ?? null;
        const doc = toEcs(a, { ...SRC, flow }) as Record<string, any>;
        expect(doc.event).toMatchObject({ kind: 'alert', category: ['network', 'intrusion_detection'] });
        expect(Date.parse(doc['@timestamp'])).toBe(Math.round(a.ts * 1000));
        expect(doc.rule).toMatchObject({ id: a.rule, name: `PHONEHOME ${a.rule}` });
        expect(doc.observer).toMatchObject({ name: 'lab', vendor: 'phonehome', product: 'phonehome', type: 'sensor' });
        expect(doc.threat?.technique.id ?? []).toEqual([...new Set(a.mitre.map((m) => m.technique))]);
        const device = doc.source?.ip === a.device.ip ? doc.source : doc.destination;
        if (a.device.mac && device) expect(device.mac).toMatch(/^([0-9A-F]{2}-){5}[0-9A-F]{2}$/);
        if (flow?.community_id) expect(doc.network.community_id).toBe(flow.community_id);
        const d = a.destination;
        const remote = d && [doc.source, doc.destination].find((s) => s?.ip === d.ip);
        if (remote && d?.asn) {
          expect(remote.as).toEqual({ number: d.asn, ...(d.as_org && { organization: { name: d.as_org } }) });
          withAs++;
        }
        if (remote && d?.country) expect(remote.geo).toEqual({ country_iso_code: d.country });
      }
    }
    expect(withAs).toBeGreaterThan(0);
  });
});

describe('hostile alerts', () => {
  it('every string, list and nesting level is bounded, and the record stays one line of valid JSON', () => {
    const base = cases.flatMap((c) => c.alerts)[0];
    const long = `<script>${'\u202e\u0007\u009b'.repeat(5000)}\ud83d\ude00`;
    let deep: unknown = 'x';
    for (let i = 0; i < 50; i++) deep = { deep };
    const hostile: AlertRecord = {
      ...base,
      message: long,
      device: { ...base.device, vendor: long },
      destination: { ip: '203.0.113.9', port: 443, proto: 'tcp', name: long, country: 'CN', asn: 1, as_org: long },
      evidence: { ...base.evidence, names: Array(5000).fill(long), reason: long, qtypes: deep as Record<string, number> },
    };
    for (const rec of [toEve(hostile, SRC), toEcs(hostile, SRC)]) {
      const text = JSON.stringify(rec);
      expect(text).not.toContain('\n');
      expect(text.length).toBeLessThan(400_000);
      const strings: string[] = [];
      const walk = (v: unknown, depth: number): void => {
        expect(depth).toBeLessThanOrEqual(12);
        if (typeof v === 'string') strings.push(v);
        else if (Array.isArray(v)) (expect(v.length).toBeLessThanOrEqual(100), v.forEach((x) => walk(x, depth + 1)));
        else if (v && typeof v === 'object') Object.values(v).forEach((x) => walk(x, depth + 1));
      };
      walk(JSON.parse(text), 0);
      expect(Math.max(...strings.map((s) => s.length))).toBeLessThanOrEqual(2048);
    }
  });

  it('a cut never splits a surrogate pair', () => {
    const s = `${'a'.repeat(1022)}\ud83d\ude00tail`;
    const cut = bound(s);
    expect(cut.length).toBeLessThanOrEqual(1024);
    expect(cut).toBe(`${'a'.repeat(1022)}…`);
    expect(bound('short')).toBe('short');
  });
});
