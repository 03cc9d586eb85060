/**
 * UPnP IGD port mapping requests (WANIPConnection / WANPPPConnection
 * AddPortMapping, IGDv2 AddAnyPortMapping): a SOAP call over HTTP asking the
 * gateway to forward an external port to an internal client. The arguments
 * are read from a bounded copy of the XML body; each is checked, none trusted.
 */
import { isIP } from 'node:net';
import { printable, printableText, validRange } from './text.js';

export type MappingAction = 'AddPortMapping' | 'AddAnyPortMapping';

export interface UpnpMapping {
  action: MappingAction;
  externalPort: number | null;
  /** 'tcp' or 'udp'; another value as sent, escaped; null when absent */
  protocol: string | null;
  internalPort: number | null;
  /** the address the gateway is asked to forward to (escaped text when not an address) */
  internalClient: string | null;
  /** seconds; 0 asks for a mapping without expiry */
  leaseS: number | null;
  description: string | null;
}

/** Bytes of a SOAP body read at most. */
export const SOAP_BODY_MAX = 4096;
const TEXT_MAX = 64;

/** The port mapping action a SOAPAction header value names ("urn:...:WANIPConnection:1#AddPortMapping"), or null. */
export function soapMappingAction(value: string | null): MappingAction | null {
  if (value === null) return null;
  const m = /#(AddPortMapping|AddAnyPortMapping)"?\s*$/.exec(value);
  return m ? (m[1] as MappingAction) : null;
}

/** The port mapping action whose element the body at b[off, off + len) opens, or null. */
export function bodyMappingAction(b: Buffer, off: number, len: number): MappingAction | null {
  if (!validRange(b, off, len)) return null;
  const m = /<(?:[\w.-]+:)?(AddPortMapping|AddAnyPortMapping)[\s>/]/.exec(b.toString('latin1', off, off + Math.min(len, SOAP_BODY_MAX)));
  return m ? (m[1] as MappingAction) : null;
}

/** The arguments of a port mapping request whose body (whole or cut short) is at b[off, off + len). */
export function parseUpnpMapping(action: MappingAction, b: Buffer, off: number, len: number): UpnpMapping {
  const body = validRange(b, off, len) ? b.toString('latin1', off, off + Math.min(len, SOAP_BODY_MAX)) : '';
  const arg = (name: string): string | null => {
    const m = new RegExp(`<(?:[\\w.-]+:)?${name}(?:\\s[^>]{0,256})?>([^<]{0,256})<`).exec(body);
    return m ? m[1].trim() : null;
  };
  const proto = arg('NewProtocol');
  const client = arg('NewInternalClient');
  const desc = arg('NewPortMappingDescription');
  return {
    action,
    externalPort: uint(arg('NewExternalPort'), 65535),
    protocol: proto === null ? null : /^(tcp|udp)$/i.test(proto) ? proto.toLowerCase() : printableText(proto, 8),
    internalPort: uint(arg('NewInternalPort'), 65535),
    internalClient: client === null || client === '' ? null : isIP(client) ? client : printableText(client, TEXT_MAX),
    leaseS: uint(arg('NewLeaseDuration'), 0xffffffff),
    description: desc === null || desc === '' ? null : printable(Buffer.from(desc, 'latin1'), 0, desc.length, TEXT_MAX),
  };
}

const uint = (s: string | null, max: number): number | null => (s !== null && /^\d{1,10}$/.test(s) && Number(s) <= max ? Number(s) : null);
