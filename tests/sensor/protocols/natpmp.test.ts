// NAT-PMP mapping requests (RFC 6886 §3.3) and what is not one.
import { describe, expect, it } from 'vitest';
import { parseNatPmpRequest } from '../../../sensor/protocols/natpmp.js';
import { natPmpRequest } from '../../helpers/payloads.js';
import { checkHostile } from './hostile.js';

const parse = (b: Buffer) => parseNatPmpRequest(b, 0, b.length);

describe('parseNatPmpRequest', () => {
  it('reads a TCP and a UDP mapping request', () => {
    expect(parse(natPmpRequest('tcp', 22, 2222, 7200))).toEqual({ protocol: 'tcp', internalPort: 22, externalPort: 2222, lifetimeS: 7200 });
    expect(parse(natPmpRequest('udp', 5000, 0, 3600))).toEqual({ protocol: 'udp', internalPort: 5000, externalPort: 0, lifetimeS: 3600 });
  });

  it('is null for the external address request, answers, other versions, reserved bytes and other lengths', () => {
    expect(parse(Buffer.from([0, 0]))).toBeNull();
    const answer = natPmpRequest('tcp', 22, 2222, 7200);
    answer[1] = 130;
    expect(parse(answer)).toBeNull();
    const pcp = natPmpRequest('tcp', 22, 2222, 7200);
    pcp[0] = 2;
    expect(parse(pcp)).toBeNull();
    const reserved = natPmpRequest('tcp', 22, 2222, 7200);
    reserved[3] = 1;
    expect(parse(reserved)).toBeNull();
    expect(parse(Buffer.concat([natPmpRequest('tcp', 22, 2222, 7200), Buffer.alloc(4)]))).toBeNull();
  });

  it('never throws and reads only its slice, whatever the bytes', () => {
    checkHostile(parseNatPmpRequest, [natPmpRequest('tcp', 22, 2222, 7200)]);
  });
});
