// `phonehome analyze --format eve|ecs`, the built command on a real capture:
// one document per alert of alerts.jsonl, in the file --out names or on
// stdout, with the 5-tuple and Community ID of the alert's first flow; and
// phonehome's own outputs unchanged by it.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { AlertRecord, FlowRecord } from '../../../contract/types.js';
import { phonehome } from '../../helpers/cli.js';
import { fixture } from '../../helpers/corpus.js';

const tmp = mkdtempSync(join(tmpdir(), 'phonehome-siem-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const CAPTURE = fixture('HueBridge');
const lines = (text: string) => text.split('\n').filter(Boolean).map((l) => JSON.parse(l));

describe('analyze --format', () => {
  it('--out DIR --format eve writes alerts.eve.json beside the usual files, which stay as they were', () => {
    const plain = join(tmp, 'plain');
    const eve = join(tmp, 'eve');
    expect(phonehome(['analyze', CAPTURE, '--out', plain]).code).toBe(0);
    const r = phonehome(['analyze', CAPTURE, '--out', eve, '--format', 'eve']);
    expect(r.code, r.stderr).toBe(0);
    for (const f of ['alerts.jsonl', 'flows.jsonl', 'dns.jsonl', 'devices.json']) expect(readFileSync(join(eve, f), 'utf8')).toBe(readFileSync(join(plain, f), 'utf8'));
    const alerts = lines(readFileSync(join(eve, 'alerts.jsonl'), 'utf8')) as AlertRecord[];
    const flows = new Map((lines(readFileSync(join(eve, 'flows.jsonl'), 'utf8')) as FlowRecord[]).map((f) => [f.uid, f]));
    const records = lines(readFileSync(join(eve, 'alerts.eve.json'), 'utf8'));
    expect(alerts.length).toBeGreaterThan(0);
    expect(records.map((e) => e.phonehome.id)).toEqual(alerts.map((a) => a.id));
    for (const [i, e] of records.entries()) {
      const flow = flows.get(alerts[i].evidence.uids[0])!;
      expect(e).toMatchObject({ event_type: 'alert', src_ip: flow.src_ip, src_port: flow.src_port, dest_ip: flow.dst_ip, dest_port: flow.dst_port, community_id: flow.community_id });
    }
  }, 60_000);

  it('without --out the same documents are printed instead of the summary', () => {
    const r = phonehome(['analyze', CAPTURE, '--format', 'ecs']);
    expect(r.code, r.stderr).toBe(0);
    const docs = lines(r.stdout);
    expect(docs.length).toBeGreaterThan(0);
    expect(docs.every((d) => d.event.kind === 'alert' && d.ecs.version && d.network.community_id)).toBe(true);
    const withOut = join(tmp, 'ecs');
    phonehome(['analyze', CAPTURE, '--out', withOut, '--format', 'ecs']);
    expect(readFileSync(join(withOut, 'alerts.ecs.json'), 'utf8')).toBe(r.stdout);
  }, 60_000);

  it('a format it does not know, or --json with stdout taken, is a one-line usage error (exit 2)', () => {
    const bad = phonehome(['analyze', CAPTURE, '--format', 'cef']);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/--format must be eve or ecs/);
    const both = phonehome(['analyze', CAPTURE, '--format', 'eve', '--json']);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/--json/);
  });

  it('--help documents it with an example', () => {
    const help = phonehome(['analyze', '--help']).stdout;
    expect(help).toMatch(/--format eve\|ecs/);
    expect(help).toMatch(/phonehome analyze .*--format (eve|ecs)/);
  });
});
