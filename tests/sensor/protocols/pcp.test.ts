// PCP MAP requests (RFC 6887 §11.1) and what is not one.
import { describe, expect, it } from 'vitest';
import { parsePcpMapRequest } from '../../../sensor/protocols/pcp.js';
import { pcpMapRequest } from '../../helpers/payloads.js';
import { checkHostile } from './hostile.js';

const parse = (b: Buffer) => parsePcpMapRequest(b, 0, b.length);

describe('parsePcpMapRequest', () => {
  it('reads a MAP request from an IPv4 client', () => {
    expect(parse(pcpMapRequest('192.168.1.40', 6, 8080, 80, 600))).toEqual({ protocol: 'tcp', internalPort: 8080, externalPort: 80, lifetimeS: 600, client: '192.168.1.40', externalIp: null });
  });

  it('names protocol 0 (all) and others by number, and reads a suggested external address and options after the body', () => {
    const b = Buffer.concat([pcpMapRequest('10.0.0.9', 0, 0, 0, 60), Buffer.from([1, 0, 0, 16, ...Buffer.alloc(16)])]); // THIRD_PARTY option
    b.writeUInt32BE(0xcb00710a, 56); // 203.0.113.10
    expect(parse(b)).toEqual({ protocol: 'all', internalPort: 0, externalPort: 0, lifetimeS: 60, client: '10.0.0.9', externalIp: '203.0.113.10' });
    expect(parse(pcpMapRequest('10.0.0.9', 132, 1, 1, 60))?.protocol).toBe('132');
  });

  it('reads an IPv6 client address', () => {
    const b = pcpMapRequest('0.0.0.0', 17, 5000, 5000, 60);
    Buffer.from('20010db8000000000000000000000001', 'hex').copy(b, 8);
    expect(parse(b)?.client).toBe('2001:db8::1');
  });

  it('is null for responses, other opcodes, other versions and lengths that break the rules', () => {
    const r = pcpMapRequest('192.168.1.40', 6, 8080, 80, 600);
    const with_ = (i: number, v: number) => Buffer.from(r.map((c, j) => (j === i ? v : c)));
    expect(parse(with_(1, 0x81))).toBeNull(); // MAP response
    expect(parse(with_(1, 2))).toBeNull(); // PEER
    expect(parse(with_(1, 0))).toBeNull(); // ANNOUNCE
    expect(parse(with_(0, 1))).toBeNull();
    expect(parse(r.subarray(0, 56))).toBeNull();
    expect(parse(Buffer.concat([r, Buffer.alloc(2)]))).toBeNull();
    expect(parse(Buffer.concat([r, Buffer.alloc(1100)]))).toBeNull();
  });

  it('never throws and reads only its slice, whatever the bytes', () => {
    checkHostile(parsePcpMapRequest, [pcpMapRequest('192.168.1.40', 6, 8080, 80, 600)]);
  });
});
