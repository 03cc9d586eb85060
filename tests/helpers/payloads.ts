// Application payloads as real clients write them, field by field from the
// specifications: MQTT CONNECT (MQTT 3.1.1 §3.1, MQTT 5.0 §3.1), a UPnP IGD
// SOAP request in the layout miniupnpc's soapPostSubmit sends, NAT-PMP (RFC
// 6886 §3.3) and PCP MAP (RFC 6887 §11.1) requests.

const str16 = (s: string | Buffer): Buffer => {
  const b = typeof s === 'string' ? Buffer.from(s, 'utf8') : s;
  return Buffer.concat([Buffer.from([b.length >> 8, b.length & 255]), b]);
};

/** MQTT's Variable Byte Integer. */
export function varint(n: number): Buffer {
  const out: number[] = [];
  do {
    let c = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) c |= 0x80;
    out.push(c);
  } while (n > 0);
  return Buffer.from(out);
}

export interface ConnectOptions {
  level?: 3 | 4 | 5;
  clientId?: string;
  user?: string;
  password?: string;
  will?: { topic: string; payload: string };
  keepAlive?: number;
}

/** An MQTT CONNECT packet. */
export function mqttConnect(o: ConnectOptions = {}): Buffer {
  const level = o.level ?? 4;
  let flags = 0x02; // clean session
  if (o.user !== undefined) flags |= 0x80;
  if (o.password !== undefined) flags |= 0x40;
  if (o.will) flags |= 0x04;
  const props = level === 5 ? Buffer.from([5, 0x11, 0, 0, 0, 30]) : Buffer.alloc(0); // Session Expiry Interval 30
  const variable = Buffer.concat([str16(level === 3 ? 'MQIsdp' : 'MQTT'), Buffer.from([level, flags, (o.keepAlive ?? 60) >> 8, (o.keepAlive ?? 60) & 255]), props]);
  const payload: Buffer[] = [str16(o.clientId ?? 'cam-01')];
  if (o.will) payload.push(level === 5 ? Buffer.from([0]) : Buffer.alloc(0), str16(o.will.topic), str16(o.will.payload));
  if (o.user !== undefined) payload.push(str16(o.user));
  if (o.password !== undefined) payload.push(str16(o.password));
  const rest = Buffer.concat([variable, ...payload]);
  return Buffer.concat([Buffer.from([0x10]), varint(rest.length), rest]);
}

export interface SoapMapping {
  host: string;
  controlPort: number;
  path?: string;
  externalPort: number;
  protocol: 'TCP' | 'UDP';
  internalPort: number;
  internalClient: string;
  description?: string;
  lease?: number;
}

const SERVICE = 'urn:schemas-upnp-org:service:WANIPConnection:1';

/** A SOAP call to an IGD control URL, as miniupnpc's simpleUPnPcommand and soapPostSubmit write it. */
export function soapRequest(host: string, port: number, path: string, action: string, args: [string, string | number][]): Buffer {
  const body =
    '<?xml version="1.0"?>\r\n' +
    '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/">' +
    `<s:Body><u:${action} xmlns:u="${SERVICE}">` +
    args.map(([k, v]) => `<${k}>${v}</${k}>`).join('') +
    `</u:${action}></s:Body></s:Envelope>\r\n`;
  const head =
    `POST ${path} HTTP/1.1\r\n` +
    `Host: ${host}:${port}\r\n` +
    'User-Agent: Linux/5.15, UPnP/1.1, MiniUPnPc/2.2.4\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    'Content-Type: text/xml\r\n' +
    `SOAPAction: "${SERVICE}#${action}"\r\n` +
    'Connection: close\r\n' +
    'Cache-Control: no-cache\r\n' +
    'Pragma: no-cache\r\n' +
    '\r\n';
  return Buffer.from(head + body, 'latin1');
}

/** upnpc -a: an AddPortMapping request. */
export function addPortMapping(m: SoapMapping): Buffer {
  return soapRequest(m.host, m.controlPort, m.path ?? '/ctl/IPConn', 'AddPortMapping', [
    ['NewRemoteHost', ''],
    ['NewExternalPort', m.externalPort],
    ['NewProtocol', m.protocol],
    ['NewInternalPort', m.internalPort],
    ['NewInternalClient', m.internalClient],
    ['NewEnabled', 1],
    ['NewPortMappingDescription', m.description ?? 'libminiupnpc'],
    ['NewLeaseDuration', m.lease ?? 0],
  ]);
}

/** A NAT-PMP mapping request: opcode 1 (UDP) or 2 (TCP). */
export function natPmpRequest(proto: 'udp' | 'tcp', internalPort: number, externalPort: number, lifetime: number): Buffer {
  const b = Buffer.alloc(12);
  b[1] = proto === 'udp' ? 1 : 2;
  b.writeUInt16BE(internalPort, 4);
  b.writeUInt16BE(externalPort, 6);
  b.writeUInt32BE(lifetime, 8);
  return b;
}

/** A PCP MAP request from an IPv4 client (addresses IPv4-mapped). */
export function pcpMapRequest(client: string, proto: number, internalPort: number, externalPort: number, lifetime: number, nonce = Buffer.from('0123456789ab')): Buffer {
  const b = Buffer.alloc(60);
  b[0] = 2;
  b[1] = 1;
  b.writeUInt32BE(lifetime, 4);
  b.writeUInt16BE(0xffff, 18);
  Buffer.from(client.split('.').map(Number)).copy(b, 20);
  nonce.copy(b, 24);
  b[36] = proto;
  b.writeUInt16BE(internalPort, 40);
  b.writeUInt16BE(externalPort, 42);
  b.writeUInt16BE(0xffff, 54);
  return b;
}
