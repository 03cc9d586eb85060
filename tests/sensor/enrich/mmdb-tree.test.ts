// The IPv4 part of a MaxMind DB search tree, walked by hand on 32-bit
// numbers: every address lands on the record the maxmind library finds for
// it (and libmaxminddb's mmdbresolve reads the same values there), in trees
// of 24, 28 and 32-bit records, IPv6 trees holding IPv4 under ::/96
// included; addresses no network covers land nowhere.
import { readFileSync } from 'node:fs';
import maxmind, { Reader } from 'maxmind';
import { describe, expect, it } from 'vitest';
import { Ip4Tree, treeRecord } from '../../../sensor/enrich/mmdb-tree.js';
import { rng } from '../../helpers/scenarios.js';
import { dotted, ip4Number, layout, mmdbresolve, readRecord, testDb, withRecordSize } from './mmdb.js';
import { COMBINED_COUNTRY_MMDB } from '../../helpers/mmdblookup.js';

const DBS = ['GeoLite2-Country-Test', 'GeoLite2-City-Test', 'GeoLite2-ASN-Test'] as const;
const SIZES = [24, 28, 32] as const;

/** First and last address of every IPv4 network of a source, and random addresses. */
function addresses(networks: string[], random: number, seed: number): number[] {
  const out: number[] = [];
  for (const cidr of networks) {
    const [addr, len] = cidr.split('/');
    if (addr.includes(':')) continue;
    const base = ip4Number(addr);
    out.push(base, base + 2 ** (32 - Number(len)) - 1);
  }
  const r = rng(seed);
  for (let i = 0; i < random; i++) out.push(Math.floor(r() * 2 ** 32));
  return out;
}

const network = (n: number, prefix: number): [number, number] => {
  const size = 2 ** (32 - prefix);
  const start = n - (n % size);
  return [start, start + size - 1];
};

interface Walk {
  /** pointer Ip4Tree found for each address */
  pointers: number[];
  /** the library's record for each address */
  records: (Record<string, any> | null)[];
}

/** Compares Ip4Tree with the library over the addresses; returns both answers. */
function compareWithLibrary(buf: Buffer, ips: number[], oneRecordPerPointer: boolean): Walk {
  const reader = new Reader<Record<string, any>>(buf);
  const m = reader.metadata;
  const tree = new Ip4Tree(buf, m.nodeCount, m.recordSize, m.ipVersion);
  const walk: Walk = { pointers: [], records: [] };
  const recordOf = new Map<number, string>();
  const pointerOf = new Map<string, number>();
  for (const n of ips) {
    const ip = dotted(n);
    const p = tree.find(n);
    const [rec, prefix] = reader.getWithPrefixLength(ip);
    walk.pointers.push(p);
    walk.records.push(rec);
    expect(p === 0, `${ip}: found by Ip4Tree ${p !== 0}, by the library ${rec !== null}`).toBe(rec === null);
    if (p === 0) continue;
    expect(p, ip).toBeGreaterThan(m.nodeCount);
    // One pointer, one record: the same data wherever the address lands.
    const json = JSON.stringify(rec);
    expect(recordOf.get(p) ?? json, `${ip} at ${p}`).toBe(json);
    recordOf.set(p, json);
    if (oneRecordPerPointer) {
      expect(pointerOf.get(json) ?? p, `${ip}: the same record at two pointers`).toBe(p);
      pointerOf.set(json, p);
    }
    // The whole network the library says the address is in lands there too.
    const [first, last] = network(n, prefix);
    expect([tree.find(first), tree.find(last)], `${ip}/${prefix}`).toEqual([p, p]);
  }
  return walk;
}

describe('treeRecord', () => {
  it('reads both records of every node as the specification lays out 24, 28 and 32-bit records', async () => {
    for (const name of DBS) {
      const { file } = testDb(name);
      const original = readFileSync(file);
      const { nodeCount } = (await maxmind.open(file)).metadata;
      const base = layout(original, nodeCount);
      expect(base.recordSize).toBe(28);
      for (const size of SIZES) {
        const buf = withRecordSize(original, nodeCount, size);
        const l = layout(buf, nodeCount);
        for (let n = 0; n < nodeCount; n++) {
          for (const bit of [0, 1]) {
            const want = readRecord(original, base, n, bit);
            expect(readRecord(buf, l, n, bit)).toBe(want);
            expect(treeRecord(buf, n, bit, size), `${name} ${size}-bit node ${n}/${bit}`).toBe(want);
          }
        }
      }
    }
  });

  it('refuses a record size the format does not have', () => {
    expect(() => treeRecord(Buffer.alloc(64), 0, 0, 16)).toThrow(RangeError);
  });
});

describe('Ip4Tree', () => {
  for (const name of DBS) {
    it(`${name}: in 24, 28 and 32-bit trees, every address lands on the record the library finds, with the values mmdbresolve reads`, async () => {
      const { file, networks } = testDb(name);
      const original = readFileSync(file);
      const { nodeCount } = (await maxmind.open(file)).metadata;
      const ips = addresses(networks, 2000, name.length);
      const resolved = mmdbresolve(file, ips.map(dotted));
      let reference: number[] | null = null;
      for (const size of SIZES) {
        const buf = withRecordSize(original, nodeCount, size);
        const walk = compareWithLibrary(buf, ips, true);
        // The same tree in another record size: the same pointers.
        reference ??= walk.pointers;
        expect(walk.pointers, `${size}-bit`).toEqual(reference);
        // libmaxminddb reads the same values at those records as the library.
        ips.forEach((n, i) => {
          const rec = walk.records[i];
          const theirs = resolved.get(dotted(n))!;
          const field = name.includes('ASN') ? 'autonomous_system_number' : 'country.iso_code';
          const ours = name.includes('ASN') ? rec?.autonomous_system_number : rec?.country?.iso_code;
          expect(theirs[field] ?? null, `${dotted(n)} ${field}`).toBe(ours === undefined || ours === null ? null : String(ours));
        });
        // The comparison compared something: most addresses of the networks land on a record.
        expect(walk.pointers.filter((p) => p !== 0).length, `${size}-bit`).toBeGreaterThan(networks.filter((c) => !c.includes(':')).length);
      }
    });
  }

  it('the embedded database (an IPv6 tree of 24-bit records): random addresses land where the library finds them', async () => {
    const file = COMBINED_COUNTRY_MMDB;
    const buf = readFileSync(file);
    const { recordSize, ipVersion } = (await maxmind.open(file)).metadata;
    expect([recordSize, ipVersion]).toEqual([24, 6]);
    const walk = compareWithLibrary(buf, addresses([], 3000, 7), false);
    expect(walk.records.filter((r) => r !== null).length).toBeGreaterThan(1500);
  });

  it('an address of no network lands nowhere (pointer 0), as the library finds no record', async () => {
    const { file } = testDb('GeoLite2-Country-Test');
    const buf = readFileSync(file);
    const reader = new Reader(buf);
    const m = reader.metadata;
    const tree = new Ip4Tree(buf, m.nodeCount, m.recordSize, m.ipVersion);
    for (const ip of ['9.9.9.9', '10.0.0.1', '127.0.0.1', '255.255.255.255', '0.0.0.0']) {
      expect(reader.get(ip), ip).toBeNull();
      expect(tree.find(ip4Number(ip)), ip).toBe(0);
    }
  });
});
