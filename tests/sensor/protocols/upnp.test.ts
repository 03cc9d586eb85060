// UPnP IGD port mapping requests: the action from the SOAPAction header or
// the body, and the mapping's arguments, each checked.
import { describe, expect, it } from 'vitest';
import { bodyMappingAction, parseUpnpMapping, soapMappingAction } from '../../../sensor/protocols/upnp.js';
import { addPortMapping, soapRequest } from '../../helpers/payloads.js';
import { checkHostile } from './hostile.js';

const REQ = addPortMapping({ host: '192.168.1.1', controlPort: 5000, externalPort: 8081, protocol: 'TCP', internalPort: 80, internalClient: '192.168.1.23', lease: 3600 });
const bodyOf = (req: Buffer) => req.subarray(req.indexOf('\r\n\r\n') + 4);

describe('UPnP port mapping requests', () => {
  it('names the action from the SOAPAction header, quoted or not', () => {
    expect(soapMappingAction('"urn:schemas-upnp-org:service:WANIPConnection:1#AddPortMapping"')).toBe('AddPortMapping');
    expect(soapMappingAction('urn:schemas-upnp-org:service:WANIPConnection:2#AddAnyPortMapping')).toBe('AddAnyPortMapping');
    expect(soapMappingAction('"urn:schemas-upnp-org:service:WANIPConnection:1#GetExternalIPAddress"')).toBeNull();
    expect(soapMappingAction('"urn:x#AddPortMappingX"')).toBeNull();
    expect(soapMappingAction(null)).toBeNull();
  });

  it('names the action from the body element', () => {
    const b = bodyOf(REQ);
    expect(bodyMappingAction(b, 0, b.length)).toBe('AddPortMapping');
    const other = bodyOf(soapRequest('gw', 5000, '/ctl/IPConn', 'GetExternalIPAddress', []));
    expect(bodyMappingAction(other, 0, other.length)).toBeNull();
  });

  it('reads the arguments miniupnpc sends', () => {
    const b = bodyOf(REQ);
    expect(parseUpnpMapping('AddPortMapping', b, 0, b.length)).toEqual({ action: 'AddPortMapping', externalPort: 8081, protocol: 'tcp', internalPort: 80, internalClient: '192.168.1.23', leaseS: 3600, description: 'libminiupnpc' });
  });

  it('keeps what a cut body holds and leaves the rest null', () => {
    const b = bodyOf(REQ);
    const cut = b.indexOf('<NewInternalPort>');
    expect(parseUpnpMapping('AddPortMapping', b, 0, cut)).toEqual({ action: 'AddPortMapping', externalPort: 8081, protocol: 'tcp', internalPort: null, internalClient: null, leaseS: null, description: null });
  });

  it('trusts no argument: ports past 65535, odd protocols, names for addresses, markup in the description', () => {
    const b = Buffer.from('<u:AddPortMapping><NewExternalPort>70000</NewExternalPort><NewProtocol>SCTP\x01</NewProtocol><NewInternalPort>-1</NewInternalPort><NewInternalClient>evil.example\r\n</NewInternalClient><NewLeaseDuration>99999999999</NewLeaseDuration><NewPortMappingDescription>&lt;script&gt;\x1b[31m</NewPortMappingDescription></u:AddPortMapping>', 'latin1');
    expect(parseUpnpMapping('AddPortMapping', b, 0, b.length)).toEqual({ action: 'AddPortMapping', externalPort: null, protocol: 'SCTP\\x01', internalPort: null, internalClient: 'evil.example', leaseS: null, description: '&lt;script&gt;\\x1b[31m' });
  });

  it('never throws and reads only its slice, whatever the bytes', () => {
    checkHostile((b, off, len) => bodyMappingAction(b, off, len), [bodyOf(REQ)], 1000);
    checkHostile((b, off, len) => (off >= 0 && len >= 0 && off + len <= b.length && Number.isInteger(off) ? parseUpnpMapping('AddPortMapping', b, off, len) : null), [bodyOf(REQ)], 1000);
    expect(parseUpnpMapping('AddPortMapping', REQ, -1, 5).externalPort).toBeNull();
  });
});
