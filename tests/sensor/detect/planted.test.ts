// Every anomaly and backdoor indicator planted, each on its own device, into
// real background traffic from the corpus with several seeds, beside benign
// look-alikes (a camera uploading 5 MB every hour, a device with many NTP
// servers, a CDN with many names, a phone app resolving one-off names, a
// device refusing inbound SYNs, a connection under the hour, HTTP and MQTT
// without credentials, a UPnP query that maps nothing, a neighbour of a
// listed indicator), run through the built CLI. Each planted behaviour must
// raise exactly its rule, for exactly its device, with the planted facts;
// the look-alikes and the background none of the rules. The expectations
// come from the generator's plan. PHONEHOME_PLANT_SEED=N runs seed N alone.
import { beforeAll, describe, expect, it } from 'vitest';
import type { AlertRecord } from '../../../contract/types.js';
import { phonehome } from '../../helpers/cli.js';
import { ASN_DB, COUNTRY_DB } from '../../helpers/detection.js';
import { analyzeOut, type Analysis } from '../../helpers/plant.js';
import { BEHAVIOURS, plantedCapture, SEED_ENV, type PlantedCapture } from '../../helpers/plant-scenario.js';

const fromEnv = process.env[SEED_ENV];
if (fromEnv !== undefined && !/^\d+$/.test(fromEnv)) throw new Error(`${SEED_ENV} must be a whole number, not ${JSON.stringify(fromEnv)}`);
const SEEDS = fromEnv !== undefined ? [Number(fromEnv)] : [1, 2, 3];
const NEW_RULES: readonly string[] = BEHAVIOURS;

const runs = new Map<number, { plan: PlantedCapture; out: Analysis; background: Set<string>; summary: AlertRecord[] }>();
const GEO = ['--geoip', COUNTRY_DB, '--geoip', ASN_DB];

/** The planted expectation as a matcher: objects in part ({$approx} within half a unit), arrays whole. */
function matcher(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(matcher);
  if (v !== null && typeof v === 'object') {
    if ('$approx' in v) return expect.closeTo((v as { $approx: number }).$approx, 0);
    return expect.objectContaining(Object.fromEntries(Object.entries(v).map(([k, x]) => [k, matcher(x)])));
  }
  return v;
}

const newAlerts = (alerts: AlertRecord[]) => alerts.filter((a) => NEW_RULES.includes(a.rule));
const key = (a: AlertRecord) => `${a.rule} ${a.device.mac}`;
const describeRun = (plan: PlantedCapture) =>
  [`seed ${plan.seed} (repeat with ${SEED_ENV}=${plan.seed}), background ${plan.background}`, ...plan.plants.map((p) => `  ${p.rule} on ${p.dev.mac} ${p.dev.ip}: ${p.what}`), ...plan.lookAlikes.map((l) => `  look-alike ${l.dev.mac} ${l.dev.ip}: ${l.name}`)].join('\n');

describe('planted behaviours in real background traffic', () => {
  beforeAll(async () => {
    for (const seed of SEEDS) {
      const plan = await plantedCapture(seed);
      if (plan.backgroundNote) console.warn(plan.backgroundNote);
      console.log(describeRun(plan));
      // what the real capture raises alone (a phone logging in to a plug with HTTP Basic, say) is the background's, not a planted device's
      const alone = analyzeOut(plan.background, ['--no-profiles', '--intel', plan.feed, ...GEO]);
      const args = ['--no-profiles', '--intel', plan.feed, ...GEO];
      // without --out no flow is written out, and the flow meter builds records only for what detection looks at
      const json = phonehome(['analyze', plan.file, '--json', ...args]);
      if (json.code !== 0) throw new Error(`analyze --json exited ${json.code}: ${json.stderr}`);
      const summary = (JSON.parse(json.stdout) as { alerts: AlertRecord[] }).alerts;
      runs.set(seed, { plan, out: analyzeOut(plan.file, args), background: new Set(newAlerts(alone.alerts).map(key)), summary });
    }
  }, 120_000);

  it.each(SEEDS)('seed %i: each planted behaviour raises its rule, for its device only, with the planted facts', (seed) => {
    const { plan, out, background } = runs.get(seed)!;
    for (const p of plan.plants) {
      const mine = out.alerts.filter((a) => a.device.mac === p.dev.mac);
      const label = `seed ${seed}, ${p.rule}: ${p.what}`;
      // no other new rule on this device, and this rule on no other device
      expect.soft(newAlerts(mine).map((a) => a.rule), label).toEqual(p.alerts.map(() => p.rule));
      expect.soft(out.alerts.filter((a) => a.rule === p.rule && a.device.mac !== p.dev.mac && !background.has(key(a))).map((a) => `${a.device.mac} ${a.message}`), label).toEqual([]);
      const got = mine.filter((a) => a.rule === p.rule);
      expect.soft(got, label).toEqual(expect.arrayContaining(p.alerts.map(matcher)));
      expect.soft(got.every((a) => a.device.ip === p.dev.ip), label).toBe(true);
      if (p.names) for (const n of got.flatMap((a) => a.evidence.names ?? [])) expect.soft(p.names, label).toContain(n);
    }
  });

  it.each(SEEDS)('seed %i: the look-alikes raise none of the new rules, and the background only what it raises alone', (seed) => {
    const { plan, out, background } = runs.get(seed)!;
    for (const l of plan.lookAlikes) {
      expect.soft(newAlerts(out.alerts.filter((a) => a.device.mac === l.dev.mac)).map((a) => `${a.rule}: ${a.message}`), `seed ${seed}, ${l.name}`).toEqual([]);
    }
    const planted = new Set(plan.plants.map((p) => p.dev.mac));
    // the background raises here what it raises alone, no more, no less
    expect([...new Set(newAlerts(out.alerts).filter((a) => !planted.has(a.device.mac!)).map(key))].sort()).toEqual([...background].sort());
  });

  it.each(SEEDS)('seed %i: the alerts are the same whether flows are written out or not (without --out only the flows detection looks at get a record)', (seed) => {
    const { out, summary } = runs.get(seed)!;
    expect(summary.length).toBeGreaterThan(BEHAVIOURS.length);
    expect(summary).toEqual(out.alerts);
  });

  it.each(SEEDS)('seed %i: the capture holds what the plan says (every planted device sent packets)', (seed) => {
    const { plan, out } = runs.get(seed)!;
    const seen = new Set(out.flows.flatMap((f) => [f.src_mac, f.dst_mac]));
    for (const d of [...plan.plants.map((p) => p.dev), ...plan.lookAlikes.map((l) => l.dev)]) expect(seen.has(d.mac), d.mac).toBe(true);
    expect(plan.plants.map((p) => p.rule).sort()).toEqual([...BEHAVIOURS].sort());
    expect(plan.feedText.split('\n').filter((l) => l && !l.startsWith('#'))).toHaveLength(1);
  });
});
