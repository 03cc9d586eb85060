import { describe, expect, it } from 'vitest';
import { parseDhcp, parseDhcp6 } from '../../../sensor/protocols/dhcp.js';
import { ascii, dhcp4, dhcp6, dhcp6Option, dhcpOption, embed, hex, u16, u32 } from './build.js';

function parse4(bytes: number[], before = 6, after = 10) {
  const { b, off, len } = embed(bytes, before, after, 0x35);
  return parseDhcp(b, off, len);
}

function parse6(bytes: number[], before = 6, after = 10) {
  const { b, off, len } = embed(bytes, before, after, 0x27);
  return parseDhcp6(b, off, len);
}

const MAC = [0xb0, 0xc5, 0x54, 0x25, 0x5b, 0x0e];

describe('parseDhcp', () => {
  it('reads a request with hostname, PRL, vendor class, MUD URL and requested IP', () => {
    const msg = dhcp4({
      mac: MAC,
      options: [
        ...dhcpOption(53, [3]),
        0, 0, // pad
        ...dhcpOption(50, [192, 168, 1, 77]),
        ...dhcpOption(12, ascii('lightbulb-7f')),
        ...dhcpOption(55, [1, 3, 6, 15, 119, 252]),
        ...dhcpOption(60, ascii('MSFT 5.0')),
        ...dhcpOption(161, ascii('https://mud.example.com/bulb.json')),
        255,
        0, 0, 0,
      ],
    });
    expect(parse4(msg)).toEqual({
      messageType: 3,
      clientMac: 0xb0c554255b0e,
      hostname: 'lightbulb-7f',
      vendorClass: 'MSFT 5.0',
      paramRequestList: [1, 3, 6, 15, 119, 252],
      mudUrl: 'https://mud.example.com/bulb.json',
      requestedIp: 0xc0a8014d,
      yourIp: null,
    });
  });

  it('reads the options of a real discover from a D-Link camera', () => {
    const options = hex('350101 3d0701b0c554255b0e 39020240 37070103060c0f1c2a 3c0c756468637020312e32322e31 0c084443532d3933354c ff 00000000');
    expect(parse4(dhcp4({ mac: MAC, options }))).toMatchObject({
      messageType: 1,
      hostname: 'DCS-935L',
      vendorClass: 'udhcp 1.22.1',
      paramRequestList: [1, 3, 6, 12, 15, 28, 42],
      requestedIp: null,
    });
  });

  it('reports yiaddr in a reply and drops C-string terminators', () => {
    const msg = dhcp4({ op: 2, yiaddr: 0x0a000105, options: [...dhcpOption(53, [5]), ...dhcpOption(12, [...ascii('cam'), 0])] });
    expect(parse4(msg)).toMatchObject({ messageType: 5, yourIp: 0x0a000105, hostname: 'cam' });
  });

  it('has no client MAC for non-Ethernet hardware and survives a missing end option', () => {
    expect(parse4(dhcp4({ htype: 6, options: dhcpOption(53, [1]) }))).toMatchObject({ clientMac: null, messageType: 1 });
    expect(parse4(dhcp4({ hlen: 16, options: [] }))).toMatchObject({ clientMac: null, messageType: null });
  });

  it('returns null for BOOTP without the cookie and for non-BOOTP bytes', () => {
    expect(parse4(dhcp4({ cookie: 0x01020304, options: [255] }))).toBeNull();
    expect(parse4(dhcp4({ op: 3, options: [255] }))).toBeNull();
    expect(parse4([])).toBeNull();
    expect(parse4(dhcp4({ options: [] }).slice(0, 238).map((x, i) => (i === 237 ? 0 : x)))).toBeNull();
  });

  it('reports truncation', () => {
    const full = dhcp4({ options: [...dhcpOption(53, [1]), ...dhcpOption(12, ascii('abc')), 255] });
    expect(parse4(full.slice(0, 100))).toEqual({ error: 'dhcp_truncated' });
    expect(parse4(full.slice(0, 238))).toEqual({ error: 'dhcp_truncated' });
    expect(parse4(full.slice(0, 244))).toEqual({ error: 'dhcp_truncated' });
    expect(parse4(full.slice(0, 246))).toEqual({ error: 'dhcp_truncated' });
    expect(parse4([...full.slice(0, 243), 12])).toEqual({ error: 'dhcp_truncated' });
  });

  it('reports fixed-size options of the wrong size as malformed', () => {
    expect(parse4(dhcp4({ options: [...dhcpOption(53, [1, 2]), 255] }))).toEqual({ error: 'dhcp_malformed' });
    expect(parse4(dhcp4({ options: [...dhcpOption(50, [1, 2, 3]), 255] }))).toEqual({ error: 'dhcp_malformed' });
  });
});

describe('parseDhcp6', () => {
  const duid = [0, 1, 0, 1, 0x2a, 0x3b, 0x4c, 0x5d, ...MAC];
  const fqdnName = [6, ...ascii('sensor'), 4, ...ascii('home'), 4, ...ascii('arpa'), 0];
  const vendor = [...u32(311), ...u16(8), ...ascii('MSFT 5.0'), ...u16(3), ...ascii('xyz')];

  it('reads a solicit with MUD URL, client FQDN, vendor class and DUID', () => {
    const msg = dhcp6(1, [
      ...dhcp6Option(1, duid),
      ...dhcp6Option(8, [0, 0]), // elapsed time
      ...dhcp6Option(39, [0x01, ...fqdnName]),
      ...dhcp6Option(16, vendor),
      ...dhcp6Option(112, ascii('https://things.example.org/lamp')),
    ]);
    expect(parse6(msg)).toEqual({
      messageType: 1,
      mudUrl: 'https://things.example.org/lamp',
      fqdn: 'sensor.home.arpa',
      vendorClass: '311:MSFT 5.0',
      clientDuid: '000100012a3b4c5db0c554255b0e',
    });
  });

  it('accepts a partial FQDN and a vendor class without strings', () => {
    const msg = dhcp6(3, [...dhcp6Option(39, [0, 5, ...ascii('lampy')]), ...dhcp6Option(16, u32(4491))]);
    expect(parse6(msg)).toEqual({ messageType: 3, mudUrl: null, fqdn: 'lampy', vendorClass: '4491:', clientDuid: null });
    expect(parse6(dhcp6(11, []))).toEqual({ messageType: 11, mudUrl: null, fqdn: null, vendorClass: null, clientDuid: null });
  });

  it('skips relay and unknown message types', () => {
    for (const t of [0, 12, 13, 14, 255]) expect(parse6(dhcp6(t, dhcp6Option(112, ascii('x'))))).toBeNull();
    expect(parse6([])).toBeNull();
  });

  it('reports broken options as malformed', () => {
    expect(parse6([1, 0, 0])).toEqual({ error: 'dhcp6_malformed' });
    expect(parse6(dhcp6(1, [0, 1, 0]))).toEqual({ error: 'dhcp6_malformed' });
    expect(parse6(dhcp6(1, [0, 1, 0, 9, 1, 2]))).toEqual({ error: 'dhcp6_malformed' });
    expect(parse6(dhcp6(1, dhcp6Option(39, [])))).toEqual({ error: 'dhcp6_malformed' });
    expect(parse6(dhcp6(1, dhcp6Option(39, [0, 9, ...ascii('abc')])))).toEqual({ error: 'dhcp6_malformed' });
    expect(parse6(dhcp6(1, dhcp6Option(39, [0, 64, ...new Array<number>(64).fill(0x61)])))).toEqual({ error: 'dhcp6_malformed' });
    expect(parse6(dhcp6(1, dhcp6Option(16, [0, 0, 1])))).toEqual({ error: 'dhcp6_malformed' });
    expect(parse6(dhcp6(1, dhcp6Option(16, [...u32(9), 0, 5, 0x61])))).toEqual({ error: 'dhcp6_malformed' });
  });
});
