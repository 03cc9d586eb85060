// The Detector over enriched flows of real captures: which flows are judged,
// which rules run and in what order, how series are handed to series rules,
// and what scoring twice does. Probe rules (written as a rule module would
// be) record what the engine hands them.
import { beforeAll, describe, expect, it } from 'vitest';
import type { AlertRecord, FlowRecord } from '../../../contract/types.js';
import { readCaptureFile } from '../../../sensor/capture/reader.js';
import { defaultRuleSettings, loadDetectionConfig, type DetectionConfig } from '../../../sensor/detect/config.js';
import { Detector } from '../../../sensor/detect/engine.js';
import type { JudgedFlow, Rule } from '../../../sensor/detect/rule.js';
import { RULES } from '../../../sensor/detect/rules/index.js';
import type { Series } from '../../../sensor/detect/series.js';
import { enrichFlow, type EnrichedFlow } from '../../../sensor/enrich/destination.js';
import { GeoIp } from '../../../sensor/enrich/geoip.js';
import { FlowMeter } from '../../../sensor/pipeline/meter.js';
import { flowUid } from '../../../sensor/pipeline/records.js';
import { fixture } from '../../helpers/corpus.js';
import { COUNTRY_DB, notInternet, sourceRecord } from '../../helpers/detection.js';

let geo: GeoIp;
/** every flow of the captures, enriched as the pipeline enriches it */
let enriched: EnrichedFlow[] = [];

beforeAll(async () => {
  geo = await GeoIp.open([COUNTRY_DB]);
  const m = new FlowMeter({ flow: (r, device, resolved) => enriched.push(enrichFlow(r, device, resolved, geo)) });
  for (const f of ['HueBridge', 'D-LinkCam', 'WeMoSwitch'].map(fixture)) await readCaptureFile(f, m.onPacket);
  m.finish();
});

/** A rule that raises nothing and records what it was handed. */
function probe(id: string, log: string[], claim: (s: Series) => boolean = () => false, enabled = true): Rule & { created: number; judged: JudgedFlow[] } {
  const p = {
    id, summary: 'records what the engine hands it', evidence: [] as const, created: 0, judged: [] as JudgedFlow[],
    defaults: { enabled, severity: 'info' as const, mitre: ['T1071'], params: {} },
    create: () => {
      p.created++;
      return {
        flow: (j: JudgedFlow) => {
          p.judged.push(j);
          log.push(`${id} flow ${j.flow.uid}`);
        },
        series: (s: Series) => {
          log.push(`${id} series ${s.name ?? s.dstIp}`);
          return claim(s);
        },
      };
    },
  };
  return p;
}

function configFor(rules: readonly Rule[]): DetectionConfig {
  return { ...loadDetectionConfig(), rules: defaultRuleSettings(rules) };
}

/** The same real flow at another time, to another address, unnamed (its uid follows from the time). */
function moved(e: EnrichedFlow, ts: number, dstIp = e.rec.dst_ip): EnrichedFlow {
  const rec: FlowRecord = { ...e.rec, ts, uid: flowUid(e.rec.community_id!, ts), dst_ip: dstIp, sni: null, http_host: null, dns_name: null, server_name: null };
  return enrichFlow(rec, e.device, false, geo);
}

describe('Detector', () => {
  it('judges exactly the flows a local device opened to an Internet address', () => {
    const log: string[] = [];
    const p = probe('probe', log);
    const d = new Detector({ config: configFor([p]), profiles: [], rules: [p] });
    // A flow whose initiator the inventory does not know is not judged either.
    const orphan = { ...enriched.find((e) => e.device && !notInternet(e.rec.dst_ip))!, device: null };
    for (const e of [...enriched, orphan]) d.onFlow(e);
    const expected = enriched.filter((e) => e.device !== null && notInternet(e.rec.src_ip) && !notInternet(e.rec.dst_ip));
    // The captures hold local, multicast, broadcast and inbound flows besides the judged ones.
    expect(expected.length).toBeGreaterThan(50);
    expect(enriched.length - expected.length).toBeGreaterThan(100);
    expect(p.judged.map((j) => j.flow.uid)).toEqual(expected.map((e) => e.rec.uid));
    for (const j of p.judged) {
      const e = expected.find((x) => x.rec.uid === j.flow.uid)!;
      expect(j.device).toBe(e.device);
      expect(j.resolved).toBe(e.resolved);
      expect(j.dst).toEqual(geo.lookup(j.flow.dst_ip));
      expect(j.profile).toBeNull();
    }
  });

  it('neither creates nor runs a disabled rule, and an enabled one runs without it', () => {
    const log: string[] = [];
    const on = probe('probe-on', log);
    const off = probe('probe-off', log, () => true, false);
    const d = new Detector({ config: configFor([on, off]), profiles: [], rules: [on, off] });
    for (const e of enriched) d.onFlow(e);
    d.finish(0, Infinity);
    expect(off.created).toBe(0);
    expect(log.some((l) => l.startsWith('probe-off'))).toBe(false);
    expect(on.judged.length).toBeGreaterThan(50);
    expect(log.some((l) => l.startsWith('probe-on series'))).toBe(true);

    // The registry's rules likewise: unprofiled-device fires on these captures, and not when disabled in the settings.
    const all = new Detector({ config: loadDetectionConfig(), profiles: [] });
    const config = loadDetectionConfig();
    config.rules['unprofiled-device'].enabled = false;
    const without = new Detector({ config, profiles: [] });
    for (const e of enriched) {
      all.onFlow(e);
      without.onFlow(e);
    }
    expect(all.finish(0, Infinity).filter((a) => a.rule === 'unprofiled-device').length).toBeGreaterThan(1);
    expect(without.finish(0, Infinity).filter((a) => a.rule === 'unprofiled-device')).toEqual([]);
  });

  it('hands each flow to the rules in registry order', () => {
    // One unresolved flow from an unprofiled device to a watched country trips three registry rules.
    const src = enriched.find((e) => e.device && !notInternet(e.rec.dst_ip) && e.rec.proto === 'tcp')!;
    const cn = '111.235.160.9';
    expect(sourceRecord('GeoLite2-Country-Test', '111.235.160.0/22').country.iso_code).toBe('CN');
    const heard: AlertRecord[] = [];
    const d = new Detector({ config: loadDetectionConfig(), profiles: [] }, (a) => heard.push(a));
    d.onFlow(moved(src, src.rec.ts, cn));
    const order = RULES.map((r) => r.id);
    expect(heard.map((a) => a.rule)).toEqual(['unprofiled-device', 'geo-callback', 'direct-ip'].sort((x, y) => order.indexOf(x) - order.indexOf(y)));

    // Probes in a given order hear every flow in that order.
    const log: string[] = [];
    const probes = ['p-c', 'p-a', 'p-b'].map((id) => probe(id, log));
    const dp = new Detector({ config: configFor(probes), profiles: [], rules: probes });
    for (const e of enriched) dp.onFlow(e);
    const uids = probes[0].judged.map((j) => j.flow.uid);
    expect(log.filter((l) => l.includes(' flow '))).toEqual(uids.flatMap((u) => ['p-c', 'p-a', 'p-b'].map((id) => `${id} flow ${u}`)));
  });

  it('hands each series to the series rules in order until one claims it', () => {
    const log: string[] = [];
    const claimed = new Set<string>();
    const first = probe('p-first', log, (s) => {
      const mine = claimed.size < 2;
      if (mine) claimed.add(s.name ?? s.dstIp);
      return mine;
    });
    const second = probe('p-second', log);
    const d = new Detector({ config: configFor([first, second]), profiles: [], rules: [first, second] });
    for (const e of enriched) d.onFlow(e);
    d.finish(0, Infinity);
    const seen = (id: string) => log.filter((l) => l.startsWith(`${id} series`)).map((l) => l.split(' ')[2]);
    expect(seen('p-first').length).toBeGreaterThan(4);
    expect(claimed.size).toBe(2);
    expect(seen('p-second')).toEqual(seen('p-first').filter((n) => !claimed.has(n)));
  });

  it('replaces series alerts when finish() runs again, rather than adding them; the streaming sink hears the beacon once', () => {
    const src = enriched.find((e) => e.device && !notInternet(e.rec.dst_ip) && e.rec.proto === 'tcp')!;
    const heard: AlertRecord[] = [];
    const d = new Detector({ config: loadDetectionConfig(), profiles: [] }, (a) => heard.push(structuredClone(a)));
    const t0 = 1_700_000_000;
    const beat = (i: number) => d.onFlow(moved(src, t0 + i * 60));
    for (let i = 0; i < 60; i++) beat(i);
    const once = d.finish(t0, t0 + 3600);
    const twice = d.finish(t0, t0 + 3600);
    expect(twice.map((a) => a.id)).toEqual(once.map((a) => a.id));
    const beacons = once.filter((a) => a.rule === 'beaconing');
    expect(beacons).toHaveLength(1);
    expect(beacons[0].evidence.connections).toBe(60);
    // More beats, scored again: still one beacon alert, under the same id, counting them all.
    for (let i = 60; i < 90; i++) beat(i);
    const later = d.finish(t0, t0 + 5400).filter((a) => a.rule === 'beaconing');
    expect(later.map((a) => a.id)).toEqual([beacons[0].id]);
    expect(later[0].evidence.connections).toBe(90);
    expect(later[0].evidence.flows).toBe(90);
    expect(heard.filter((a) => a.rule === 'beaconing')).toHaveLength(1);
  });

  it("runs only a caller's rules when given some: no registry rule fires", () => {
    const log: string[] = [];
    const p = probe('probe', log);
    const d = new Detector({ config: configFor([...RULES, p]), profiles: [], rules: [p] });
    const control = new Detector({ config: configFor([...RULES, p]), profiles: [] });
    for (const e of enriched) {
      d.onFlow(e);
      control.onFlow(e);
    }
    // The registry's rules do fire on these flows (no profiles: every device is unprofiled).
    expect(control.finish(0, Infinity).length).toBeGreaterThan(0);
    expect(d.finish(0, Infinity)).toEqual([]);
    expect(p.judged.length).toBeGreaterThan(50);
  });
});
