// The shipped list of watched operators (rules/watch/operators.yaml): every
// AS number in it is in the embedded AS data under an organisation name the
// entry's own name patterns match, so a wrong number fails here. The file is
// read with the yaml package and the data with an independent CSV reader;
// the sensor's reading of the same file must agree.
import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG_FILE, loadDetectionConfig } from '../../../sensor/detect/config.js';
import { asnRows4, asnRows6, nameMatcher, shippedOperators, specialPurposeAsn, type OperatorEntry } from '../../helpers/asn-data.js';

/** Every organisation name the data gives each AS number. */
function orgsByAsn(): Map<number, Set<string>> {
  const m = new Map<number, Set<string>>();
  for (const r of [...asnRows4(), ...asnRows6()]) {
    if (!m.has(r.asn)) m.set(r.asn, new Set());
    m.get(r.asn)!.add(r.org);
  }
  return m;
}

/** What is wrong with an entry against the data: AS numbers missing from it, or there under a name the entry does not match. */
function problems(e: OperatorEntry, orgs: Map<number, Set<string>>): string[] {
  const match = nameMatcher(e);
  const out: string[] = [];
  for (const asn of e.asn ?? []) {
    const names = orgs.get(asn);
    if (!names) out.push(`${e.operator}: AS${asn} is not in the data`);
    else if (![...names].some(match)) out.push(`${e.operator}: AS${asn} is ${[...names].join(' / ')}, which ${JSON.stringify(e.name)} does not match`);
    if (specialPurposeAsn(asn)) out.push(`${e.operator}: AS${asn} is a special-purpose AS number`);
  }
  return out;
}

describe('rules/watch/operators.yaml', () => {
  const entries = shippedOperators();
  const orgs = orgsByAsn();

  it('every AS number is in the AS data, under an organisation name the entry matches', () => {
    expect(entries.length).toBeGreaterThan(20);
    expect(entries.flatMap((e) => problems(e, orgs))).toEqual([]);
  });

  it('the check catches a wrong number: Google\'s AS under Alibaba Cloud, a number nobody announces', () => {
    const alibaba = entries.find((e) => e.operator === 'Alibaba Cloud')!;
    expect(problems({ ...alibaba, asn: [15169] }, orgs)).toHaveLength(1);
    expect(problems({ ...alibaba, asn: [4294967000] }, orgs).length).toBeGreaterThan(0);
  });

  it('lists the operators asked for, each AS number once, each entry with a headquarters among the default watched countries and a source naming one of its numbers', () => {
    const all = entries.flatMap((e) => e.asn ?? []);
    expect(new Set(all).size).toBe(all.length);
    const watched = loadDetectionConfig(DEFAULT_CONFIG_FILE).watchCountries;
    expect(new Set(entries.map((e) => e.country))).toEqual(new Set(watched));
    for (const e of entries) {
      expect(e.name?.length, e.operator).toBeGreaterThan(0);
      const m = /^https:\/\/(?:www\.peeringdb\.com\/asn\/|bgp\.he\.net\/AS)(\d+)$/.exec(e.source);
      expect(m, `${e.operator}: ${e.source}`).not.toBeNull();
      expect(e.asn, e.operator).toContain(Number(m![1]));
    }
    const asnsOf = (country: string) => new Set(entries.filter((e) => e.country === country).flatMap((e) => e.asn ?? []));
    const cn = asnsOf('CN');
    for (const a of [45102, 37963, 24429, 45090, 132203, 136907, 55990, 55967, 38365, 4134, 4809, 23764, 4837, 9929, 10099, 9808, 58453]) expect(cn.has(a), `AS${a}`).toBe(true);
    const ru = asnsOf('RU');
    for (const a of [13238, 47764, 12389, 49505]) expect(ru.has(a), `AS${a}`).toBe(true);
  });

  it('the sensor reads the same entries through watch.organisations of the shipped detections file', () => {
    const read = loadDetectionConfig(DEFAULT_CONFIG_FILE).watchOrganisations;
    expect(read.map((o) => [o.operator, o.country, o.asns, o.names, o.source])).toEqual(entries.map((e) => [e.operator, e.country, e.asn ?? [], e.name ?? [], e.source]));
  });

  it('no name pattern catches an organisation outside its operator among the data\'s names that other entries list', () => {
    // An entry's patterns must not claim another entry's AS numbers: the lists would contradict each other.
    for (const e of entries) {
      const match = nameMatcher(e);
      for (const other of entries.filter((o) => o !== e)) {
        for (const asn of other.asn ?? []) {
          for (const org of orgs.get(asn) ?? []) expect(match(org), `${e.operator}'s patterns match ${org} (AS${asn}, listed under ${other.operator})`).toBe(false);
        }
      }
    }
  });
});
