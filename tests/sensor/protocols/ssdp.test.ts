import { describe, expect, it } from 'vitest';
import { parseSsdp } from '../../../sensor/protocols/ssdp.js';
import { ascii, embed } from './build.js';

function parse(text: string, before = 3, after = 4) {
  const { b, off, len } = embed(ascii(text), before, after, 0x0a);
  return parseSsdp(b, off, len);
}

describe('parseSsdp', () => {
  it('parses a real NOTIFY from a Hue bridge', () => {
    const notify = [
      'NOTIFY * HTTP/1.1',
      'HOST: 239.255.255.250:1900',
      'CACHE-CONTROL: max-age=100',
      'LOCATION: http://10.10.10.6:80/description.xml',
      'SERVER: Linux/3.14.0 UPnP/1.0 IpBridge/1.9.0',
      'NTS: ssdp:alive',
      'hue-bridgeid: 001788FFFE2476FF',
      'NT: upnp:rootdevice',
      'USN: uuid:2f402f80-da50-11e1-9b23-0017882476ff::upnp:rootdevice',
      '',
      '',
    ].join('\r\n');
    expect(parse(notify)).toEqual({
      kind: 'notify',
      server: 'Linux/3.14.0 UPnP/1.0 IpBridge/1.9.0',
      location: 'http://10.10.10.6:80/description.xml',
      usn: 'uuid:2f402f80-da50-11e1-9b23-0017882476ff::upnp:rootdevice',
      nt: 'upnp:rootdevice',
      st: null,
      userAgent: null,
    });
  });

  it('parses an M-SEARCH', () => {
    const search = 'M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: "ssdp:discover"\r\nMX: 1\r\nST: urn:dial-multiscreen-org:service:dial:1\r\nUSER-AGENT: Google Chrome/120.0 Windows\r\n\r\n';
    expect(parse(search)).toEqual({ kind: 'search', server: null, location: null, usn: null, nt: null, st: 'urn:dial-multiscreen-org:service:dial:1', userAgent: 'Google Chrome/120.0 Windows' });
  });

  it('parses a search response, including a last line without CRLF', () => {
    const resp = 'HTTP/1.1 200 OK\r\nCache-Control: max-age=1800\r\nExt:\r\nLocation: http://192.168.1.9:49152/desc.xml\r\nServer: Linux UPnP/1.0 Sonos/70.3\r\nSt: upnp:rootdevice\r\nusn: uuid:RINCON_1::upnp:rootdevice';
    expect(parse(resp)).toEqual({ kind: 'response', server: 'Linux UPnP/1.0 Sonos/70.3', location: 'http://192.168.1.9:49152/desc.xml', usn: 'uuid:RINCON_1::upnp:rootdevice', nt: null, st: 'upnp:rootdevice', userAgent: null });
  });

  it('does not mistake NTS for NT', () => {
    expect(parse('NOTIFY * HTTP/1.1\r\nNTS: ssdp:byebye\r\n\r\n')?.nt).toBeNull();
  });

  it('returns null for other payloads', () => {
    for (const t of ['', 'NOTIFY', 'NOTIFY * HTTP/1.1', 'GET / HTTP/1.1\r\n\r\n', 'HTTP/2 200\r\n\r\n', '\x16\x03\x01']) expect(parse(t)).toBeNull();
  });
});
