// The router is infrastructure, not a device: the MAC that carries local
// hosts' traffic to and from Internet addresses is marked role 'gateway',
// in devices.json and in the facts detection reads (engine.ts judges()).
import { describe, expect, it } from 'vitest';
import { GATEWAY_MIN_PEERS, NextHops } from '../../../sensor/devices/gateway.js';
import { macNumber } from '../decode/frames.js';
import { Inventory } from '../../../sensor/devices/inventory.js';
import { Flow } from '../../../sensor/flows/flow.js';
import { existsSync } from 'node:fs';
import { fixture } from '../../helpers/corpus.js';
import { phonehomeView } from '../../helpers/phonehome.js';

/** What detection is told of a MAC: its role in the facts of a flow from it. */
const isGateway = (inv: Inventory, mac: string): boolean => inv.facts(mac, '')?.role === 'gateway';

const ROUTER = '02:00:00:00:00:01';
const PLUG = '02:00:00:00:00:22';
const CAMERA = '02:00:00:00:00:33';

interface FlowSpec {
  src: string;
  dst: string;
  srcMac: string;
  dstMac: string;
  srcLocal: boolean;
  dstLocal: boolean;
  first?: number;
  v6?: boolean;
  name?: string;
}

function flow(s: FlowSpec): Flow {
  const f = new Flow(6);
  f.srcIp = s.src;
  f.dstIp = s.dst;
  f.srcMac = macNumber(s.srcMac);
  f.dstMac = macNumber(s.dstMac);
  f.srcLocal = s.srcLocal;
  f.dstLocal = s.dstLocal;
  f.v6 = s.v6 ?? false;
  f.first = s.first ?? 1000;
  f.last = f.first + 1;
  f.srcPkts = 1;
  f.srcBytes = 100;
  f.dport = 443;
  return f;
}

/** A LAN: the router (192.168.1.1) and a plug, both seen sending. */
function lan(): Inventory {
  const inv = new Inventory();
  inv.seen(macNumber(ROUTER), '192.168.1.1', 900);
  inv.seen(macNumber(PLUG), '192.168.1.20', 900);
  return inv;
}

const out = (dst: string, first = 1000): Flow => flow({ src: '192.168.1.20', dst, srcMac: PLUG, dstMac: ROUTER, srcLocal: true, dstLocal: false, first });

describe('gateway: the next hop of local hosts\' Internet traffic', () => {
  it(`is a gateway once it carried traffic for ${GATEWAY_MIN_PEERS} Internet addresses`, () => {
    const inv = lan();
    inv.flowEnded(out('198.51.100.7'), 'api.example.com');
    expect(isGateway(inv, ROUTER)).toBe(false);
    expect(inv.facts(ROUTER, '192.168.1.1')!.role).toBe('device');
    inv.flowEnded(out('203.0.113.9'), null);
    expect(isGateway(inv, ROUTER)).toBe(true);
    expect(inv.facts(ROUTER, '192.168.1.1')!.role).toBe('gateway');
    expect(inv.facts(PLUG, '192.168.1.20')!.role).toBe('device');
    const recs = inv.records();
    expect(recs.find((r) => r.mac === ROUTER)!.role).toBe('gateway');
    expect(recs.find((r) => r.mac === PLUG)!.role).toBe('device');
  });

  it('learns it from Internet-initiated IPv4 flows too (the router is their source MAC)', () => {
    const inv = lan();
    for (const src of ['198.51.100.7', '203.0.113.9']) {
      inv.flowEnded(flow({ src, dst: '192.168.1.20', srcMac: ROUTER, dstMac: PLUG, srcLocal: false, dstLocal: true }), null);
    }
    expect(isGateway(inv, ROUTER)).toBe(true);
  });

  it('the same Internet address twice is one address', () => {
    const inv = lan();
    inv.flowEnded(out('198.51.100.7', 1000), null);
    inv.flowEnded(out('198.51.100.7', 2000), null);
    expect(isGateway(inv, ROUTER)).toBe(false);
  });

  it('a host with a global IPv6 address talking to local hosts is no gateway, nor is a broadcast', () => {
    const inv = lan();
    inv.seen(macNumber(CAMERA), '192.168.1.30', 900);
    // The camera's own global addresses (stable and temporary) to a ULA peer.
    for (const src of ['2001:db8::1', '2001:db8::2', '2001:db8::3']) {
      inv.flowEnded(flow({ src, dst: 'fd00::20', srcMac: CAMERA, dstMac: PLUG, srcLocal: false, dstLocal: true, v6: true }), null);
    }
    // Internet-sourced packets to a broadcast MAC say nothing of who routes.
    for (const src of ['198.51.100.7', '203.0.113.9']) {
      inv.flowEnded(flow({ src, dst: '192.168.1.255', srcMac: CAMERA, dstMac: 'ff:ff:ff:ff:ff:ff', srcLocal: false, dstLocal: true }), null);
    }
    expect(isGateway(inv, CAMERA)).toBe(false);
    expect(isGateway(inv, 'ff:ff:ff:ff:ff:ff')).toBe(false);
    expect(isGateway(inv, 'not a mac')).toBe(false);
  });

  it('IPv6 next hops count on the way out (a ULA host to a global address)', () => {
    const hops = new NextHops();
    hops.flow(flow({ src: 'fd00::20', dst: '2001:db8:1::1', srcMac: PLUG, dstMac: ROUTER, srcLocal: true, dstLocal: false, v6: true }));
    hops.flow(flow({ src: 'fd00::20', dst: '2001:db8:2::1', srcMac: PLUG, dstMac: ROUTER, srcLocal: true, dstLocal: false, v6: true }));
    expect(hops.isGateway(macNumber(ROUTER))).toBe(true);
  });

  it('shards merge to what one inventory learns, even where the router was no device', () => {
    const one = lan();
    one.flowEnded(out('198.51.100.7', 1000), null);
    one.flowEnded(out('203.0.113.9', 1500), null);
    // Two shards, one flow each; the second never saw the router send.
    const a = lan();
    a.flowEnded(out('198.51.100.7', 1000), null);
    const b = new Inventory();
    b.seen(macNumber(PLUG), '192.168.1.20', 900);
    b.flowEnded(out('203.0.113.9', 1500), null);
    expect(isGateway(a, ROUTER) || isGateway(b, ROUTER)).toBe(false);
    const merged = new Inventory();
    merged.absorb(a.snapshot());
    merged.absorb(b.snapshot());
    expect(isGateway(merged, ROUTER)).toBe(true);
    expect(merged.records()).toEqual(one.records());
  });
});

describe('brand in the inventory: facts read what every shard sees, records everything', () => {
  it('DHCP names the brand in both; a cloud only in the records', () => {
    const inv = lan();
    inv.dhcp(macNumber(PLUG), 950, { hostname: 'HS110(EU)', vendorClass: 'udhcp 0.9.9-pre' });
    expect(inv.facts(PLUG, '192.168.1.20')).toMatchObject({ brand: 'TP-Link', model: 'HS110(EU)', module_vendor: null, role: 'device' });

    inv.seen(macNumber(CAMERA), '192.168.1.30', 900);
    inv.flowEnded(flow({ src: '192.168.1.30', dst: '198.51.100.9', srcMac: CAMERA, dstMac: ROUTER, srcLocal: true, dstLocal: false }), 'open.ezvizlife.com');
    expect(inv.facts(CAMERA, '192.168.1.30')!.brand).toBeNull();
    const cam = inv.records().find((r) => r.mac === CAMERA)!;
    expect(cam).toMatchObject({ brand: 'EZVIZ', brand_source: 'cloud-name', role: 'device' });
  });

  it('mDNS names and User-Agents reach the records', () => {
    const inv = lan();
    inv.hostname(macNumber(CAMERA), '192.168.1.30', 'DCS-5020L.local', 950);
    const cam = inv.records().find((r) => r.mac === CAMERA)!;
    expect(cam).toMatchObject({ brand: 'D-Link', model: 'DCS-5020L', brand_source: 'mdns' });
    expect(cam.hostnames).toEqual(['DCS-5020L.local']);
  });

  it('devices.json fields come in their documented order', () => {
    const inv = lan();
    const keys = Object.keys(inv.records()[0]);
    expect(keys.slice(0, 9)).toEqual(['mac', 'vendor', 'vendor_country', 'brand', 'model', 'brand_source', 'module_vendor', 'role', 'ips']);
  });
});

describe.skipIf(!existsSync(fixture('HueBridge')))('on a real capture (bundled HueBridge setup)', () => {
  it('the router is the gateway, the Hue bridge a Philips device', async () => {
    const view = await phonehomeView([fixture('HueBridge')]);
    const gateways = view.devices.filter((d) => d.role === 'gateway');
    // Every gateway is the next hop of local hosts' flows to Internet addresses.
    const isLocal = (ip: string) => /^(10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.|169\.254\.|f[cd]|fe80)/.test(ip);
    const nextHops = new Set(view.flows.filter((f) => isLocal(f.src_ip) && !isLocal(f.dst_ip) && !/^(22[4-9]|23\d|255)\./.test(f.dst_ip)).map((f) => f.dst_mac));
    expect(gateways.length).toBeGreaterThan(0);
    for (const g of gateways) expect(nextHops.has(g.mac)).toBe(true);
    const hue = view.devices.find((d) => d.mac === '00:17:88:24:76:ff')!;
    expect(hue).toMatchObject({ brand: 'Philips', model: 'Hue bridge', role: 'device' });
  });
});
