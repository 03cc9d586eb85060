/** Byte builders for protocol tests: messages are assembled field by field from the RFC layouts. */

export const u16 = (n: number): number[] => [(n >> 8) & 255, n & 255];
export const u24 = (n: number): number[] => [(n >> 16) & 255, (n >> 8) & 255, n & 255];
export const u32 = (n: number): number[] => [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
export const ascii = (s: string): number[] => [...Buffer.from(s, 'latin1')];
export const hex = (s: string): number[] => [...Buffer.from(s.replace(/\s+/g, ''), 'hex')];

/** Uncompressed wire form of a dotted name ('' is the root). */
export function dnsName(name: string): number[] {
  const out: number[] = [];
  if (name !== '') for (const l of name.split('.')) out.push(l.length, ...ascii(l));
  out.push(0);
  return out;
}

export const ptr = (offset: number): number[] => [0xc0 | (offset >> 8), offset & 255];

export function dnsHeader(id: number, flags: number, qd: number, an: number, ns: number, ar: number): number[] {
  return [...u16(id), ...u16(flags), ...u16(qd), ...u16(an), ...u16(ns), ...u16(ar)];
}

export function question(name: number[], type: number, cls = 1): number[] {
  return [...name, ...u16(type), ...u16(cls)];
}

export function rr(name: number[], type: number, ttl: number, rdata: number[], cls = 1): number[] {
  return [...name, ...u16(type), ...u16(cls), ...u32(ttl), ...u16(rdata.length), ...rdata];
}

/** A single-record TLS ClientHello; `extensions` are [type, data] pairs appended after SNI/ALPN. */
export function clientHello(opts: {
  sni?: string;
  alpn?: string[];
  version?: number;
  recordVersion?: number;
  extensions?: [number, number[]][];
  noExtensions?: boolean;
}): number[] {
  return tlsRecord(opts.recordVersion ?? 0x0301, clientHelloHandshake(opts));
}

export function clientHelloHandshake(opts: {
  sni?: string;
  alpn?: string[];
  version?: number;
  extensions?: [number, number[]][];
  noExtensions?: boolean;
}): number[] {
  const exts: number[] = [];
  const ext = (type: number, data: number[]) => exts.push(...u16(type), ...u16(data.length), ...data);
  if (opts.sni !== undefined) {
    const entry = [0, ...u16(opts.sni.length), ...ascii(opts.sni)];
    ext(0, [...u16(entry.length), ...entry]);
  }
  if (opts.alpn !== undefined) {
    const list = opts.alpn.flatMap((p) => [p.length, ...ascii(p)]);
    ext(16, [...u16(list.length), ...list]);
  }
  for (const [t, d] of opts.extensions ?? []) ext(t, d);
  const body = [
    ...u16(opts.version ?? 0x0303),
    ...Array.from({ length: 32 }, (_, i) => i),
    32, ...Array.from({ length: 32 }, (_, i) => 0xa0 + i), // session id
    ...u16(6), 0x13, 0x01, 0x13, 0x02, 0xc0, 0x2f, // cipher suites
    1, 0, // compression: null
    ...(opts.noExtensions ? [] : [...u16(exts.length), ...exts]),
  ];
  return [1, ...u24(body.length), ...body];
}

export function tlsRecord(version: number, fragment: number[], type = 0x16): number[] {
  return [type, ...u16(version), ...u16(fragment.length), ...fragment];
}

export function dhcpOption(code: number, data: number[]): number[] {
  return [code, data.length, ...data];
}

/** A BOOTP/DHCPv4 message; `options` are raw option bytes (include 255 yourself if wanted). */
export function dhcp4(opts: { op?: number; htype?: number; hlen?: number; mac?: number[]; yiaddr?: number; options: number[]; cookie?: number }): number[] {
  const fixed = new Array<number>(236).fill(0);
  fixed[0] = opts.op ?? 1;
  fixed[1] = opts.htype ?? 1;
  fixed[2] = opts.hlen ?? 6;
  fixed.splice(4, 4, ...u32(0x3903f326));
  fixed.splice(16, 4, ...u32(opts.yiaddr ?? 0));
  const mac = opts.mac ?? [0x00, 0x0b, 0x82, 0x01, 0xfc, 0x42];
  fixed.splice(28, mac.length, ...mac);
  return [...fixed, ...u32(opts.cookie ?? 0x63825363), ...opts.options];
}

export function dhcp6Option(code: number, data: number[]): number[] {
  return [...u16(code), ...u16(data.length), ...data];
}

export function dhcp6(type: number, options: number[]): number[] {
  return [type, 0x12, 0x34, 0x56, ...options];
}

/** Places `payload` inside a larger buffer, as a packet sits inside a shared capture buffer. */
export function embed(payload: number[] | Buffer, before: number[] | number, after: number[] | number, fill = 0xee): { b: Buffer; off: number; len: number } {
  const pre = typeof before === 'number' ? new Array<number>(before).fill(fill) : before;
  const post = typeof after === 'number' ? new Array<number>(after).fill(fill) : after;
  return { b: Buffer.from([...pre, ...payload, ...post]), off: pre.length, len: payload.length };
}
