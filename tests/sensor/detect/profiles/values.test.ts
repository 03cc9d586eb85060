// The value checks both profile sources share, called directly: the YAML and
// MUD tests see them only through their own error messages.
import { describe, expect, it } from 'vitest';
import {
  dedupeDestinations,
  describeEntry,
  expandPortRange,
  normaliseAsn,
  normaliseCidr,
  normaliseDomain,
  protoName,
  sortPorts,
} from '../../../../sensor/detect/profiles/values.js';

describe('normaliseCidr', () => {
  it('writes addresses and networks in their canonical form', () => {
    const canonical: Array<[string, string]> = [
      ['192.0.2.7', '192.0.2.7'],
      ['10.0.0.0/8', '10.0.0.0/8'],
      ['0.0.0.0/0', '0.0.0.0/0'],
      ['2001:DB8:0:0::/32', '2001:db8::/32'],
      ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
      ['::', '::'],
      ['::/0', '::/0'],
      ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'],
      ['::FFFF:192.0.2.1', '::ffff:192.0.2.1'],
      ['::ffff:10.0.0.0/104', '::ffff:10.0.0.0/104'],
      ['fe80::/10', 'fe80::/10'],
    ];
    for (const [raw, text] of canonical) expect(normaliseCidr(raw), raw).toEqual({ value: text });
  });

  it('refuses what is not an address as a person should write one', () => {
    const notAddresses = ['010.0.0.1', '10.0.0.01', '00.1.2.3', '10.0.0.256', '10.0.0', '1.2.3.4.5', 'fe80::1%eth0', '1:2:3:4:5:6:7:8::', '::ffff:01.2.3.4', 'x', ''];
    for (const raw of notAddresses) {
      expect(normaliseCidr(raw).problem, raw).toBe('is not an IPv4 or IPv6 address or network (expected e.g. 192.0.2.0/24 or 2001:db8::/32)');
    }
  });

  it('checks the prefix length against the address family', () => {
    expect(normaliseCidr('10.0.0.0/32').value).toBe('10.0.0.0/32');
    expect(normaliseCidr('10.0.0.0/33').problem).toBe('has an invalid prefix length "/33" (expected 0-32 for IPv4)');
    expect(normaliseCidr('10.0.0.0/').problem).toBe('has an invalid prefix length "/" (expected 0-32 for IPv4)');
    expect(normaliseCidr('::/128').value).toBe('::/128');
    expect(normaliseCidr('::/0128').problem).toBe('has an invalid prefix length "/0128" (expected 0-128 for IPv6)');
  });

  it('refuses host bits, naming the network that was probably meant', () => {
    expect(normaliseCidr('10.1.2.3/8').problem).toBe('has host bits set (the network is 10.0.0.0/8)');
    expect(normaliseCidr('192.168.1.1/31').problem).toBe('has host bits set (the network is 192.168.1.0/31)');
    expect(normaliseCidr('2001:db8::1/64').problem).toBe('has host bits set (the network is 2001:db8::/64)');
    expect(normaliseCidr('fe80::/8').problem).toBe('has host bits set (the network is fe00::/8)');
  });
});

describe('the other values', () => {
  it('a domain that is an address is refused; a wildcard keeps its "*."', () => {
    expect(normaliseDomain('192.0.2.1').problem).toBe('is an IP address; use cidr for addresses');
    expect(normaliseDomain('2001:db8::1').problem).toBe('is an IP address; use cidr for addresses');
    expect(normaliseDomain('*.Example.COM.').value).toBe('*.example.com');
  });

  it('names the protocols flows use and keeps other numbers as numbers', () => {
    expect([1, 6, 17, 58, 47].map(protoName)).toEqual(['icmp', 'tcp', 'udp', 'icmp6', '47']);
  });

  it('expands port ranges up to 1024 ports, sorted and without repeats', () => {
    expect(expandPortRange(5, 7).value).toEqual([5, 6, 7]);
    expect(expandPortRange(1, 1024).value).toHaveLength(1024);
    expect(expandPortRange(1, 1025).problem).toBe('spans 1025 ports, more than the 1024 a range may cover');
    expect(expandPortRange(7, 5).problem).toBe('is a range whose start is after its end (7-5)');
    expect(sortPorts([443, 80, 443, 8080, 80])).toEqual([80, 443, 8080]);
  });

  it('drops repeated destinations, keeping the first note', () => {
    expect(
      dedupeDestinations([
        { domain: 'a.example.com', proto: 'tcp', ports: [443], note: 'first' },
        { domain: 'a.example.com', proto: 'tcp', ports: [443], note: 'second' },
        { domain: 'a.example.com', proto: 'udp', ports: [443] },
        { cidr: '10.0.0.0/8' },
        { cidr: '10.0.0.0/8' },
      ]),
    ).toEqual([
      { domain: 'a.example.com', proto: 'tcp', ports: [443], note: 'first' },
      { domain: 'a.example.com', proto: 'udp', ports: [443] },
      { cidr: '10.0.0.0/8' },
    ]);
  });
});

describe('normaliseAsn', () => {
  it('takes a number, a digit string or "AS" and digits', () => {
    expect([16509, '16509', 'AS16509', 'as16509', ' AS1 ', 4294967295].map((v) => normaliseAsn(v).value)).toEqual([16509, 16509, 16509, 16509, 1, 4294967295]);
    for (const v of [0, -1, 1.5, 4294967296, 'AS', 'AS-1', 'Amazon', '', '12345678901']) expect(normaliseAsn(v).problem, String(v)).toMatch(/is not an AS number/);
  });
});

describe('describeEntry', () => {
  it('says what an entry documents in a few words', () => {
    expect(describeEntry({ domain: '*.meethue.com', proto: 'tcp', ports: [80, 443] })).toBe('*.meethue.com tcp/80,443');
    expect(describeEntry({ asn: [14618, 16509], proto: 'tcp', ports: [8000, 8001, 8002, 443] })).toBe('AS14618, AS16509 tcp/443,8000-8002');
    expect(describeEntry({ cidr: '203.0.113.7', proto: 'icmp' })).toBe('203.0.113.7 icmp');
    expect(describeEntry({ cidr: '198.51.100.0/24', ports: [53] })).toBe('198.51.100.0/24 port 53');
  });
});
