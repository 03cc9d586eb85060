// Address text and classification checked against independent sources:
// Node's own address code (WHATWG URL host parsing, net.isIP, SocketAddress,
// BlockList), BigInt arithmetic for prefixes, and the IANA special-purpose
// address registries for what is "not on the Internet".
import { BlockList, isIP, SocketAddress } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ip4String, ip6String, ipString, isSpecial4, isSpecial6, isSpecialIp, macString, networkOf, parseIp4, parseIp6, parseIpText } from '../../../sensor/util/addr.js';

/** Node's canonical text of an IPv6 address: RFC 5952 via the URL parser, dotted quad for IPv4-mapped (inet_ntop). */
function nodeIp6(b: Buffer): string {
  const words = Array.from({ length: 8 }, (_, i) => b.readUInt16BE(i * 2).toString(16));
  const full = words.join(':');
  const mapped = words.slice(0, 5).every((w) => w === '0') && words[5] === 'ffff';
  return mapped ? new SocketAddress({ address: full, family: 'ipv6' }).address : new URL(`http://[${full}]/`).hostname.slice(1, -1);
}

/** Node's reading of IPv4 text into a number, via the URL parser. */
const nodeIp4 = (s: string) => new URL(`http://${s}/`).hostname.split('.').reduce((n, p) => n * 256 + Number(p), 0);

/** IPv6 bytes whose 16-bit words are often zero, so runs of zeros of every length and position occur. */
const ip6Arb = fc.array(fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 0xffff })), { minLength: 8, maxLength: 8 }).map((w) => {
  const b = Buffer.alloc(16);
  w.forEach((x, i) => b.writeUInt16BE(x, i * 2));
  return b;
});
const mapped4 = fc.integer({ min: 0, max: 0xffffffff }).map((n) => {
  const b = Buffer.alloc(16);
  b.writeUInt16BE(0xffff, 10);
  b.writeUInt32BE(n, 12);
  return b;
});

const big = (b: Buffer) => BigInt(`0x${b.toString('hex')}`);

describe('address text', () => {
  it('ip4String writes what the URL parser makes of the same 32-bit number, signed or not', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (n) => {
        const s = ip4String(n);
        expect(s).toBe(new URL(`http://${n}/`).hostname);
        expect(ip4String(n | 0)).toBe(s);
        expect(isIP(s)).toBe(4);
      }),
      { numRuns: 20000 },
    );
  });

  it('ip6String is the RFC 5952 text Node writes, for random addresses, IPv4-mapped ones and at any offset', () => {
    fc.assert(
      fc.property(fc.oneof(ip6Arb, mapped4), fc.nat({ max: 40 }), (addr, off) => {
        const buf = Buffer.concat([Buffer.alloc(off, 0xab), addr, Buffer.alloc(3, 0xcd)]);
        expect(ip6String(buf, off)).toBe(nodeIp6(addr));
      }),
      { numRuns: 20000 },
    );
    expect(ip6String(Buffer.alloc(16), 0)).toBe('::');
  });

  it('the text caches return the right text when many addresses share slots', () => {
    // 30000 addresses in tables of 8192 slots: collisions are certain; ask for each twice, interleaved
    const rnd = fc.sample(fc.tuple(fc.integer({ min: 0, max: 0xffffffff }), ip6Arb), { numRuns: 30000, seed: 7 });
    for (const round of [0, 1]) {
      for (let i = round; i < rnd.length; i += 1) {
        const [n, b] = rnd[i];
        expect(ip4String(n)).toBe(new URL(`http://${n}/`).hostname);
        expect(ip6String(b, 0)).toBe(nodeIp6(b));
      }
    }
  });

  it('macString writes six lower-case hex pairs, also after its cache has been cleared by a flood', () => {
    const mac = (n: number) => {
      const b = Buffer.alloc(6);
      b.writeUIntBE(n, 0, 6);
      return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
    };
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 48 - 1 }), (n) => {
        expect(macString(n)).toBe(mac(n));
      }),
      { numRuns: 5000 },
    );
    const first = [0x001788000001, 0xffffffffffff, 0];
    for (const n of first) expect(macString(n)).toBe(mac(n));
    for (let i = 0; i < 70000; i++) macString(0x020000000000 + i);
    for (const n of first) expect(macString(n)).toBe(mac(n));
    expect(macString(-1)).toBe('');
  });

  it('ipString takes 4 or 16 bytes', () => {
    expect(ipString(Buffer.from([192, 0, 2, 1]))).toBe('192.0.2.1');
    expect(ipString(Buffer.from('20010db8000000000000000000000001', 'hex'))).toBe('2001:db8::1');
  });
});

describe('address parsing', () => {
  it('parseIp4 reads every dotted quad as the URL parser does', () => {
    fc.assert(
      fc.property(fc.ipV4(), (s) => {
        expect(parseIp4(s)).toBe(nodeIp4(s));
      }),
      { numRuns: 20000 },
    );
  });

  it('parseIp4 accepts only four decimal parts of 0-255 (leading zeros read as decimal)', () => {
    const text = fc.stringMatching(/^[0-9.]{0,17}$/);
    fc.assert(
      fc.property(fc.oneof(text, fc.ipV4Extended(), fc.ipV4()), (s) => {
        const n = parseIp4(s);
        const noLeadingZeros = s.replace(/(^|\.)0+(\d)/g, '$1$2');
        const digitsOk = s.split('.').every((p) => p.length <= 3);
        expect(n !== null, s).toBe(isIP(noLeadingZeros) === 4 && digitsOk);
        if (n !== null) expect(n).toBe(nodeIp4(noLeadingZeros));
      }),
      { numRuns: 20000 },
    );
  });

  it('parseIp6 reads every IPv6 text Node accepts (compressed, full, with a dotted tail) to the same 16 bytes', () => {
    fc.assert(
      fc.property(fc.ipV6(), (s) => {
        expect(parseIp6(s), s).toEqual(toBytes(s));
      }),
      { numRuns: 20000 },
    );
  });

  it('parseIpText accepts exactly what node:net accepts, minus zone ids, and reads the same address', () => {
    const junk = fc.stringMatching(/^[0-9a-fA-F:.%]{0,24}$/);
    const mutated = fc.tuple(fc.oneof(fc.ipV6(), fc.ipV4(), fc.ipV4Extended()), fc.nat(), fc.constantFrom('', ':', '.', '0', '%', 'g', '::')).map(([s, at, ins]) => {
      const i = at % (s.length + 1);
      return s.slice(0, i) + ins + s.slice(i + (ins === '' ? 1 : 0));
    });
    fc.assert(
      fc.property(fc.oneof(junk, mutated, fc.ipV6(), fc.ipV4(), fc.ipV4Extended()), (s) => {
        const b = parseIpText(s);
        const family = isIP(s);
        expect(b !== null, JSON.stringify(s)).toBe(family !== 0 && !s.includes('%'));
        if (b === null) return;
        expect(b.length).toBe(family === 4 ? 4 : 16);
        if (family === 4) expect(b.readUInt32BE(0)).toBe(nodeIp4(s));
        else expect(ip6String(b, 0)).toBe(nodeIp6(toBytes(s)));
      }),
      { numRuns: 30000 },
    );
    for (const s of ['010.1.1.1', '1.2.3.04', 'fe80::1%eth0', '1.2.3.4.5', '::1::', '']) expect(parseIpText(s), s).toBeNull();
  });
});

/** The 16 bytes of IPv6 text, via Node's URL parser (which takes dotted tails too). */
function toBytes(s: string): Buffer {
  const host = new URL(`http://[${s}]/`).hostname.slice(1, -1);
  const [l, r] = host.split('::');
  const left = l ? l.split(':') : [];
  const right = r === undefined ? [] : r ? r.split(':') : [];
  const words = r === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill('0'), ...right];
  const b = Buffer.alloc(16);
  words.forEach((w, i) => b.writeUInt16BE(parseInt(w, 16), i * 2));
  return b;
}

describe('networkOf', () => {
  it('clears every bit after the prefix, as BigInt arithmetic and BlockList say, without touching its input', () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.uint8Array({ minLength: 16, maxLength: 16 })), fc.nat({ max: 128 }), (bytes, p) => {
        const b = Buffer.from(bytes);
        const bits = b.length * 8;
        const prefix = Math.min(p, bits);
        const copy = Buffer.from(b);
        const net = networkOf(b, prefix);
        expect(b).toEqual(copy);
        const host = BigInt(bits - prefix);
        expect(big(net)).toBe((big(b) >> host) << host);
        if (b.length === 4) {
          const bl = new BlockList();
          bl.addSubnet(ipString(net), prefix, 'ipv4');
          expect(bl.check(ipString(b), 'ipv4')).toBe(true);
        }
      }),
      { numRuns: 20000 },
    );
  });
});

// ---------------------------------------------------------------------------
// Special-purpose addresses. Source: the IANA IPv4 and IPv6 Special-Purpose
// Address Registries (https://www.iana.org/assignments/iana-ipv4-special-registry,
// https://www.iana.org/assignments/iana-ipv6-special-registry; RFC 6890 and the RFCs
// named per row), "Globally Reachable" column; plus multicast (RFC 5771 224.0.0.0/4,
// RFC 4291 ff00::/8) and deprecated site-local fec0::/10 (RFC 3879), which
// isSpecial's documentation includes.
// ---------------------------------------------------------------------------
type Row = [prefix: string, globallyReachable: boolean | null, what: string];
const IANA4: Row[] = [
  ['0.0.0.0/8', false, '"This network", RFC 791'],
  ['10.0.0.0/8', false, 'Private-Use, RFC 1918'],
  ['100.64.0.0/10', false, 'Shared Address Space, RFC 6598'],
  ['127.0.0.0/8', false, 'Loopback, RFC 1122'],
  ['169.254.0.0/16', false, 'Link Local, RFC 3927'],
  ['172.16.0.0/12', false, 'Private-Use, RFC 1918'],
  ['192.0.0.0/24', false, 'IETF Protocol Assignments, RFC 6890'],
  ['192.0.0.0/29', false, 'IPv4 Service Continuity Prefix, RFC 7335'],
  ['192.0.0.8/32', false, 'IPv4 dummy address, RFC 7600'],
  ['192.0.0.9/32', true, 'Port Control Protocol Anycast, RFC 7723'],
  ['192.0.0.10/32', true, 'Traversal Using Relays around NAT Anycast, RFC 8155'],
  ['192.0.0.170/32', false, 'NAT64/DNS64 Discovery, RFC 8880'],
  ['192.0.0.171/32', false, 'NAT64/DNS64 Discovery, RFC 8880'],
  ['192.0.2.0/24', false, 'Documentation (TEST-NET-1), RFC 5737'],
  ['192.31.196.0/24', true, 'AS112-v4, RFC 7535'],
  ['192.52.193.0/24', true, 'AMT, RFC 7450'],
  ['192.168.0.0/16', false, 'Private-Use, RFC 1918'],
  ['192.175.48.0/24', true, 'Direct Delegation AS112 Service, RFC 7534'],
  ['198.18.0.0/15', false, 'Benchmarking, RFC 2544'],
  ['198.51.100.0/24', false, 'Documentation (TEST-NET-2), RFC 5737'],
  ['203.0.113.0/24', false, 'Documentation (TEST-NET-3), RFC 5737'],
  ['240.0.0.0/4', false, 'Reserved, RFC 1112'],
  ['255.255.255.255/32', false, 'Limited Broadcast, RFC 919'],
  ['224.0.0.0/4', false, 'Multicast, RFC 5771 (not in the special-purpose registry)'],
];
const IANA6: Row[] = [
  ['::1/128', false, 'Loopback Address, RFC 4291'],
  ['::/128', false, 'Unspecified Address, RFC 4291'],
  ['::ffff:0:0/96', null, 'IPv4-mapped Address, RFC 4291: judged by the IPv4 address it carries'],
  ['64:ff9b::/96', true, 'IPv4-IPv6 Translat., RFC 6052'],
  ['64:ff9b:1::/48', false, 'IPv4-IPv6 Translat. (local use), RFC 8215'],
  ['100::/64', false, 'Discard-Only Address Block, RFC 6666'],
  ['2001::/23', false, 'IETF Protocol Assignments, RFC 2928'],
  ['2001::/32', null, 'TEREDO, RFC 4380'],
  ['2001:1::1/128', true, 'Port Control Protocol Anycast, RFC 7723'],
  ['2001:1::2/128', true, 'Traversal Using Relays around NAT Anycast, RFC 8155'],
  ['2001:2::/48', false, 'Benchmarking, RFC 5180'],
  ['2001:3::/32', true, 'AMT, RFC 7450'],
  ['2001:4:112::/48', true, 'AS112-v6, RFC 7535'],
  ['2001:20::/28', true, 'ORCHIDv2, RFC 7343'],
  ['2001:db8::/32', false, 'Documentation, RFC 3849'],
  ['2002::/16', null, '6to4, RFC 3056'],
  ['2620:4f:8000::/48', true, 'Direct Delegation AS112 Service, RFC 7534'],
  ['3fff::/20', false, 'Documentation, RFC 9637'],
  ['5f00::/16', false, 'Segment Routing (SRv6) SIDs, RFC 9602'],
  ['fc00::/7', false, 'Unique-Local, RFC 4193'],
  ['fe80::/10', false, 'Link-Local Unicast, RFC 4291'],
  ['fec0::/10', false, 'Site-local (deprecated), RFC 3879 (not in the registry)'],
  ['ff00::/8', false, 'Multicast, RFC 4291 (not in the registry)'],
];

/**
 * Registry rows isSpecial departs from on purpose: anycast services inside the
 * IETF protocol blocks (PCP, TURN, AMT, ORCHIDv2, AS112) are globally reachable
 * but no device's vendor cloud; they are taken as special with their block.
 */
const NOT_FOLLOWED = new Set(['192.0.0.9/32', '192.0.0.10/32', '2001:1::1/128', '2001:1::2/128', '2001:3::/32', '2001:4:112::/48', '2001:20::/28']);

function prefixBytes(row: string): { base: Buffer; len: number } {
  const [a, l] = row.split('/');
  const base = a.includes(':') ? toBytes(a) : Buffer.from(a.split('.').map(Number));
  return { base, len: Number(l) };
}

/** first, last and random addresses inside a prefix */
function inside(row: string, n: number, rnd: () => number): Buffer[] {
  const { base, len } = prefixBytes(row);
  const bits = base.length * 8;
  const out: Buffer[] = [];
  for (let k = 0; k < n; k++) {
    const b = Buffer.from(base);
    for (let i = len; i < bits; i++) {
      const bit = k === 0 ? 0 : k === 1 ? 1 : rnd() < 0.5 ? 0 : 1;
      if (bit) b[i >> 3] |= 0x80 >> (i & 7);
    }
    out.push(b);
  }
  return out;
}

/** the most specific row covering an address: the registry's answer for it */
function registryAnswer(rows: Row[], b: Buffer): Row | null {
  let best: Row | null = null;
  let bestLen = -1;
  for (const r of rows) {
    const { base, len } = prefixBytes(r[0]);
    if (base.length !== b.length) continue;
    const host = BigInt(base.length * 8 - len);
    if (big(b) >> host === big(base) >> host && len > bestLen) {
      best = r;
      bestLen = len;
    }
  }
  return best;
}

const special = (b: Buffer) => (b.length === 4 ? isSpecial4(b.readUInt32BE(0)) : isSpecial6(b, 0));

describe('special-purpose addresses (IANA registries)', () => {
  const rnd = (() => {
    let s = 12345;
    return () => (s = (s * 16807) % 2147483647) / 2147483647;
  })();

  for (const [family, rows] of [['IPv4', IANA4], ['IPv6', IANA6]] as const) {
    it(`${family}: every address of a block that is not globally reachable is special, every globally reachable one is not`, () => {
      const checked = new Map<string, number>();
      for (const row of rows) {
        if (row[1] === null || NOT_FOLLOWED.has(row[0])) continue;
        checked.set(row[0], 0);
        for (const b of inside(row[0], 50, rnd)) {
          // a more specific row decides for the addresses it covers
          const decides = registryAnswer(rows, b)!;
          if (decides[1] === null || NOT_FOLLOWED.has(decides[0])) continue;
          expect(special(b), `${ipString(b)} in ${decides[0]} (${decides[2]})`).toBe(!decides[1]);
          expect(isSpecialIp(ipString(b)), ipString(b)).toBe(!decides[1]);
          checked.set(row[0], checked.get(row[0])! + 1);
        }
      }
      // every row followed was checked on addresses it decides (at least its first and last)
      expect([...checked].filter(([, n]) => n < 2)).toEqual([]);
    });
  }

  it('IPv4: random addresses are special exactly when a registry row says not globally reachable', () => {
    const notReachable = new BlockList();
    const skipped = new BlockList();
    for (const [p, gr] of IANA4) {
      const [a, len] = p.split('/');
      if (NOT_FOLLOWED.has(p)) skipped.addSubnet(a, Number(len), 'ipv4');
      else if (gr === false) notReachable.addSubnet(a, Number(len), 'ipv4');
    }
    let specials = 0;
    for (let i = 0; i < 200_000; i++) {
      const n = Math.floor(rnd() * 2 ** 32);
      const text = ip4String(n);
      if (skipped.check(text, 'ipv4')) continue;
      const want = notReachable.check(text, 'ipv4');
      expect(isSpecial4(n), ip4String(n)).toBe(want);
      if (want) specials++;
    }
    // 0/8, 10/8, 127/8 and 224/3 alone are about 14% of the space
    expect(specials).toBeGreaterThan(25_000);
  }, 60_000);

  it('IPv6: random global unicast (2000::/3) addresses outside the registry are not special', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (bytes) => {
        const b = Buffer.from(bytes);
        b[0] = 0x20 | (b[0] & 0x1f);
        const row = registryAnswer(IANA6, b);
        if (row) return;
        expect(isSpecial6(b, 0), ip6String(b, 0)).toBe(false);
      }),
      { numRuns: 20000 },
    );
  });

  it('an IPv4-mapped IPv6 address is judged by the IPv4 address it carries', () => {
    fc.assert(
      fc.property(mapped4, (b) => {
        expect(isSpecial6(b, 0)).toBe(isSpecial4(b.readUInt32BE(12)));
      }),
      { numRuns: 5000 },
    );
    expect(isSpecialIp('::ffff:8.8.8.8')).toBe(false);
    expect(isSpecialIp('::ffff:192.168.1.1')).toBe(true);
  });

  it('text that is no address counts as special (never as an Internet destination)', () => {
    for (const s of ['', 'localhost', '1.2.3', '999.1.1.1', 'fe80::1::2', 'example.com']) expect(isSpecialIp(s), s).toBe(true);
  });

  it('64:ff9b:1::/48 (RFC 8215) and 5f00::/16 (RFC 9602) are not globally reachable', () => {
    for (const row of ['64:ff9b:1::/48', '5f00::/16']) for (const b of inside(row, 10, rnd)) expect(isSpecial6(b, 0), ipString(b)).toBe(true);
  });
});
