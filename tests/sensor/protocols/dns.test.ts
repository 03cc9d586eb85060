import { describe, expect, it } from 'vitest';
import { parseDns, type DnsMessage, type DnsResult } from '../../../sensor/protocols/dns.js';
import { ascii, dnsHeader, dnsName, embed, hex, ptr, question, rr, u16 } from './build.js';

function parse(msg: number[], before = 9, after = 7): DnsResult {
  const { b, off, len } = embed(msg, before, after);
  return parseDns(b, off, len);
}

function ok(msg: number[]): DnsMessage {
  const r = parse(msg);
  if ('error' in r) throw new Error(`unexpected ${r.error}`);
  return r;
}

describe('parseDns', () => {
  it('parses a query', () => {
    const r = ok([...dnsHeader(0xbeef, 0x0100, 1, 0, 0, 0), ...question(dnsName('www.example.com'), 1)]);
    expect(r).toEqual({ id: 0xbeef, isResponse: false, rcode: 0, query: 'www.example.com', qtype: 'A', answers: [], additionals: [], answerCount: 0 });
  });

  it('parses a real response with a CNAME chain and compression pointers', () => {
    // www.fitbit.com A, answered via cdn.cloudflare.net (captured from the Aria scale)
    const msg = hex(`
      0001 8180 0001 0003 0000 0000 03777777 06666974626974 03636f6d 00 0001 0001
      c00c 0005 0001 00000128 0023 03777777 06666974626974 03636f6d 0363646e 0a636c6f7564666c617265 036e6574 00
      c02c 0001 0001 0000002a 0004 68104132
      c02c 0001 0001 0000002a 0004 68104232`);
    expect(ok(msg)).toEqual({
      id: 1,
      isResponse: true,
      rcode: 0,
      query: 'www.fitbit.com',
      qtype: 'A',
      answers: [
        { name: 'www.fitbit.com', type: 'CNAME', data: 'www.fitbit.com.cdn.cloudflare.net', ttl: 296 },
        { name: 'www.fitbit.com.cdn.cloudflare.net', type: 'A', data: '104.16.65.50', ttl: 42 },
        { name: 'www.fitbit.com.cdn.cloudflare.net', type: 'A', data: '104.16.66.50', ttl: 42 },
      ],
      additionals: [],
      answerCount: 3,
    });
    // reading addresses only, the CNAME is not read but still counted
    expect(parseDns(msg, 0, msg.length, true)).toMatchObject({ answers: [{ type: 'A' }, { type: 'A' }], answerCount: 3 });
  });

  it('resolves a pointer into the middle of an earlier name and a pointer after labels', () => {
    // question "mail.example.org" at 12; "example.org" starts at 17
    const msg = [
      ...dnsHeader(7, 0x8180, 1, 2, 0, 0),
      ...question(dnsName('mail.example.org'), 15),
      ...rr(ptr(12), 15, 60, [...u16(10), ...ptr(12)]),
      ...rr([3, ...ascii('www'), ...ptr(17)], 28, 60, hex('20010db8000000000000000000000001')),
    ];
    const r = ok(msg);
    expect(r.qtype).toBe('MX');
    expect(r.answers).toEqual([
      { name: 'mail.example.org', type: 'MX', data: '10 mail.example.org', ttl: 60 },
      { name: 'www.example.org', type: 'AAAA', data: '2001:db8::1', ttl: 60 },
    ]);
  });

  it('parses an mDNS announcement with no questions, cache-flush classes and additionals', () => {
    const svc = dnsName('_hue._tcp.local');
    const inst = [8, ...ascii('Hue Brdg'), ...ptr(12)];
    const instOff = 12 + svc.length + 10; // the PTR's RDATA
    const host = [6, ...ascii('bridge'), ...ptr(12 + 10)]; // ".local" inside _hue._tcp.local
    const msg = [
      ...dnsHeader(0, 0x8400, 0, 1, 0, 3),
      ...rr(svc, 12, 4500, inst),
      ...rr(ptr(instOff), 33, 120, [...u16(0), ...u16(0), ...u16(443), ...host], 0x8001),
      ...rr(ptr(instOff), 16, 4500, [6, ...ascii('txtv=1'), 4, ...ascii('id=\xe9'), 0], 0x8001),
      ...rr(dnsName('bridge.local'), 1, 120, [192, 168, 1, 20], 0x8001),
    ];
    const r = ok(msg);
    expect(r.query).toBeNull();
    expect(r.qtype).toBeNull();
    expect(r.isResponse).toBe(true);
    expect(r.answers).toEqual([{ name: '_hue._tcp.local', type: 'PTR', data: 'Hue Brdg._hue._tcp.local', ttl: 4500 }]);
    expect(r.additionals).toEqual([
      { name: 'Hue Brdg._hue._tcp.local', type: 'SRV', data: '0 0 443 bridge.local', ttl: 120 },
      { name: 'Hue Brdg._hue._tcp.local', type: 'TXT', data: 'txtv=1 id=\xe9 ', ttl: 4500 },
      { name: 'bridge.local', type: 'A', data: '192.168.1.20', ttl: 120 },
    ]);
  });

  it('ignores the mDNS unicast-response bit in qclass', () => {
    const r = ok([...dnsHeader(0, 0, 1, 0, 0, 0), ...question(dnsName('_googlecast._tcp.local'), 12, 0x8001)]);
    expect(r.query).toBe('_googlecast._tcp.local');
    expect(r.qtype).toBe('PTR');
  });

  it('names the root, OPT and unknown types like tshark, with hex data capped at 64 bytes', () => {
    const big = Array.from({ length: 100 }, (_, i) => i);
    const msg = [
      ...dnsHeader(9, 0x8183, 1, 1, 1, 1),
      ...question(dnsName(''), 2),
      ...rr(dnsName(''), 999, 5, big),
      ...rr(dnsName('example.com'), 6, 300, [0, 0, 1, 2]),
      ...rr(dnsName(''), 41, 0x8000, []),
    ];
    const r = ok(msg);
    expect(r.rcode).toBe(3);
    expect(r.query).toBe('<Root>');
    expect(r.qtype).toBe('NS');
    expect(r.answers).toEqual([{ name: '<Root>', type: 'TYPE999', data: Buffer.from(big.slice(0, 64)).toString('hex'), ttl: 5 }]);
    expect(r.additionals).toEqual([
      { name: 'example.com', type: 'SOA', data: '00000102', ttl: 300 },
      { name: '<Root>', type: 'OPT', data: '', ttl: 0x8000 },
    ]);
  });

  it('renders NS and HTTPS data and odd-sized A records', () => {
    const msg = [
      ...dnsHeader(1, 0x8180, 1, 3, 0, 0),
      ...question(dnsName('a.test'), 65),
      ...rr(ptr(12), 2, 1, dnsName('ns1.a.test')),
      ...rr(ptr(12), 65, 1, [0, 1, 0]),
      ...rr(ptr(12), 1, 1, [1, 2, 3]),
    ];
    expect(ok(msg).answers.map((a) => [a.type, a.data])).toEqual([['NS', 'ns1.a.test'], ['HTTPS', '000100'], ['A', '010203']]);
  });

  it('reads messages relative to their own start, not the capture buffer', () => {
    const msg = [...dnsHeader(1, 0x8180, 1, 1, 0, 0), ...question(dnsName('x.y'), 1), ...rr(ptr(12), 1, 1, [10, 0, 0, 1])];
    for (const before of [0, 1, 300]) {
      const r = parse(msg, before, 0);
      expect('error' in r ? r.error : r.answers[0].name).toBe('x.y');
    }
  });

  it('follows a forward pointer', () => {
    // Not what RFC 1035 asks for, but some responders emit it and it cannot loop without tripping the jump limit.
    const msg = [...dnsHeader(1, 0x8180, 1, 0, 0, 0), ...ptr(18), 0, 1, 0, 1, ...dnsName('fw.d')];
    expect(ok(msg).query).toBe('fw.d');
  });

  describe('hostile names', () => {
    it('rejects a pointer to itself', () => {
      expect(parse([...dnsHeader(1, 0, 1, 0, 0, 0), ...ptr(12), 0, 1, 0, 1])).toEqual({ error: 'dns_pointer_loop' });
    });

    it('rejects two pointers to each other', () => {
      const msg = [...dnsHeader(1, 0x8000, 1, 1, 0, 0), ...ptr(18), 0, 1, 0, 1, ...ptr(12), 0, 1, 0, 1, 0, 0, 0, 0, 0, 0];
      expect(parse(msg)).toEqual({ error: 'dns_pointer_loop' });
    });

    it('rejects a label-and-pointer cycle', () => {
      expect(parse([...dnsHeader(1, 0, 1, 0, 0, 0), 1, 0x61, ...ptr(12), 0, 1, 0, 1])).toEqual({ error: 'dns_pointer_loop' });
    });

    it('rejects a cycle of long labels by its length', () => {
      const label = [63, ...new Array<number>(63).fill(0x62)];
      expect(parse([...dnsHeader(1, 0, 1, 0, 0, 0), ...label, ...ptr(12), 0, 1, 0, 1])).toEqual({ error: 'dns_bad_label' });
    });

    it('rejects a pointer beyond the message even when the capture buffer has bytes there', () => {
      const msg = [...dnsHeader(1, 0, 1, 0, 0, 0), ...ptr(22), 0, 1, 0, 1];
      expect(msg.length).toBe(18);
      const { b, off, len } = embed(msg, 0, [...dnsName('evil'), 0, 0]);
      expect(parseDns(b, off, len)).toEqual({ error: 'dns_bad_pointer' });
      expect(parse([...dnsHeader(1, 0, 1, 0, 0, 0), ...ptr(0x3fff), 0, 1, 0, 1])).toEqual({ error: 'dns_bad_pointer' });
    });

    it('rejects a bad pointer inside RDATA', () => {
      const msg = [...dnsHeader(1, 0x8000, 0, 1, 0, 0), ...rr(dnsName('a'), 12, 1, ptr(200))];
      expect(parse(msg)).toEqual({ error: 'dns_bad_pointer' });
    });

    it('rejects the reserved label types', () => {
      for (const t of [0x40, 0x80, 0x7f, 0xbf]) {
        expect(parse([...dnsHeader(1, 0, 1, 0, 0, 0), t, 0x61, 0, 0, 1, 0, 1])).toEqual({ error: 'dns_bad_label' });
      }
    });

    it('accepts a 255-byte name and rejects a 256-byte one', () => {
      const name = (n: number) => {
        // wire length = sum(label + 1) + 1
        const labels: number[] = [];
        let left = n - 1;
        while (left > 0) {
          const l = Math.min(63, left - 1);
          labels.push(l, ...new Array<number>(l).fill(0x78));
          left -= l + 1;
        }
        return [...labels, 0];
      };
      expect(name(255).length).toBe(255);
      const good = ok([...dnsHeader(1, 0, 1, 0, 0, 0), ...name(255), 0, 1, 0, 1]);
      expect(good.query?.length).toBe(253);
      expect(parse([...dnsHeader(1, 0, 1, 0, 0, 0), ...name(256), 0, 1, 0, 1])).toEqual({ error: 'dns_bad_label' });
    });
  });

  describe('truncation and counts', () => {
    const full = [
      ...dnsHeader(1, 0x8180, 1, 1, 0, 0),
      ...question(dnsName('t.example'), 16),
      ...rr(ptr(12), 16, 1, [3, ...ascii('abc'), 2, ...ascii('de')]),
    ];

    it('reports every cut-short prefix as truncated', () => {
      expect('error' in parse(full)).toBe(false);
      for (let n = 0; n < full.length; n++) {
        expect(parse(full.slice(0, n), 3, 40)).toEqual({ error: 'dns_truncated' });
      }
    });

    it('rejects a TXT string that overruns its RDATA', () => {
      const msg = [...dnsHeader(1, 0x8180, 0, 1, 0, 0), ...rr(dnsName('t'), 16, 1, [5, 0x61, 0x62]), 0x63, 0x64, 0x65];
      expect(parse(msg)).toEqual({ error: 'dns_truncated' });
    });

    it('rejects a name that runs past its RDATA', () => {
      const msg = [...dnsHeader(1, 0x8180, 0, 1, 0, 0), ...rr(dnsName('t'), 5, 1, [3, 0x61, 0x62]), 0x63, 0];
      expect(parse(msg)).toEqual({ error: 'dns_truncated' });
    });

    it('rejects counts that cannot fit before looking at records', () => {
      expect(parse([...dnsHeader(1, 0x8180, 0, 0xffff, 0xffff, 0xffff), 0, 0, 1, 0, 1])).toEqual({ error: 'dns_truncated' });
      expect(parse([...dnsHeader(1, 0, 3, 0, 0, 0), ...question(dnsName(''), 1), ...question(dnsName(''), 1)])).toEqual({ error: 'dns_truncated' });
    });

    it('caps the number of records', () => {
      const q = question(dnsName(''), 1);
      const many = (n: number) => [...dnsHeader(1, 0, n, 0, 0, 0), ...Array.from({ length: n }, () => q).flat()];
      expect('error' in parse(many(512))).toBe(false);
      expect(parse(many(513))).toEqual({ error: 'dns_too_many_records' });
    });

    it('ignores trailing bytes after the last record', () => {
      expect(ok([...full, 1, 2, 3]).answers[0].data).toBe('abc de');
    });
  });

  it('does not throw on nonsense ranges', () => {
    const b = Buffer.alloc(20);
    for (const [off, len] of [[-1, 5], [0, 21], [19, 5], [1.5, 4], [0, -1], [NaN, 3]]) {
      expect(parseDns(b, off, len)).toEqual({ error: 'dns_truncated' });
    }
  });
});
