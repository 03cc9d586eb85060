// The learner behind `profiles suggest`, fed flow records directly: the
// awkward ones captures rarely hold (port 0, thousands of ports, IPv6, names
// that are no domain, hosts without a MAC). Whatever it is given, its drafts
// read back with the real YAML reader and document every flow it was given.
import { describe, expect, it } from 'vitest';
import type { FlowRecord } from '../../../../contract/types.js';
import type { DeviceFacts } from '../../../../sensor/devices/inventory.js';
import { documentableName, ProfileLearner } from '../../../../sensor/detect/profiles/learn.js';
import { ProfileMatcher } from '../../../../sensor/detect/profiles/match.js';
import { parseProfileYaml } from '../../../../sensor/detect/profiles/yaml.js';

const MAC = '02:1e:00:00:00:01';
const device = (mac: string | null = MAC): DeviceFacts => ({ mac, ip: '192.168.1.20', vendor: 'Acme Widgets GmbH', vendor_country: 'DE', mud_url: null });
let n = 0;
const flow = (f: Partial<FlowRecord>): FlowRecord => ({
  uid: `C${n++}`, community_id: null, ts: 1_700_000_000 + n, duration: 1, proto: 'tcp', src_ip: '192.168.1.20', src_port: 40000 + n, dst_ip: '203.0.113.9', dst_port: 443,
  src_mac: MAC, dst_mac: null, src_pkts: 3, src_bytes: 300, dst_pkts: 3, dst_bytes: 300, state: 'SF', mid_stream: false, sni: null, alpn: null, http_host: null,
  user_agent: null, dns_name: null, server_name: null, dst_country: null, dst_asn: null, dst_as_org: null, end_reason: 'closed', ...f,
});

/** Learns `flows`, then checks the one draft, read back from its YAML, documents each of them; returns the draft as read. */
function learnt(flows: FlowRecord[], byAsn = false) {
  const l = new ProfileLearner({ byAsn });
  for (const f of flows) l.add(f, device());
  const drafts = l.drafts(() => 'header');
  expect(drafts).toHaveLength(1);
  const read = parseProfileYaml(drafts[0].yaml, 'draft.yaml');
  const m = new ProfileMatcher([read]);
  for (const f of flows) expect(m.documents(read, f), JSON.stringify(f)).not.toBeNull();
  return { draft: drafts[0], read };
}

describe('ProfileLearner', () => {
  it('documents a name by the name, whatever its case and trailing dot, and a Host header without its port', () => {
    const { read } = learnt([flow({ sni: 'API.Vendor.Example.' }), flow({ http_host: 'fw.vendor.example:8080', dst_port: 8080 }), flow({ dns_name: 'time.vendor.example', proto: 'udp', dst_port: 123 })]);
    expect(read.documented.map((e) => [e.domain, e.proto, e.ports])).toEqual([
      ['api.vendor.example', 'tcp', [443]],
      ['fw.vendor.example', 'tcp', [8080]],
      ['time.vendor.example', 'udp', [123]],
    ]);
  });

  it('documents by address what carried no name, or only names that are no domain', () => {
    const odd = [flow({ http_host: '203.0.113.10:8899', dst_ip: '203.0.113.10', dst_port: 8899 }), flow({ sni: '*.wild.example', dst_ip: '203.0.113.11' }), flow({ sni: 'a b', dst_ip: '203.0.113.12' })];
    const { read } = learnt([flow({}), ...odd]);
    expect(read.documented.map((e) => [e.cidr, e.ports])).toEqual([['203.0.113.9', [443]], ['203.0.113.10', [8899]], ['203.0.113.11', [443]], ['203.0.113.12', [443]]]);
    expect(read.documented[1].note).toContain('no name that is a domain (carried "203.0.113.10:8899")');
    expect(documentableName({ sni: 'a b', http_host: null, dns_name: 'Good.Example' })).toBe('good.example');
  });

  it('writes IPv6 addresses in their canonical form', () => {
    const { read } = learnt([flow({ dst_ip: '2001:0db8:0000:0000:0000:0000:0000:0001' })]);
    expect(read.documented[0].cidr).toBe('2001:db8::1');
  });

  it('leaves out ports where the protocol has none or a port cannot be written (0), and says which were seen', () => {
    const { read } = learnt([flow({ proto: 'icmp', dst_port: 0 }), flow({ proto: 'udp', dst_port: 0, dst_ip: '203.0.113.20' }), flow({ proto: 'udp', dst_port: 53, dst_ip: '203.0.113.20' })]);
    expect(read.documented.map((e) => [e.cidr, e.proto, e.ports])).toEqual([['203.0.113.9', 'icmp', undefined], ['203.0.113.20', 'udp', undefined]]);
    expect(read.documented[1].note).toMatch(/^seen: 2 flows on udp \(ports 0,53\);/);
  });

  it('keeps thousands of ports, as ranges that read back', () => {
    const flows = Array.from({ length: 3000 }, (_, i) => flow({ dst_port: 1000 + i }));
    const { read } = learnt(flows);
    expect(read.documented[0].ports).toHaveLength(3000);
  });

  it('with byAsn, documents a nameless flow by its AS when known, else by address', () => {
    const { read } = learnt([flow({ dst_asn: 64500, dst_as_org: 'Example Net' }), flow({ dst_ip: '203.0.113.30', dst_asn: 64500 }), flow({ dst_ip: '203.0.113.31' }), flow({ sni: 'n.example', dst_asn: 64500 })], true);
    expect(read.documented.map((e) => e.domain ?? e.asn ?? e.cidr)).toEqual(['n.example', [64500], '203.0.113.31']);
    expect(read.documented[1].note).toContain('; 2 addresses 203.0.113.9, 203.0.113.30;');
    // one operator, named once: a flow without the AS's name adds nothing
    expect(read.documented[1].note).toContain('; operator Example Net (AS64500);');
    expect(read.documented[1].note).toContain('; other flows reached them as n.example;');
  });

  it('drafts per device by MAC, and counts what came from hosts without one', () => {
    const l = new ProfileLearner();
    l.add(flow({}), device());
    l.add(flow({ src_mac: '02:1e:00:00:00:02' }), device('02:1e:00:00:00:02'));
    l.add(flow({ src_mac: null }), device(null));
    const drafts = l.drafts((d, flows) => `${d.mac}: ${flows}`);
    expect(drafts.map((d) => [d.profile.profile, d.profile.match, d.flows])).toEqual([
      ['acme-widgets-gmbh-021e00000001', { mac: [MAC] }, 1],
      ['acme-widgets-gmbh-021e00000002', { mac: ['02:1e:00:00:00:02'] }, 1],
    ]);
    expect(drafts[0].yaml.startsWith(`# ${MAC}: 1\n`)).toBe(true);
    expect(l.flowsWithoutMac).toBe(1);
  });
});
