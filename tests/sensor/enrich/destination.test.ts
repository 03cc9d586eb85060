// enrichFlow: a flow's destination gets the country, autonomous system and
// operator the GeoIP databases give it, as libmaxminddb's mmdblookup reads
// them; local and special addresses (private, link-local, multicast,
// documentation) get nothing, even where a database has an entry for them.
import { describe, expect, it } from 'vitest';
import type { DeviceRecord, FlowRecord } from '../../../contract/types.js';
import type { DeviceFacts } from '../../../sensor/devices/inventory.js';
import { enrichFlow } from '../../../sensor/enrich/destination.js';
import { GeoIp } from '../../../sensor/enrich/geoip.js';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { tcpSession, type Endpoint } from '../../helpers/build.js';
import { fixture, GEOIP_DIR } from '../../helpers/corpus.js';
import { ASN_DB, capture, COUNTRY_DB, notInternet } from '../../helpers/detection.js';
import { tcp6Session } from '../../helpers/frames.js';
import { COMBINED_COUNTRY_MMDB, mmdbCountry, mmdbValue } from '../../helpers/mmdblookup.js';
import { phonehomeView } from '../../helpers/phonehome.js';
import { phonehome } from '../../helpers/cli.js';

const T0 = 1_700_000_000;
const device: Endpoint = { mac: '02:20:00:00:00:01', ip: '192.168.1.20', port: 40000 };
const device6: Endpoint = { mac: '02:20:00:00:00:01', ip: 'fd00::20', port: 40000 };
const gateway = '02:20:00:00:00:fe';
const facts: DeviceFacts = { mac: device.mac, ip: device.ip } as DeviceFacts;

/** Real flow records (from the meter) of one TCP session from the device to each address. */
async function flowsTo(ips: string[]): Promise<FlowRecord[]> {
  const pkts = ips.flatMap((ip, i) =>
    ip.includes(':')
      ? tcp6Session(T0 + i, { ...device6, port: 40000 + i }, { mac: gateway, ip, port: 443 })
      : tcpSession(T0 + i, { ...device, port: 40000 + i }, { mac: gateway, ip, port: 443 }),
  );
  const flows = (await phonehomeView([capture(pkts)])).flows;
  expect(flows.map((f) => f.dst_ip).sort()).toEqual([...ips].sort());
  return flows;
}

/** First addresses of every IPv4 network of a MaxMind test database's source, every `step`-th. */
function networks(db: 'GeoLite2-Country-Test' | 'GeoLite2-ASN-Test', step: number): string[] {
  const source = JSON.parse(readFileSync(join(GEOIP_DIR, `${db}.source.json`), 'utf8')) as Record<string, unknown>[];
  return source.flatMap((e) => Object.keys(e)).filter((cidr) => !cidr.includes(':')).filter((_, i) => i % step === 0).map((cidr) => cidr.split('/')[0]);
}

describe('enrichFlow', () => {
  it('special destinations get no GeoIP answer, even those the embedded database has an entry for; the record keeps its nulls', async () => {
    const geo = await GeoIp.open([]);
    const special = ['10.1.2.3', '192.168.1.1', '100.64.0.1', '169.254.1.1', '198.51.100.7', '203.0.113.9', '192.0.2.5', '198.18.0.1', '2001:db8::1', 'fd00::1'];
    // The embedded database answers for some of them: leaving them out is enrichFlow's doing.
    expect(special.filter((ip) => mmdbCountry(COMBINED_COUNTRY_MMDB, ip) !== null).length).toBeGreaterThan(2);
    for (const rec of await flowsTo(special)) {
      expect(notInternet(rec.dst_ip), rec.dst_ip).toBe(true);
      const e = enrichFlow(rec, facts, true, geo);
      expect(e.dst, rec.dst_ip).toBeNull();
      expect([e.rec, e.device, e.resolved]).toEqual([rec, facts, true]);
      expect(e.rec).toBe(rec);
      expect([rec.dst_country, rec.dst_asn, rec.dst_as_org], rec.dst_ip).toEqual([null, null, null]);
    }
  });

  it('public destinations get the country, AS number and operator mmdblookup reads from the Country and ASN databases', async () => {
    const geo = await GeoIp.open([COUNTRY_DB, ASN_DB], { withDefault: false });
    const ips = [...networks('GeoLite2-Country-Test', 1), ...networks('GeoLite2-ASN-Test', 25), '8.8.8.8'];
    let known = 0;
    for (const rec of await flowsTo(ips)) {
      const ip = rec.dst_ip;
      const e = enrichFlow(rec, null, false, geo);
      const want = { country: mmdbCountry(COUNTRY_DB, ip), asn: mmdbValue(ASN_DB, ip, ['autonomous_system_number']), as_org: mmdbValue(ASN_DB, ip, ['autonomous_system_organization']) };
      expect(e.dst, ip).toEqual(want);
      expect([rec.dst_country, rec.dst_asn, rec.dst_as_org], ip).toEqual([want.country, want.asn, want.as_org]);
      expect(e.rec).toBe(rec);
      expect([e.device, e.resolved]).toEqual([null, false]);
      if (want.country !== null) known++;
      if (want.asn !== null) known++;
    }
    // Most addresses are in a network of one database or the other: the answers compared were not empty.
    expect(known).toBeGreaterThan(ips.length / 2);
  });

  it("every flow of the bundled captures: local ones untouched, public ones the embedded country database's answer per mmdblookup", async () => {
    const geo = await GeoIp.open([]);
    const view = await phonehomeView(['HueBridge', 'TP-LinkPlugHS110', 'WeMoSwitch', 'D-LinkCam', 'EdimaxCam1', 'Withings', 'HueSwitch'].map(fixture));
    const countryOf = new Map<string, string | null>();
    let pub = 0;
    for (const rec of view.flows) {
      const e = enrichFlow(rec, null, false, geo);
      if (notInternet(rec.dst_ip)) {
        expect(e.dst, rec.dst_ip).toBeNull();
        expect(rec.dst_country, rec.dst_ip).toBeNull();
        continue;
      }
      pub++;
      if (!countryOf.has(rec.dst_ip)) countryOf.set(rec.dst_ip, mmdbCountry(COMBINED_COUNTRY_MMDB, rec.dst_ip));
      expect(e.dst!.country, rec.dst_ip).toBe(countryOf.get(rec.dst_ip));
      expect([rec.dst_country, rec.dst_asn, rec.dst_as_org], rec.dst_ip).toEqual([e.dst!.country, e.dst!.asn, e.dst!.as_org]);
    }
    expect(pub).toBeGreaterThan(20);
    expect([...countryOf.values()].filter((c) => c !== null).length).toBeGreaterThan(10);
  });
});

describe('devices.json destinations', () => {
  it('carry the country mmdblookup reads, and the AS and operator their own flows carry', () => {
    const out = mkdtempSync(join(tmpdir(), 'phonehome-devdest-'));
    const r = phonehome(['analyze', dirname(fixture('Withings')), '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const devices = JSON.parse(readFileSync(join(out, 'devices.json'), 'utf8')) as DeviceRecord[];
    const flows = readFileSync(join(out, 'flows.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as FlowRecord);
    const dests = devices.flatMap((d) => d.destinations);
    expect(dests.length).toBeGreaterThan(5);
    for (const x of dests) {
      expect(Object.keys(x).slice(0, 5)).toEqual(['ip', 'name', 'country', 'asn', 'as_org']);
      expect(x.country, x.ip).toBe(mmdbCountry(COMBINED_COUNTRY_MMDB, x.ip));
      const f = flows.find((g) => g.dst_ip === x.ip && g.dst_country !== null);
      if (f) expect([x.asn, x.as_org], x.ip).toEqual([f.dst_asn, f.dst_as_org]);
    }
    expect(dests.some((x) => x.asn !== null && x.as_org !== null)).toBe(true);
  }, 60_000);
});
