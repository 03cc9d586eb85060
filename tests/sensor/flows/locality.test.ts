// Which addresses are local: the special-purpose ranges always, plus the
// networks the user names (--local-networks), checked against Node's own
// BlockList for the same networks.
import { BlockList, isIP } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Locality } from '../../../sensor/flows/locality.js';
import { phonehome } from '../../helpers/cli.js';
import { dnsResponse, packet, tcpSession, udpFrame } from '../../helpers/build.js';
import { tcp6Session } from '../../helpers/frames.js';
import { ETH_ARP, ETH_IPV6, ethernet, icmp, ip4Bytes, ip6Bytes, ipv6, macBytes } from '../decode/frames.js';
import { capture } from '../../helpers/detection.js';
import { mmdbCountry, COMBINED_COUNTRY_MMDB } from '../../helpers/mmdblookup.js';
import { ROUTER } from '../../helpers/scenarios.js';
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
    expect(mmdbCountry(COMBINED_COUNTRY_MMDB, server)).toBe('CN');
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

describe('learnt on the link, with no flag', () => {
  const router = { mac: ROUTER.mac, ip: '141.30.0.1', port: 0 };
  const arp = (t: number, mac: string, ip: string, target: string) => {
    const body = Buffer.alloc(28);
    body.writeUInt16BE(1, 0);
    body.writeUInt16BE(0x0800, 2);
    body[4] = 6;
    body[5] = 4;
    body.writeUInt16BE(1, 6);
    macBytes(mac).copy(body, 8);
    ip4Bytes(ip).copy(body, 14);
    ip4Bytes(target).copy(body, 24);
    return packet(t, ethernet('ff:ff:ff:ff:ff:ff', mac, ETH_ARP, body));
  };
  /** A neighbour advertisement (136, solicited and override) for `target`, sent by `mac` from `target`. */
  const advert = (t: number, mac: string, target: string) => {
    const rest = Buffer.concat([Buffer.from([0x60, 0, 0, 0]), ip6Bytes(target)]);
    return packet(t, ethernet(ROUTER.mac, mac, ETH_IPV6, ipv6(target, 'fe80::1', 58, icmp(136, 0, rest))));
  };
  const judged = (file: string, extra: string[] = []) => JSON.parse(phonehome(['analyze', file, '--no-profiles', '--json', ...extra]).stdout);

  it('a dual-stack device calling a watched country over IPv6 from its global address is a device with a geo-callback', () => {
    const server6 = '240e:ff:e020::1';
    expect(mmdbCountry(COMBINED_COUNTRY_MMDB, server6)).toBe('CN');
    const dev = { mac: '02:11:22:33:44:66', ip: '2a02:8071:1:2::66', port: 40000 };
    const file = capture([
      advert(1000, dev.mac, dev.ip),
      ...tcp6Session(1001, dev, { mac: ROUTER.mac, ip: server6, port: 443 }),
    ]);
    for (const extra of [[], ['--workers', '2']]) {
      const out = judged(file, extra);
      expect(out.devices.find((d: { mac: string }) => d.mac === dev.mac)?.ips, extra.join(' ')).toEqual([dev.ip]);
      const geo = out.alerts.filter((a: { rule: string }) => a.rule === 'geo-callback');
      expect(geo.map((a: { device: { mac: string }; destination: { ip: string } }) => [a.device.mac, a.destination.ip]), extra.join(' ')).toEqual([[dev.mac, server6]]);
    }
  });

  it('a device with a public IPv4 address, seen in ARP, is a device with a geo-callback; without its ARP it is not', () => {
    const server = '114.114.114.114';
    const dev = { mac: '02:11:22:33:44:77', ip: '141.30.5.11', port: 40000 };
    const session = tcpSession(1001, dev, { mac: ROUTER.mac, ip: server, port: 443 });
    const seen = judged(capture([arp(1000, dev.mac, dev.ip, router.ip), ...session]));
    expect(seen.devices.find((d: { mac: string }) => d.mac === dev.mac)?.ips).toEqual([dev.ip]);
    expect(seen.alerts.filter((a: { rule: string }) => a.rule === 'geo-callback').map((a: { destination: { ip: string } }) => a.destination.ip)).toEqual([server]);
    const unseen = judged(capture(session));
    expect(unseen.devices.map((d: { mac: string }) => d.mac)).not.toContain(dev.mac);
    expect(unseen.alerts).toEqual([]);
  });

  it('an address learnt after a flow began still makes that flow local (ARP after the first packets)', () => {
    const server = '114.114.114.114';
    const dev = { mac: '02:11:22:33:44:88', ip: '141.30.5.12', port: 40000 };
    const out = judged(capture([...tcpSession(1000, dev, { mac: ROUTER.mac, ip: server, port: 443 }), arp(1000.035, dev.mac, dev.ip, router.ip)]));
    expect(out.alerts.filter((a: { rule: string }) => a.rule === 'geo-callback').map((a: { device: { mac: string } }) => a.device.mac)).toEqual([dev.mac]);
  });
});
