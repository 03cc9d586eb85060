// Matching devices to profiles and flows to documented entries.
import { describe, expect, it } from 'vitest';
import type { DeviceProfile, FlowRecord } from '../../../../contract/types.js';
import type { DeviceFacts } from '../../../../sensor/devices/inventory.js';
import { ProfileMatcher } from '../../../../sensor/detect/profiles/match.js';

const device = (facts: Partial<DeviceFacts>): DeviceFacts => ({ mac: null, ip: '192.168.1.20', vendor: null, vendor_country: null, mud_url: null, ...facts });

const flow = (f: Partial<FlowRecord>): FlowRecord => ({
  uid: 'C1', community_id: null, ts: 0, duration: 0, proto: 'tcp', src_ip: '192.168.1.20', src_port: 40000, dst_ip: '203.0.113.9', dst_port: 443,
  src_mac: null, dst_mac: null, src_pkts: 1, src_bytes: 60, dst_pkts: 1, dst_bytes: 60, state: 'SF', sni: null, alpn: null, http_host: null,
  user_agent: null, dns_name: null, server_name: null, dst_country: null, dst_asn: null, end_reason: 'end', ...f,
});

describe('ProfileMatcher.profileFor', () => {
  const byVendor: DeviceProfile = { profile: 'by-vendor', match: { vendor: 'Acme' }, documented: [] };
  const byOui: DeviceProfile = { profile: 'by-oui', match: { oui: ['aa:bb:cc'] }, documented: [] };
  const byMud: DeviceProfile = { profile: 'by-mud', match: {}, 'mud-url': 'https://acme.example/mud/lamp', documented: [] };
  const byMac: DeviceProfile = { profile: 'by-mac', match: { mac: ['aa:bb:cc:00:00:01'] }, documented: [] };
  const m = new ProfileMatcher([byVendor, byOui, byMud, byMac]);
  const name = (d: Partial<DeviceFacts>) => m.profileFor(device(d))?.profile ?? null;

  it('prefers an exact MAC, then the MUD URL, then the OUI, then the vendor name', () => {
    const all = { mac: 'AA:BB:CC:00:00:01', mud_url: 'https://acme.example/mud/lamp', vendor: 'Acme Corp' };
    expect(name(all)).toBe('by-mac');
    expect(name({ ...all, mac: 'aa:bb:cc:00:00:02' })).toBe('by-mud');
    expect(name({ ...all, mac: 'aa:bb:cc:00:00:02', mud_url: null })).toBe('by-oui');
    expect(name({ ...all, mac: '00:11:22:00:00:02', mud_url: null })).toBe('by-vendor');
    expect(name({ vendor: 'ACME' })).toBe('by-vendor');
    expect(name({ mac: '00:11:22:00:00:03', vendor: 'Other' })).toBeNull();
  });
});

describe('ProfileMatcher.documents', () => {
  const p: DeviceProfile = {
    profile: 'lamp',
    match: {},
    documented: [
      { domain: '*.cloud.example.com', proto: 'tcp', ports: [443] },
      { domain: 'time.example.com', proto: 'udp' },
      { cidr: '198.51.100.0/24' },
      { cidr: '2001:db8::/32', proto: 'tcp' },
    ],
  };
  const m = new ProfileMatcher([p]);
  const entry = (f: Partial<FlowRecord>) => m.documents(p, flow(f));

  it('matches a wildcard domain on the name and its subdomains, by SNI, HTTP host or DNS name', () => {
    expect(entry({ sni: 'api.cloud.example.com' })).toBe(p.documented[0]);
    expect(entry({ http_host: 'Cloud.Example.com:8443' })).toBe(p.documented[0]);
    expect(entry({ dns_name: 'x.y.cloud.example.com.' })).toBe(p.documented[0]);
    expect(entry({ sni: 'notcloud.example.com' })).toBeNull();
  });

  it('needs the documented protocol and port', () => {
    expect(entry({ sni: 'api.cloud.example.com', dst_port: 80 })).toBeNull();
    expect(entry({ dns_name: 'time.example.com', proto: 'udp', dst_port: 123 })).toBe(p.documented[1]);
    expect(entry({ dns_name: 'time.example.com', proto: 'tcp' })).toBeNull();
    expect(entry({ dns_name: 'sub.time.example.com', proto: 'udp' })).toBeNull();
  });

  it('matches networks by the destination address, IPv4 and IPv6', () => {
    expect(entry({ dst_ip: '198.51.100.77', proto: 'udp', dst_port: 5000 })).toBe(p.documented[2]);
    expect(entry({ dst_ip: '198.51.101.1' })).toBeNull();
    expect(entry({ dst_ip: '2001:db8:1::5' })).toBe(p.documented[3]);
    expect(entry({ dst_ip: '2001:db9::5' })).toBeNull();
  });
});

describe('ProfileMatcher: AS entries', () => {
  const p: DeviceProfile = {
    profile: 'cam',
    match: {},
    documented: [
      { domain: 'api.cam.example', proto: 'tcp', ports: [443] },
      { asn: [16509, 14618], proto: 'tcp', ports: [443, 8443] },
      { asn: [3303] },
    ],
  };
  const plain: DeviceProfile = { profile: 'plain', match: {}, documented: [{ cidr: '198.51.100.0/24' }] };
  const m = new ProfileMatcher([p, plain]);
  const entry = (f: Partial<FlowRecord>) => m.documents(p, flow(f));

  it("matches a flow by its destination's AS, with the entry's protocol and ports", () => {
    expect(entry({ dst_asn: 14618 })).toBe(p.documented[1]);
    expect(entry({ dst_asn: 16509, dst_port: 8443 })).toBe(p.documented[1]);
    expect(entry({ dst_asn: 16509, dst_port: 80 })).toBeNull();
    expect(entry({ dst_asn: 16509, proto: 'udp' })).toBeNull();
    expect(entry({ dst_asn: 3303, proto: 'udp', dst_port: 80 })).toBe(p.documented[2]);
    expect(entry({ dst_asn: 15169 })).toBeNull();
  });

  it('never matches a flow whose AS is unknown', () => {
    expect(entry({ dst_asn: null })).toBeNull();
    expect(entry({ dst_asn: null, sni: 'api.cam.example' })).toBe(p.documented[0]);
    expect(m.hasAsnEntries(p)).toBe(true);
    expect(m.hasAsnEntries(plain)).toBe(false);
  });

  it('entryDocuments asks one entry only', () => {
    const f = flow({ dst_asn: 16509, sni: 'api.cam.example' });
    expect([0, 1, 2, 3].map((i) => m.entryDocuments(p, i, f))).toEqual([true, true, false, false]);
  });

  it('byName finds a profile of the matcher by its name', () => {
    expect(m.byName('plain')).toBe(plain);
    expect(m.byName('other')).toBeNull();
  });
});
