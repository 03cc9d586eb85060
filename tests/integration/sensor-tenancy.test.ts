// Two real sensors, one real collector: the second sensor delivers the same
// capture, so the same alert ids. The collector keeps each alert as its first
// sensor sent it and refuses the other's copies (not_owner, dead letters in
// the API); the second sensor keeps what was refused in its rejected/ folder
// and exits 1 saying so, instead of reporting success.
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { API_TOKEN, startCollector, type RunningCollector } from '../helpers/collector.js';
import { fixture } from '../helpers/corpus.js';
import { analyzed, startSensor } from '../sensor/run/helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'phonehome-tenancy-'));
const TOKENS = { lab: 'lab-sensor-secret-0123456789', attic: 'attic-sensor-secret-0123456789' };
let collector: RunningCollector | null = null;
afterAll(async () => {
  await collector?.stop();
});

async function deliver(name: keyof typeof TOKENS, capture: string): Promise<{ code: number | null; stderr: string; spool: string }> {
  const spool = join(tmp, `spool-${name}`);
  const s = startSensor(['--input', capture, '--collector', collector!.url, '--spool', spool, '--name', name, '--once', '--drain-timeout', '20'], { env: { PHONEHOME_TOKEN: TOKENS[name] } });
  return { code: await s.exit, stderr: s.stderr(), spool };
}

const api = async <T>(path: string): Promise<T> => (await (await fetch(`${collector!.url}${path}`, { headers: { authorization: `Bearer ${API_TOKEN}` } })).json()) as T;

describe('alerts belong to the sensor that first delivered them', () => {
  it("a second sensor's copies of the same alerts are refused, kept on both sides, and its exit says so", async () => {
    collector = await startCollector(`sqlite:${join(tmp, 'c.db')}`, ['--sensor-token', `attic:${TOKENS.attic}`]);
    const capture = fixture('HueSwitch');
    const truth = analyzed(join(tmp, 'analyzed'), [capture]);
    expect(truth.alerts.length).toBeGreaterThan(0);

    const first = await deliver('lab', capture);
    expect(first.code, first.stderr).toBe(0);
    const second = await deliver('attic', capture);
    expect(second.code, second.stderr).toBe(1);
    expect(second.stderr).toMatch(/refused/);

    // The alerts are the first sensor's, as it sent them.
    const alerts = await api<{ items: { id: string; sensor: string }[] }>('/api/v1/alerts?limit=1000');
    expect(alerts.items.map((a) => a.id).sort()).toEqual(truth.alerts.map((a) => a.id).sort());
    expect(new Set(alerts.items.map((a) => a.sensor))).toEqual(new Set(['lab']));

    // Every alert event of the second sensor is a dead letter, with its reason.
    const dead = await api<{ items: { sensor: string; code: string; kind: string; key: string }[] }>('/api/v1/dead-letters?sensor=attic&limit=1000');
    expect(dead.items.length).toBeGreaterThan(0);
    expect(new Set(dead.items.map((d) => d.code))).toEqual(new Set(['not_owner']));
    const refusedAlertIds = new Set(dead.items.filter((d) => d.kind === 'alert').map((d) => d.key.split(':')[1]));
    expect([...refusedAlertIds].sort()).toEqual(truth.alerts.map((a) => a.id).sort());

    // The second sensor kept them, with their reasons, for --resend-rejected.
    const kept = readdirSync(join(second.spool, 'rejected')).filter((n) => n.endsWith('.json'));
    expect(kept.length).toBeGreaterThan(0);
    const text = kept.map((n) => readFileSync(join(second.spool, 'rejected', n), 'utf8')).join('\n');
    expect(text).toContain('not_owner');
  }, 120_000);
});
