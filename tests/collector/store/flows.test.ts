// The flows the collector stored, read back for the flows API, on SQLite and
// on a real PostgreSQL server: every filter agrees with filtering the flows
// that went in, and pages concatenate to the whole listing, newest first.
import { beforeEach, describe, expect, test } from 'vitest';
import { StoreError } from '../../../collector/errors.js';
import type { FlowFilter, Store, StoredFlow } from '../../../collector/store/store.js';
import type { FlowRecord } from '../../../contract/types.js';
import { BACKENDS, byteCmp, flowEv, flowVariant, SENSOR, T0, useFixture, useFreshStore } from './backends.js';

useFixture();

const MACS = ['50:c7:bf:00:c7:03', 'b0:c5:54:11:22:33', null];
const DSTS = ['52.1.2.3', '2001:db8::7', '198.51.100.9'];

/** 30 flows over three devices (one MAC-less), three destinations and two sensors; flows 0-4 are delivered by both sensors under the same uid. */
function variants(): { sensor: string; flow: FlowRecord }[] {
  const out: { sensor: string; flow: FlowRecord }[] = [];
  for (let i = 0; i < 30; i++) {
    const mac = MACS[i % 3];
    // Equal timestamps in threes, so the uid and sensor tiebreaks are exercised.
    const flow = flowVariant(i, { ts: T0 + Math.floor(i / 3), src_mac: mac, src_ip: mac ? `10.0.0.${i % 3}` : '10.0.0.99', dst_ip: DSTS[i % DSTS.length] });
    out.push({ sensor: i % 2 ? 'sensor-b' : SENSOR.name, flow });
    if (i < 5) out.push({ sensor: i % 2 ? SENSOR.name : 'sensor-b', flow });
  }
  return out;
}

const order = (a: StoredFlow, b: StoredFlow): number => b.ts - a.ts || byteCmp(b.uid, a.uid) || byteCmp(b.sensor, a.sensor);
const keyOf = (f: StoredFlow): string => `${f.sensor}/${f.uid}`;

describe.each(BACKENDS)('$name store: flows', (backend) => {
  const fresh = useFreshStore(backend);
  let store: Store;
  let stored: StoredFlow[];

  beforeEach(async () => {
    store = fresh();
    const all = variants();
    for (const name of [SENSOR.name, 'sensor-b']) {
      const r = await store.ingest({ ...SENSOR, name }, all.filter((v) => v.sensor === name).map((v) => flowEv(v.flow)), T0 + 100);
      expect(r.refused).toEqual([]);
    }
    stored = all.map((v) => ({ ...v.flow, sensor: v.sensor }));
  });

  async function allPages(f: Omit<FlowFilter, 'limit' | 'cursor'>, limit: number): Promise<StoredFlow[]> {
    const out: StoredFlow[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 100; page++) {
      const r = await store.listFlows({ ...f, limit, cursor });
      out.push(...r.items);
      if (r.next_cursor === null) return out;
      expect(r.items.length, 'a page with a next_cursor is full').toBe(limit);
      cursor = r.next_cursor;
    }
    throw new Error('pagination does not end');
  }

  test('every filter agrees with filtering the flows that went in; pages of any size concatenate to the sorted list', async () => {
    const cases: [Omit<FlowFilter, 'limit' | 'cursor'>, (f: StoredFlow) => boolean][] = [
      [{}, () => true],
      [{ device: MACS[0]! }, (f) => f.src_mac === MACS[0]],
      [{ device: '10.0.0.99' }, (f) => f.src_mac === null && f.src_ip === '10.0.0.99'],
      // An IP a MAC device used does not name the device: its flows are found by MAC.
      [{ device: '10.0.0.0' }, () => false],
      [{ dst: DSTS[1] }, (f) => f.dst_ip === DSTS[1]],
      [{ from: T0 + 3, to: T0 + 6 }, (f) => f.ts >= T0 + 3 && f.ts <= T0 + 6],
      [{ uids: ['Cvar1', 'Cvar7', 'Cvar28', 'nope'] }, (f) => ['Cvar1', 'Cvar7', 'Cvar28'].includes(f.uid)],
      [{ uids: ['Cvar1', 'Cvar2'], sensor: 'sensor-b' }, (f) => ['Cvar1', 'Cvar2'].includes(f.uid) && f.sensor === 'sensor-b'],
      [{ uids: [] }, () => false],
      [{ device: MACS[1]!, dst: DSTS[1], from: T0 + 2 }, (f) => f.src_mac === MACS[1] && f.dst_ip === DSTS[1] && f.ts >= T0 + 2],
    ];
    for (const [filter, pick] of cases) {
      const want = stored.filter(pick).sort(order).map(keyOf);
      for (const limit of [1, 4, 1000]) {
        const got = await allPages(filter, limit);
        expect(got.map(keyOf), `${JSON.stringify(filter)} limit ${limit}`).toEqual(want);
      }
    }
  });

  test('a flow reads back as the sensor sent it, with the sensor that delivered it', async () => {
    const { items } = await store.listFlows({ uids: ['Cvar12'], limit: 10 });
    const sent = stored.find((f) => f.uid === 'Cvar12')!;
    expect(items).toEqual([sent]);
  });

  test('a cursor the collector did not issue is refused as BAD_CURSOR', async () => {
    for (const bad of ['garbage', Buffer.from(JSON.stringify([T0, 'not-a-pair'])).toString('base64url')]) {
      const e = await store.listFlows({ limit: 5, cursor: bad }).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(StoreError);
      expect((e as StoreError).code).toBe('BAD_CURSOR');
    }
  });
});
