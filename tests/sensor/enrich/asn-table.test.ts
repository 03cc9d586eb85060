// The embedded AS database: every answer is checked against the package's
// CSV rows as an independent reader parses them (the other file of each
// pair, scanned row by row), at random addresses inside random rows, at the
// rows' first and last addresses and just outside them, and at random
// addresses; a MaxMind ASN database given with --geoip answers first, as
// mmdblookup reads it. The table is read on the first lookup, not before.
// The packed tables the build writes hold exactly the arrays the CSV reader
// builds, and one that is stale, cut short or damaged is not used.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { openAsnBlocks, packAsnTable, unpackAsnTable, type AsnArrays } from '../../../sensor/enrich/asn-pack.js';
import { crc32 } from '../../../sensor/util/packed.js';
import { AsnTable, Ip4Ranges, Ip6Ranges, asnSource, embeddedAsnFiles, packedAsnFiles, writeAsnPacks, type Ip4Lookup } from '../../../sensor/enrich/asn-table.js';
import { GeoIp } from '../../../sensor/enrich/geoip.js';
import { isSpecialIp } from '../../../sensor/util/addr.js';
import { asnRows4, asnRows6, bigintToIp6, dottedToNumber, mmdbAsn, numberToDotted, oracleAsn, specialPurposeAsn, type AsnRow } from '../../helpers/asn-data.js';
import { GEOIP_DIR } from '../../helpers/corpus.js';
import { ROOT } from '../../helpers/repo.js';
import { rng } from '../../helpers/scenarios.js';

const ASN_TEST_DB = join(GEOIP_DIR, 'GeoLite2-ASN-Test.mmdb');
const haveGeo = existsSync(ASN_TEST_DB);

let rows4: AsnRow<number>[];
let rows6: AsnRow<bigint>[];
let geo: GeoIp;

beforeAll(async () => {
  rows4 = asnRows4();
  rows6 = asnRows6();
  geo = await GeoIp.open([]);
}, 60_000);

const expected = (o: ReturnType<typeof oracleAsn>) => (o ? { asn: o.asn, as_org: o.as_org } : { asn: null, as_org: null });
const got = (ip: string) => ({ asn: geo.lookup(ip).asn, as_org: geo.lookup(ip).as_org });

/** Addresses to try around a row: its first and last, random ones inside, and the ones just outside it. */
function around4(r: AsnRow<number>, inside: number): number[] {
  return [r.start, r.end, inside, ...(r.start > 0 ? [r.start - 1] : []), ...(r.end < 2 ** 32 - 1 ? [r.end + 1] : [])];
}

function around6(r: AsnRow<bigint>, inside: bigint): bigint[] {
  return [r.start, r.end, inside, ...(r.start > 0n ? [r.start - 1n] : []), ...(r.end < 2n ** 128n - 1n ? [r.end + 1n] : [])];
}

describe('the embedded AS table', () => {
  it('has the rows of the data, IPv4 and IPv6, less those of special-purpose AS numbers, and names the organisations', () => {
    const t = new AsnTable();
    expect(t.loaded()).toEqual({ ip4: false, ip6: false });
    expect(t.ip4.rows).toBe(rows4.filter((r) => !specialPurposeAsn(r.asn)).length);
    expect(t.ip6.rows).toBe(rows6.filter((r) => !specialPurposeAsn(r.asn)).length);
    expect(t.loaded()).toEqual({ ip4: true, ip6: true });
    expect(rows4.length).toBeGreaterThan(300_000);
    expect(rows6.length).toBeGreaterThan(50_000);
    // Quoted names with commas and doubled quotes come back as written.
    const quoted = rows4.find((r) => r.org.includes('"') && r.org.includes(','))!;
    expect(t.ip4.orgs.of(quoted.asn)).toBe(quoted.org);
  });

  for (const seed of [1, 7, 42]) {
    it(`IPv4, seed ${seed}: inside random rows, at their edges and at random addresses, the answer is the data's`, () => {
      const rand = rng(seed);
      const ips: number[] = [];
      for (let k = 0; k < 150; k++) {
        const r = rows4[Math.floor(rand() * rows4.length)];
        ips.push(...around4(r, r.start + Math.floor(rand() * (r.end - r.start + 1))));
      }
      for (let k = 0; k < 150; k++) ips.push(Math.floor(rand() * 2 ** 32));
      let known = 0;
      for (const n of ips) {
        const ip = numberToDotted(n);
        if (isSpecialIp(ip)) continue;
        const want = expected(oracleAsn(rows4, n));
        expect(got(ip), `${ip}`).toEqual(want);
        if (want.asn !== null) known++;
      }
      expect(known).toBeGreaterThan(500);
    });

    it(`IPv6, seed ${seed}: inside random rows, at their edges and at random addresses, the answer is the data's`, () => {
      const rand = rng(seed);
      const big = (bits: number) => BigInt(Math.floor(rand() * 2 ** 32)) << BigInt(bits);
      const ips: bigint[] = [];
      for (let k = 0; k < 60; k++) {
        const r = rows6[Math.floor(rand() * rows6.length)];
        const span = r.end - r.start + 1n;
        const offset = (big(96) | big(64) | big(32) | big(0)) % span;
        ips.push(...around6(r, r.start + offset));
      }
      // random addresses in the global unicast range 2000::/3
      for (let k = 0; k < 60; k++) ips.push((1n << 125n) | ((big(96) | big(64) | big(32) | big(0)) & ((1n << 125n) - 1n)));
      let known = 0;
      for (const n of ips) {
        const ip = bigintToIp6(n);
        if (isSpecialIp(ip)) continue;
        const want = expected(oracleAsn(rows6, n));
        expect(got(ip), ip).toEqual(want);
        if (want.asn !== null) known++;
      }
      expect(known).toBeGreaterThan(150);
    });
  }

  it('rows that overlap in the data: the later row answers where they meet, the earlier one before it', () => {
    const overlaps = rows4.filter((r, i) => i > 0 && r.start <= rows4[i - 1].end && !specialPurposeAsn(r.asn) && !specialPurposeAsn(rows4[i - 1].asn));
    for (const r of overlaps) {
      const prev = rows4[rows4.indexOf(r) - 1];
      for (const n of [r.start - 1, r.start, Math.min(r.end, prev.end), r.end]) expect(got(numberToDotted(n)), numberToDotted(n)).toEqual(expected(oracleAsn(rows4, n)));
      expect(got(numberToDotted(r.start)).asn).toBe(r.asn);
      expect(got(numberToDotted(r.start - 1)).asn).toBe(prev.asn);
    }
  });

  it('IPv4-mapped and IPv4-compatible IPv6 addresses get the IPv4 answer', () => {
    const rand = rng(5);
    for (let k = 0; k < 50; k++) {
      const r = rows4[Math.floor(rand() * rows4.length)];
      const ip = numberToDotted(r.start);
      if (isSpecialIp(ip)) continue;
      expect(geo.lookup(`::ffff:${ip}`).asn, ip).toBe(geo.lookup(ip).asn);
      expect(geo.lookup(`::${ip}`).asn, ip).toBe(geo.lookup(ip).asn);
    }
  });

  it('the databases only: GeoIp without the defaults has no AS from the embedded table', async () => {
    const bare = await GeoIp.open([], { withDefault: false });
    expect(bare.lookup('8.8.8.8')).toEqual({ country: null, asn: null, as_org: null });
  });

  it('its files come with the package and name their licence', () => {
    const f = embeddedAsnFiles();
    expect(existsSync(f.ip4) && existsSync(f.ip6)).toBe(true);
    for (const lic of ['ROUTEVIEWS-LICENSE', 'DBIP-LICENSE']) expect(existsSync(join(f.ip4, '..', lic)), lic).toBe(true);
  });
});

/** A typed array's bytes, to compare two arrays at once. */
const bytesOf = (a: Uint32Array | Buffer) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** Each array of `got` equals the same array of `want`, element for element (and so in length). */
function expectSameArrays(got: AsnArrays, want: AsnArrays, what: string): void {
  for (const k of Object.keys(want) as (keyof AsnArrays)[]) {
    expect(got[k].length, `${what} ${k} length`).toBe(want[k].length);
    expect(bytesOf(got[k]).equals(bytesOf(want[k])), `${what} ${k}`).toBe(true);
  }
}

describe('the packed tables the build writes', () => {
  const files = embeddedAsnFiles();
  const tmp = mkdtempSync(join(tmpdir(), 'phonehome-asn-pack-'));
  let csv4: Ip4Ranges;
  let csv6: Ip6Ranges;
  let packed: { ip4: string; ip6: string };

  beforeAll(() => {
    // The CSV reader is the oracle.
    csv4 = Ip4Ranges.load(files.ip4);
    csv6 = Ip6Ranges.load(files.ip6);
    packed = writeAsnPacks(join(tmp, 'data'))!;
  }, 60_000);

  it('hold, IPv4 and IPv6, every array the CSV reader builds, equal element for element, and answer every organisation as it does', () => {
    const t = new AsnTable(files, packed);
    expect(t.ip4.packed && t.ip6.packed).toBe(true);
    expectSameArrays(t.ip4.arrays(), csv4.arrays(), 'IPv4');
    expectSameArrays(t.ip6.arrays(), csv6.arrays(), 'IPv6');
    expect(t.ip4.rows).toBeGreaterThan(300_000);
    expect(t.ip6.rows).toBeGreaterThan(50_000);
    for (const [got, want] of [[t.ip4, csv4], [t.ip6, csv6]] as const) {
      for (const asn of want.orgs.asns) expect(got.orgs.of(asn), `AS${asn}`).toBe(want.orgs.of(asn));
    }
    const rand = rng(3);
    for (let k = 0; k < 2000; k++) {
      const ip = Math.floor(rand() * 2 ** 32);
      expect(t.ip4.find(ip)).toBe(csv4.find(ip));
      const w = [0x20000000 + Math.floor(rand() * 0x10000000), Math.floor(rand() * 2 ** 32), 0, 1];
      expect(t.ip6.find(w[0], w[1], w[2], w[3])).toBe(csv6.find(w[0], w[1], w[2], w[3]));
    }
  });

  it('name the CSV they were made from: the package version and the byte size of the installed file', () => {
    const buf = readFileSync(packed.ip4);
    const source = asnSource(files.ip4)!;
    expect(source.size).toBe(statSync(files.ip4).size);
    expect(source.version).toBe((JSON.parse(readFileSync(join(files.ip4, '..', 'package.json'), 'utf8')) as { version: string }).version);
    expect(buf.includes(Buffer.from(source.version))).toBe(true);
    expect(unpackAsnTable(aligned(buf), 4, source)).not.toBeNull();
    expect(unpackAsnTable(aligned(buf), 4, { ...source, size: source.size + 1 })).toBeNull();
    expect(unpackAsnTable(aligned(buf), 4, { ...source, version: `${source.version}1` })).toBeNull();
    expect(unpackAsnTable(aligned(buf), 4, { ...source, reader: (source.reader + 1) >>> 0 })).toBeNull();
    expect(unpackAsnTable(aligned(buf), 6, source)).toBeNull();
  });

  it('are written by the build: its script runs the built packing step, whose tables the built code reads, and looks for in dist/data', () => {
    const script = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.build;
    expect(script).toMatch(/tsc -p tsconfig\.json && node dist\/sensor\/enrich\/asn-pack-build\.js( &&|$)/);
    const out = join(tmp, 'built');
    execFileSync(process.execPath, [join(ROOT, 'dist/sensor/enrich/asn-pack-build.js'), out]);
    const builtTable = join(ROOT, 'dist/sensor/enrich/asn-table.js');
    const probe = `import { AsnTable, embeddedAsnFiles, packedAsnFiles } from ${JSON.stringify(builtTable)};
      const t = new AsnTable(embeddedAsnFiles(), packedAsnFiles(process.argv[1]));
      console.log(JSON.stringify({ packed: [t.ip4.packed, t.ip6.packed], google: t.ip4.find(0x08080808), at: packedAsnFiles() }));`;
    const built = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', probe, out], { encoding: 'utf8' })) as { packed: boolean[]; google: number; at: unknown };
    expect(built.packed).toEqual([true, true]);
    expect(built.google).toBe(csv4.find(0x08080808));
    expect(built.at).toEqual({ ip4: join(ROOT, 'dist/data/asn-ipv4.bin'), ip6: join(ROOT, 'dist/data/asn-ipv6.bin') });
    // The same arrays as packed here: the files differ only in the reader's code named in the header (built, not the sources).
    const source = { ...asnSource(files.ip4)!, reader: crc32(readFileSync(builtTable))! };
    expectSameArrays(unpackAsnTable(aligned(readFileSync(join(out, 'asn-ipv4.bin'))), 4, source)!, csv4.arrays(), 'built IPv4');
    expectSameArrays(unpackAsnTable(aligned(readFileSync(join(out, 'asn-ipv6.bin'))), 6, { ...source, size: statSync(files.ip6).size })!, csv6.arrays(), 'built IPv6');
    // Tables packed by the sources are not used by the built code, whose reader is other code.
    const fromSources = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', probe, join(tmp, 'data')], { encoding: 'utf8' })) as { packed: boolean[] };
    expect(fromSources.packed).toEqual([false, false]);
  });

  /** Damaged copies of a packed file. */
  function damaged(good: Buffer): [string, Buffer][] {
    // header words are in the machine's byte order
    const word = (at: number) => new Uint32Array(aligned(good.subarray(at, at + 4)).buffer)[0];
    const patched = (at: number, v: number) => {
      const b = aligned(good);
      new Uint32Array(b.buffer, at, 1)[0] = v;
      return b;
    };
    const flipped = Buffer.from(good);
    flipped[Math.floor(good.length * 0.6)] ^= 0x40;
    return [
      ['empty', Buffer.alloc(0)],
      ['cut inside the header', good.subarray(0, 50)],
      ['cut short by a byte', good.subarray(0, good.length - 1)],
      ['cut in half', good.subarray(0, good.length >> 1)],
      ['a byte too long', Buffer.concat([good, Buffer.alloc(1)])],
      ['garbage of the same length', Buffer.from(Array.from({ length: good.length }, (_, i) => (i * 131 + 7) & 0xff))],
      ['one bit of the data flipped', flipped],
      ['another format version', patched(8, word(8) + 1)],
      ['the other byte order', patched(12, 0x04030201)],
      ['more rows than it holds', patched(36, word(36) + 1)],
      ['a version longer than its field', patched(48, 65)],
      ['a wrong checksum', patched(32, (word(32) ^ 1) >>> 0)],
    ];
  }

  it('one that is cut short, damaged, of another format or another byte order is refused, never read', () => {
    for (const [family, file] of [[4, packed.ip4], [6, packed.ip6]] as const) {
      const source = asnSource(family === 4 ? files.ip4 : files.ip6)!;
      const good = readFileSync(file);
      expect(unpackAsnTable(aligned(good), family, source)).not.toBeNull();
      for (const [what, bad] of damaged(good)) expect(unpackAsnTable(aligned(bad), family, source), `IPv${family}: ${what}`).toBeNull();
    }
  });

  /** `got` answers `ip` as the CSV's table does: its row, the row's AS number, and the AS's name. */
  function expectSameAnswer(got: Ip4Lookup, ip: number): void {
    const row = got.find(ip);
    expect(row, `row of ${ip}`).toBe(csv4.find(ip));
    if (row < 0) return;
    expect(got.asnAt(row), `AS of ${ip}`).toBe(csv4.asnAt(row));
    expect(got.orgOf(got.asnAt(row)), `name of AS${csv4.asnAt(row)}`).toBe(csv4.orgOf(csv4.asnAt(row)));
  }

  it('read a block at a time, the IPv4 table answers as the CSV does; after a megabyte of blocks it is read whole, and answers alike', () => {
    const t = new AsnTable(files, packed);
    const rand = rng(5);
    // A small capture's destinations: from blocks, the table never read whole.
    for (let k = 0; k < 20; k++) expectSameAnswer(t.lookup4(), Math.floor(rand() * 2 ** 32));
    expect(t.loaded().ip4).toBe(false);
    for (let k = 0; k < 1000; k++) expectSameAnswer(t.lookup4(), Math.floor(rand() * 2 ** 32));
    expect(t.loaded().ip4).toBe(true);
    expect(t.lookup4()).toBe(t.ip4);
  });

  it('a damaged block is never answered from: the lookup that meets it and every later one answer from the CSV', () => {
    const source = asnSource(files.ip4)!;
    const intact = openAsnBlocks(packed.ip4, 4, source)!;
    intact.file.close();
    const ip = 0x08080808;
    const row = csv4.find(ip);
    expect(row).toBeGreaterThanOrEqual(0);
    const dir = join(tmp, 'block');
    mkdirSync(dir);
    const good = readFileSync(packed.ip4);
    const write = (name: string, change: (b: Buffer) => void): string => {
      const b = Buffer.from(good);
      change(b);
      writeFileSync(join(dir, name), b);
      return join(dir, name);
    };
    // The AS number of 8.8.8.8's row, one bit off.
    const asn = write('asn.bin', (b) => (b[intact.at.asns + row * 4] ^= 0x01));
    const t = new AsnTable(files, { ip4: asn, ip6: packed.ip6 });
    expect(t.lookup4().find(ip)).toBe(row);
    expect(t.lookup4().asnAt(row)).toBe(csv4.asnAt(row));
    expect(t.loaded().ip4).toBe(true);
    expect(t.ip4.packed).toBe(false);
    for (let k = 0; k < 50; k++) expectSameAnswer(t.lookup4(), (0x08080808 + k * 7919) >>> 0);
    // Damage in the header or the block table: not opened for blocks at all.
    expect(openAsnBlocks(write('header.bin', (b) => (b[8 + 7 * 4] ^= 0x01)), 4, source), 'row count').toBeNull();
    expect(openAsnBlocks(write('table.bin', (b) => (b[b.length - 2] ^= 0x01)), 4, source), 'block table').toBeNull();
    expect(openAsnBlocks(write('cut.bin', (b) => b.fill(0, b.length - 8)), 4, source), 'zeroed tail').toBeNull();
    expect(openAsnBlocks(join(dir, 'none.bin'), 4, source), 'missing').toBeNull();
  });

  it('a table with a stale, damaged or unreadable packed file answers from the CSV, as if there were none', () => {
    const dir = join(tmp, 'bad');
    mkdirSync(dir);
    const stale = { ...asnSource(files.ip4)!, version: '0.0.1' };
    const cases: [string, (f: string, family: 4 | 6) => void][] = [
      ['made from another version', (f, family) => writeFileSync(f, packAsnTable(family, stale, (family === 4 ? csv4 : csv6).arrays()))],
      ['garbage', (f) => writeFileSync(f, Buffer.from('not a table at all\n'.repeat(1000)))],
      ['cut short', (f, family) => writeFileSync(f, readFileSync(family === 4 ? packed.ip4 : packed.ip6).subarray(0, 4096))],
      ['a directory', (f) => mkdirSync(f)],
    ];
    for (const [what, make] of cases) {
      const bad = { ip4: join(dir, `${cases.findIndex((c) => c[0] === what)}-4.bin`), ip6: join(dir, `${cases.findIndex((c) => c[0] === what)}-6.bin`) };
      make(bad.ip4, 4);
      make(bad.ip6, 6);
      const t = new AsnTable(files, bad);
      expect([t.ip4.packed, t.ip6.packed], what).toEqual([false, false]);
      expectSameArrays(t.ip4.arrays(), csv4.arrays(), `IPv4 ${what}`);
      expectSameArrays(t.ip6.arrays(), csv6.arrays(), `IPv6 ${what}`);
    }
    const missing = new AsnTable(files, { ip4: join(dir, 'none-4.bin'), ip6: join(dir, 'none-6.bin') });
    expect(missing.ip4.find(0x08080808)).toBe(csv4.find(0x08080808));
    expect(missing.ip4.packed).toBe(false);
  }, 60_000);
});

/** `buf`'s bytes in memory of their own, as the packed file reader gives them. */
function aligned(buf: Buffer): Buffer {
  const b = Buffer.allocUnsafeSlow(buf.length);
  buf.copy(b);
  return b;
}

describe.skipIf(!haveGeo)('a MaxMind ASN database given with --geoip', () => {
  it('answers first, as mmdblookup reads it; the embedded table answers where it has no record', async () => {
    const both = await GeoIp.open([ASN_TEST_DB]);
    const rand = rng(11);
    let fromMaxMind = 0;
    let differs = 0;
    let fromTable = 0;
    // Addresses of the test database's networks, and random ones (mostly outside them).
    const source = JSON.parse(readFileSync(join(GEOIP_DIR, 'GeoLite2-ASN-Test.source.json'), 'utf8')) as Record<string, unknown>[];
    const networks = source.flatMap((e) => Object.keys(e)).filter((c) => !c.includes(':'));
    const ips = [...networks.filter(() => rand() < 0.5).map((c) => c.split('/')[0]), ...Array.from({ length: 120 }, () => numberToDotted(Math.floor(rand() * 2 ** 32)))];
    for (const ip of ips) {
      if (isSpecialIp(ip)) continue;
      const maxmind = mmdbAsn(ASN_TEST_DB, ip);
      const table = expected(oracleAsn(rows4, dottedToNumber(ip)));
      const answer = both.lookup(ip);
      if (maxmind) {
        fromMaxMind++;
        if (maxmind.asn !== table.asn) differs++;
        expect({ asn: answer.asn, as_org: answer.as_org }, ip).toEqual(maxmind);
      } else {
        if (table.asn !== null) fromTable++;
        expect({ asn: answer.asn, as_org: answer.as_org }, ip).toEqual(table);
      }
    }
    // Both sources answered, and where they disagree MaxMind's answer was the one given.
    expect(fromMaxMind).toBeGreaterThan(20);
    expect(differs).toBeGreaterThan(5);
    expect(fromTable).toBeGreaterThan(50);
  }, 60_000);
});
