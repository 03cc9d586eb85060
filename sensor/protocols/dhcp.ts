/** DHCPv4 (RFC 2131/2132) and DHCPv6 (RFC 8415): what a client says about itself. */

import { u16, u32 } from '../util/bytes.js';

export interface DhcpInfo {
  messageType: number | null;
  clientMac: number | null;
  hostname: string | null;
  vendorClass: string | null;
  paramRequestList: number[] | null;
  mudUrl: string | null;
  requestedIp: number | null;
  yourIp: number | null;
}

export interface Dhcp6Info {
  messageType: number;
  mudUrl: string | null;
  fqdn: string | null;
  vendorClass: string | null;
  clientDuid: string | null;
}

const BOOTP_FIXED = 236;
const MAGIC_COOKIE = 0x63825363;
const OPTIONS_START = BOOTP_FIXED + 4;
const HTYPE_ETHERNET = 1;

const OPT_PAD = 0;
const OPT_HOSTNAME = 12;
const OPT_REQUESTED_IP = 50;
const OPT_MESSAGE_TYPE = 53;
const OPT_PRL = 55;
const OPT_VENDOR_CLASS = 60;
const OPT_MUD_URL = 161; // RFC 8520
const OPT_END = 255;

const OPT6_CLIENTID = 1;
const OPT6_VENDOR_CLASS = 16;
const OPT6_CLIENT_FQDN = 39; // RFC 4704
const OPT6_MUD_URL = 112; // RFC 8520
const DHCP6_LAST_CLIENT_SERVER_TYPE = 11; // 12 and 13 are relay messages wrapping another one

function validRange(b: Buffer, off: number, len: number): boolean {
  return Number.isInteger(off) && Number.isInteger(len) && off >= 0 && len >= 0 && off + len <= b.length;
}

/** Text of a string option; some clients count a C string's terminator in the length. */
function optionText(b: Buffer, p: number, e: number): string {
  while (e > p && b[e - 1] === 0) e--;
  return b.toString('latin1', p, e);
}

/** Parses the DHCPv4 message at b[off, off + len), or null when it is not BOOTP with DHCP's cookie. */
export function parseDhcp(
  b: Buffer, off: number, len: number,
): DhcpInfo | { error: 'dhcp_truncated' | 'dhcp_malformed' } | null {
  // Callers pass views into a shared capture buffer: a bad range must read nothing rather than throw.
  if (!validRange(b, off, len)) return null;
  if (len < 1 || (b[off] !== 1 && b[off] !== 2)) return null;
  if (len < OPTIONS_START) {
    // Whatever part of the cookie we have must match, or this is not DHCP at all.
    for (let i = BOOTP_FIXED; i < len; i++) {
      if (b[off + i] !== ((MAGIC_COOKIE >>> (8 * (3 - (i - BOOTP_FIXED)))) & 0xff)) return null;
    }
    return { error: 'dhcp_truncated' };
  }
  if (u32(b, off + BOOTP_FIXED) !== MAGIC_COOKIE) return null;

  const end = off + len;
  const yiaddr = u32(b, off + 16);
  const info: DhcpInfo = {
    messageType: null,
    clientMac: b[off + 1] === HTYPE_ETHERNET && b[off + 2] === 6 ? b.readUIntBE(off + 28, 6) : null,
    hostname: null,
    vendorClass: null,
    paramRequestList: null,
    mudUrl: null,
    requestedIp: null,
    yourIp: yiaddr === 0 ? null : yiaddr,
  };

  // Options repeated for RFC 3396 long-option splitting are rare for these codes; the first wins.
  for (let p = off + OPTIONS_START; p < end; ) {
    const code = b[p];
    if (code === OPT_PAD) {
      p++;
      continue;
    }
    if (code === OPT_END) break;
    if (p + 2 > end) return { error: 'dhcp_truncated' };
    const s = p + 2;
    const e = s + b[p + 1];
    if (e > end) return { error: 'dhcp_truncated' };
    switch (code) {
      case OPT_MESSAGE_TYPE:
        if (e - s !== 1) return { error: 'dhcp_malformed' };
        if (info.messageType === null) info.messageType = b[s];
        break;
      case OPT_REQUESTED_IP:
        if (e - s !== 4) return { error: 'dhcp_malformed' };
        if (info.requestedIp === null) info.requestedIp = u32(b, s);
        break;
      case OPT_HOSTNAME:
        if (info.hostname === null) info.hostname = optionText(b, s, e);
        break;
      case OPT_VENDOR_CLASS:
        if (info.vendorClass === null) info.vendorClass = optionText(b, s, e);
        break;
      case OPT_MUD_URL:
        if (info.mudUrl === null) info.mudUrl = optionText(b, s, e);
        break;
      case OPT_PRL:
        if (info.paramRequestList === null) {
          const list: number[] = [];
          for (let q = s; q < e; q++) list.push(b[q]);
          info.paramRequestList = list;
        }
        break;
    }
    p = e;
  }
  return info;
}

/** Parses the DHCPv6 client/server message at b[off, off + len); null for relay and unknown types. */
export function parseDhcp6(b: Buffer, off: number, len: number): Dhcp6Info | { error: 'dhcp6_malformed' } | null {
  // Callers pass views into a shared capture buffer: a bad range must read nothing rather than throw.
  if (!validRange(b, off, len) || len < 1) return null;
  const messageType = b[off];
  if (messageType < 1 || messageType > DHCP6_LAST_CLIENT_SERVER_TYPE) return null;
  if (len < 4) return { error: 'dhcp6_malformed' };

  const end = off + len;
  const info: Dhcp6Info = { messageType, mudUrl: null, fqdn: null, vendorClass: null, clientDuid: null };
  for (let p = off + 4; p < end; ) {
    if (p + 4 > end) return { error: 'dhcp6_malformed' };
    const code = u16(b, p);
    const s = p + 4;
    const e = s + u16(b, p + 2);
    if (e > end) return { error: 'dhcp6_malformed' };
    switch (code) {
      case OPT6_CLIENTID:
        if (info.clientDuid === null) info.clientDuid = b.toString('hex', s, e);
        break;
      case OPT6_MUD_URL:
        if (info.mudUrl === null) info.mudUrl = b.toString('latin1', s, e);
        break;
      case OPT6_CLIENT_FQDN:
        if (info.fqdn === null) {
          const name = fqdnName(b, s, e);
          if (name === null) return { error: 'dhcp6_malformed' };
          info.fqdn = name;
        }
        break;
      case OPT6_VENDOR_CLASS:
        if (info.vendorClass === null) {
          if (e - s < 4) return { error: 'dhcp6_malformed' };
          const enterprise = u32(b, s);
          let first = '';
          if (e - s >= 6) {
            const l = u16(b, s + 4);
            if (s + 6 + l > e) return { error: 'dhcp6_malformed' };
            first = b.toString('latin1', s + 6, s + 6 + l);
          }
          info.vendorClass = `${enterprise}:${first}`;
        }
        break;
    }
    p = e;
  }
  return info;
}

/**
 * The domain name of a Client FQDN option at b[s, e): a flags byte, then an uncompressed
 * DNS name that may stop without the root label when the client sends only its host part.
 */
function fqdnName(b: Buffer, s: number, e: number): string | null {
  if (e - s < 1) return null;
  let out = '';
  for (let q = s + 1; q < e; ) {
    const l = b[q];
    if (l === 0) break;
    if (l > 63 || q + 1 + l > e) return null;
    const label = b.toString('latin1', q + 1, q + 1 + l);
    out = out.length === 0 ? label : `${out}.${label}`;
    q += 1 + l;
  }
  return out;
}
