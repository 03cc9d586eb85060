// Which addresses are local: the special-purpose ranges always, plus the
// networks the user names (--local-networks), checked against Node's own
// BlockList for the same networks.
import { BlockList, isIP } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Locality } from '../../../sensor/flows/locality.js';
import { phonehome } from '../../helpers/cli.js';
import { dnsResponse, packet, tcpSession, udpFrame } from '../../helpers/build.js';
import { capture } from '../../helpers/detection.js';
import { mmdbCountry } from '../../helpers/mmdblookup.js';
import { ROUTER } from '../../helpers/scenarios.js';
import { defaultDatabase } from '../../../sensor/enrich/geoip.js';
import { fixture } from '../../helpers/corpus.js';

const NETS = ['198.51.100.0/24', '203.0.113.128/25', '8.8.8.8', '2001:db8:1::/48', '2a02:1234:5678:9a00::/56'];

function oracle(nets: string[]): BlockList {
  const b = new BlockList();
  for (const n of nets) {
    const [a, len] = n.split('/');
    const family = isIP(a) === 6 ? 'ipv6' : 'ipv4';
    b.addSubnet(a, len === undefined ? (family === 'ipv6' ? 128 : 32) : Number(len), family);
  }
  return b;
}

describe('Locality', () => {
  const where = new Locality(NETS);
  const none = new Locality();
  const block = oracle(NETS);

  it('an address is local when it is special-purpose or inside a named network, as BlockList says', () => {
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.constantFrom('198.51.100.7', '203.0.113.200', '203.0.113.100', '8.8.8.8', '8.8.8.9')), (ip) => {
        expect(where.localIp(ip)).toBe(none.localIp(ip) || block.check(ip, 'ipv4'));
      }),
      { numRuns: 3000 },
    );
    fc.assert(
      fc.property(fc.oneof(fc.ipV6(), fc.constantFrom('2001:db8:1:ffff::1', '2001:db8:2::1', '2a02:1234:5678:9aff::1', '2a02:1234:5678:9b00::1')), (ip) => {
        expect(where.localIp(ip), ip).toBe(none.localIp(ip) || block.check(ip, 'ipv6'));
      }),
      { numRuns: 3000 },
    );
  });

  it('without networks, public addresses are not local and private ones are', () => {
    expect(none.localIp('8.8.8.8')).toBe(false);
    expect(none.localIp('2a00:1450:4001:80b::200e')).toBe(false);
    expect(none.localIp('192.168.1.10')).toBe(true);
    expect(none.localIp('fd00::1')).toBe(true);
  });

  it('refuses what is not a network, naming it', () => {
    for (const bad of ['foo', '10.0.0.0/33', '2001:db8::/129', '10.0.0.0/8/1', '10.0.0.0/x', '']) {
      expect(() => new Locality([bad]), bad).toThrow(new RegExp(`'${bad.replace(/[.*/]/g, '\\$&')}' is not a network`));
    }
  });
});

describe('--local-networks', () => {
  it('a device with a public address is a device, and its callback is judged, once its network is named', () => {
    // A university host on public addressing calls an address the embedded database (read by mmdblookup) places in CN.
    const server = '114.114.114.114';
    expect(mmdbCountry(defaultDatabase(), server)).toBe('CN');
    const dev = { mac: '02:11:22:33:44:55', ip: '141.30.5.10', port: 40000 };
    const file = capture([
      packet(1000, udpFrame({ ...ROUTER, ip: '141.30.0.1' }, { ...dev, port: 5353 }, dnsResponse(1, 'cloud.example.net', [server]))),
      ...tcpSession(1001, dev, { mac: ROUTER.mac, ip: server, port: 443 }),
    ]);
    const without = JSON.parse(phonehome(['analyze', file, '--no-profiles', '--json']).stdout);
    expect(without.devices.map((d: { mac: string }) => d.mac)).not.toContain(dev.mac);
    expect(without.alerts).toEqual([]);
    const withNet = JSON.parse(phonehome(['analyze', file, '--no-profiles', '--json', '--local-networks', '141.30.0.0/16']).stdout);
    const device = withNet.devices.find((d: { mac: string }) => d.mac === dev.mac);
    expect(device?.ips).toEqual([dev.ip]);
    expect(device?.external_destinations).toBe(1);
    const geo = withNet.alerts.filter((a: { rule: string }) => a.rule === 'geo-callback');
    expect(geo.map((a: { device: { mac: string }; destination: { ip: string } }) => [a.device.mac, a.destination.ip])).toEqual([[dev.mac, server]]);
  });

  it('a mistake is one line with exit 2', () => {
    const r = phonehome(['analyze', fixture('Withings'), '--local-networks', '10.0.0.0/8,nonsense']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe("phonehome: --local-networks: 'nonsense' is not a network like 192.0.2.0/24 or 2001:db8::/32");
  });
});
