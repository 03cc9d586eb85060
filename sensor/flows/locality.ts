import { isSpecial4, isSpecial6, networkOf, parseIp4, parseIp6, parseIpText } from '../util/addr.js';

/** A network the user says is local, as its prefix bytes and length. */
interface Net {
  bytes: Buffer;
  prefix: number;
}

/**
 * Which addresses belong to the monitored network: the special-purpose ranges
 * (private, link-local, CGNAT, ULA, ...), plus the networks given with
 * --local-networks, as Zeek's Site::local_nets or Suricata's HOME_NET: a
 * university or lab with public addressing, or IPv6 global prefixes.
 * Asked once per new flow, never per packet.
 */
export class Locality {
  private readonly v4: { base: number; mask: number }[] = [];
  private readonly v6: Net[] = [];
  /** addresses the link showed to be on it: ARP senders, IPv6 neighbour discovery targets */
  private readonly onLink4 = new Set<number>();
  private readonly onLink6 = new Set<string>();
  /** grows with every address learnt on the link: flows judged before compare it to ask again */
  version = 0;

  /** Throws a RangeError naming the entry for anything but an address or ADDRESS/PREFIX. */
  constructor(readonly networks: readonly string[] = []) {
    for (const n of networks) this.add(n);
  }

  private add(text: string): void {
    const [addr, len, extra] = text.trim().split('/');
    const b = extra === undefined ? parseIpText(addr) : null;
    const max = b?.length === 4 ? 32 : 128;
    const prefix = len === undefined ? max : /^\d{1,3}$/.test(len) ? Number(len) : NaN;
    if (!b || !(prefix >= 0 && prefix <= max)) throw new RangeError(`'${text}' is not a network like 192.0.2.0/24 or 2001:db8::/32`);
    const net = networkOf(b, prefix);
    if (b.length === 4) this.v4.push({ base: net.readUInt32BE(0), mask: prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0 });
    else this.v6.push({ bytes: net, prefix });
  }

  local4(n: number): boolean {
    if (isSpecial4(n) || this.onLink4.has(n)) return true;
    for (const { base, mask } of this.v4) if (((n & mask) >>> 0) === base) return true;
    return false;
  }

  /** `text` is the address's text form, for the addresses learnt on the link. */
  local6(b: Buffer, off: number, text: string): boolean {
    if (isSpecial6(b, off) || this.onLink6.has(text)) return true;
    for (const net of this.v6) if (inPrefix(b, off, net)) return true;
    return false;
  }

  /**
   * An IPv4 address an ARP packet came from: a host on the monitored link,
   * whatever its address (public addressing in universities and labs).
   */
  learn4(n: number): void {
    if (n === 0 || isSpecial4(n) || this.onLink4.has(n) || this.onLink4.size >= MAX_ON_LINK) return;
    this.onLink4.add(n);
    this.version++;
  }

  /**
   * An IPv6 address neighbour discovery resolved or announced (the target of
   * a solicitation or advertisement): on the link, global addresses from SLAAC
   * and DHCPv6 included.
   */
  learn6(text: string): void {
    if (this.onLink6.has(text) || this.onLink6.size >= MAX_ON_LINK) return;
    this.onLink6.add(text);
    this.version++;
  }

  /** Whether the address is on the link or in a local network, asked again for a flow created before it was learnt. */
  localText(ip: string, v6: boolean): boolean {
    return v6 ? this.onLink6.has(ip) || this.localIp(ip) : this.localIp(ip);
  }

  /** The same question for an address as text; text that is no address is not on the Internet either. */
  localIp(ip: string): boolean {
    const v4 = parseIp4(ip);
    if (v4 !== null) return this.local4(v4);
    const b = parseIp6(ip);
    return b === null ? true : this.local6(b, 0, ip);
  }
}

/** Addresses learnt on the link, per family: a segment's hosts; a flood of forged ARP stops here. */
const MAX_ON_LINK = 65_536;

function inPrefix(b: Buffer, off: number, net: Net): boolean {
  const whole = net.prefix >> 3;
  for (let i = 0; i < whole; i++) if (b[off + i] !== net.bytes[i]) return false;
  const rest = net.prefix & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (b[off + whole] & mask) === net.bytes[whole];
}

/** Special-purpose ranges only, learning nothing: what is local when only the addresses are known. */
export const DEFAULT_LOCALITY = new Locality();

/** Which ends of a flow are on the monitored network. */
export interface FlowEnds {
  srcLocal: boolean;
  dstLocal: boolean;
}

/** The ends of a flow known only by its addresses: local when special-purpose. */
export function endsOf(f: { src_ip: string; dst_ip: string }): FlowEnds {
  return { srcLocal: DEFAULT_LOCALITY.localIp(f.src_ip), dstLocal: DEFAULT_LOCALITY.localIp(f.dst_ip) };
}
