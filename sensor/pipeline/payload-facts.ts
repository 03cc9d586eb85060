import type { Decoded } from '../decode/decoded.js';
import { addCredential, addPassword, addPortMapping, type PortMappingFact } from '../flows/app.js';
import type { Flow } from '../flows/flow.js';
import { FTP_PORT, parseFtpLogins } from '../protocols/ftp.js';
import { parseAuthorization, parseRequestHead, type RequestHead } from '../protocols/http-auth.js';
import { HTTP_SCAN_LIMIT } from '../protocols/http.js';
import { MQTT_PORT, parseMqttConnect } from '../protocols/mqtt.js';
import { parseNatPmpRequest, PORT_CONTROL_PORT } from '../protocols/natpmp.js';
import { parsePcpMapRequest } from '../protocols/pcp.js';
import { TELNET_PORTS, TelnetLogin } from '../protocols/telnet.js';
import { bodyMappingAction, parseUpnpMapping, SOAP_BODY_MAX, soapMappingAction, type MappingAction } from '../protocols/upnp.js';
import { evictOldest, lowWater } from '../util/bounded.js';

/** Server ports whose sessions are followed past their first segments: FTP, Telnet, MQTT. */
const WATCHED = new Uint8Array(65536);
WATCHED[FTP_PORT] = 1;
WATCHED[MQTT_PORT] = 1;
for (const p of TELNET_PORTS) WATCHED[p] = 1;

/** Segments (both ways) of a watched session looked at: a login is over long before. */
const WATCHED_SEGMENTS = 128;
/** SOAP requests whose body is still arriving, followed at once. */
const MAX_PENDING = 64;

interface Watch {
  segments: number;
  telnet: TelnetLogin | null;
}

/** A port mapping request recorded from its head, refined as its body arrives. */
interface PendingSoap {
  action: MappingAction;
  fact: PortMappingFact;
  body: Buffer;
  need: number;
}

/**
 * Credentials sent in clear and port mapping requests, from payloads: the
 * flow meter hands over a watched session's segments (Telnet, FTP, MQTT by
 * the port the initiator connected to), the initiator's first segments of
 * every TCP flow (HTTP request heads and SOAP bodies), and UDP to port 5351
 * (NAT-PMP, PCP). Facts go on the flow (Flow.app) for detection. Flows on
 * other ports cost one table look-up per segment.
 */
export class PayloadFacts {
  private readonly watches = new WeakMap<Flow, Watch>();
  private readonly pending = new Map<Flow, PendingSoap>();

  /** Whether a TCP flow's every segment goes to tcp(): the initiator connected to a watched port. */
  watched(flow: Flow): boolean {
    return WATCHED[flow.dport] === 1;
  }

  /** A segment of a watched session, either way (`orig`: from the initiator). */
  tcp(d: Decoded, flow: Flow, orig: boolean): void {
    let w = this.watches.get(flow);
    if (w === undefined) this.watches.set(flow, (w = { segments: 0, telnet: null }));
    if (w.segments++ >= WATCHED_SEGMENTS) return;
    const port = flow.dport;
    if (port === FTP_PORT) {
      if (orig) this.ftp(d, flow);
    } else if (port === MQTT_PORT) {
      if (orig && w.segments <= 2) this.mqtt(d, flow);
    } else this.telnet(w, d, flow, orig);
  }

  private ftp(d: Decoded, flow: Flow): void {
    for (const c of parseFtpLogins(d.data, d.payOff, d.payLen)) {
      const app = (flow.app ??= {});
      if (c.cmd === 'USER') addCredential(app, { ts: d.ts, protocol: 'ftp', user: c.user, password: false, passwordLength: null });
      else addPassword(app, d.ts, 'ftp', c.passwordLength);
    }
  }

  private mqtt(d: Decoded, flow: Flow): void {
    const c = parseMqttConnect(d.data, d.payOff, d.payLen);
    if (c === null || !(c.userFlag || c.passwordFlag)) return;
    addCredential((flow.app ??= {}), { ts: d.ts, protocol: 'mqtt', user: c.user, password: c.passwordFlag, passwordLength: c.passwordLength });
  }

  private telnet(w: Watch, d: Decoded, flow: Flow, orig: boolean): void {
    const t = (w.telnet ??= new TelnetLogin());
    if (!orig) return t.server(d.data, d.payOff, d.payLen);
    const c = t.client(d.data, d.payOff, d.payLen);
    if (c) addCredential((flow.app ??= {}), { ts: d.ts, protocol: 'telnet', user: c.user, password: true, passwordLength: c.passwordLength });
  }

  /** One of the initiator's first segments of a TCP flow (the meter's APP_SEGMENTS): an HTTP request head, or more of a SOAP body. */
  request(d: Decoded, flow: Flow): void {
    if (this.pending.size > 0) {
      const p = this.pending.get(flow);
      if (p) return this.soapMore(flow, p, d.data.subarray(d.payOff, d.payOff + d.payLen));
    }
    const c0 = d.data[d.payOff];
    // Requests start with an upper-case method; most segments are not one.
    if (c0 < 0x41 || c0 > 0x5a || !worthReading(d.data.subarray(d.payOff, d.payOff + Math.min(d.payLen, HTTP_SCAN_LIMIT)))) return;
    const head = parseRequestHead(d.data, d.payOff, d.payLen);
    if (head === null) return;
    for (const v of [head.authorization, head.proxyAuthorization]) {
      const c = v === null ? null : parseAuthorization(v);
      if (c) addCredential((flow.app ??= {}), { ts: d.ts, protocol: c.scheme === 'basic' ? 'http-basic' : 'http-digest', user: c.user, password: true, passwordLength: c.passwordLength });
    }
    if (head.method === 'POST') this.soap(d, flow, head);
  }

  /** A POST: a port mapping request when its SOAPAction (or its body) names one. */
  private soap(d: Decoded, flow: Flow, head: RequestHead): void {
    const end = d.payOff + d.payLen;
    const body = head.bodyOff >= 0 ? d.data.subarray(head.bodyOff, end) : Buffer.alloc(0);
    const action = soapMappingAction(head.soapAction) ?? bodyMappingAction(body, 0, body.length);
    if (action === null) return;
    const fact = addPortMapping((flow.app ??= {}), { ts: d.ts, ...upnpFact(action, body) });
    if (fact === null || head.bodyOff < 0) return;
    const need = Math.min(head.contentLength ?? SOAP_BODY_MAX, SOAP_BODY_MAX);
    if (body.length >= need || closes(body, action)) return;
    this.pending.set(flow, { action, fact, body: Buffer.from(body), need });
    if (this.pending.size > MAX_PENDING) evictOldest(this.pending, lowWater(MAX_PENDING));
  }

  private soapMore(flow: Flow, p: PendingSoap, more: Buffer): void {
    p.body = Buffer.concat([p.body, more.subarray(0, SOAP_BODY_MAX - p.body.length)]);
    Object.assign(p.fact, upnpFact(p.action, p.body));
    if (p.body.length >= p.need || closes(p.body, p.action)) this.pending.delete(flow);
  }

  /** A UDP datagram: NAT-PMP and PCP mapping requests to a gateway's port 5351. */
  udp(d: Decoded, flow: Flow, orig: boolean): void {
    // Servers answer and announce from port 5351; clients ask from another.
    if (!orig || d.dport !== PORT_CONTROL_PORT || d.sport === PORT_CONTROL_PORT) return;
    const fact = portControl(d, flow.srcIp);
    if (fact) addPortMapping((flow.app ??= {}), fact);
  }
}

/**
 * Whether a segment may carry what request() looks for: a native search
 * over the segment spares reading the headers of the many requests that carry
 * no credentials and map no port.
 */
const worthReading = (seg: Buffer): boolean => seg.includes(AUTH_LOWER) || seg.includes(AUTH_UPPER) || seg.includes(PORT_MAPPING);
// As buffers: a string needle is converted at every search.
const AUTH_LOWER = Buffer.from('uthorization');
const AUTH_UPPER = Buffer.from('UTHORIZATION');
const PORT_MAPPING = Buffer.from('PortMapping');

/** The facts of a UPnP request from its body so far. */
function upnpFact(action: MappingAction, body: Buffer): Omit<PortMappingFact, 'ts'> {
  const m = parseUpnpMapping(action, body, 0, body.length);
  return { method: 'upnp', protocol: m.protocol, externalPort: m.externalPort, internalClient: m.internalClient, internalPort: m.internalPort, leaseS: m.leaseS, description: m.description };
}

/** The body holds the action element's end: all its arguments are in. */
const closes = (body: Buffer, action: MappingAction): boolean => new RegExp(`</(?:[\\w.-]+:)?${action}\\s*>`).test(body.toString('latin1'));

/** A NAT-PMP or PCP request that creates a mapping (a lifetime of 0 removes one: not a request to open a port). */
function portControl(d: Decoded, sender: string): PortMappingFact | null {
  const b = d.data;
  if (d.payLen > 0 && b[d.payOff] === 0) {
    const m = parseNatPmpRequest(b, d.payOff, d.payLen);
    if (m === null || m.lifetimeS === 0) return null;
    return { ts: d.ts, method: 'nat-pmp', protocol: m.protocol, externalPort: m.externalPort, internalClient: sender, internalPort: m.internalPort, leaseS: m.lifetimeS, description: null };
  }
  const m = parsePcpMapRequest(b, d.payOff, d.payLen);
  if (m === null || m.lifetimeS === 0) return null;
  return { ts: d.ts, method: 'pcp', protocol: m.protocol, externalPort: m.externalPort, internalClient: m.client, internalPort: m.internalPort, leaseS: m.lifetimeS, description: null };
}
