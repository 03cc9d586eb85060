// Country-code top-level domains: the names a country's registry hands out.
// A destination's name under a watched country's ccTLD says where its
// operator registered it, whatever address it resolves to.

import { domainToASCII } from 'node:url';

/**
 * ccTLDs that are not the ISO 3166-1 code in lower case. The United
 * Kingdom's is .uk; .gb, assigned too, is dormant. The others (.ac, .eu,
 * .su) belong to no ISO code.
 */
const ASCII_EXCEPTIONS: Record<string, string[]> = { GB: ['uk', 'gb'] };

/** Internationalised ccTLDs in the DNS form (punycode) by ISO code, as the IANA root zone delegates them; the Unicode form in each comment. */
const IDN: Record<string, string[]> = {
  AE: ['xn--mgbaam7a8h'], // امارات
  AM: ['xn--y9a3aq'], // հայ
  BD: ['xn--54b7fta0cc'], // বাংলা
  BG: ['xn--90ae'], // бг
  BH: ['xn--mgbcpq6gpa1a'], // البحرين
  BY: ['xn--90ais'], // бел
  CN: ['xn--fiqs8s', 'xn--fiqz9s'], // 中国 中國
  DZ: ['xn--lgbbat1ad8j'], // الجزائر
  EG: ['xn--wgbh1c'], // مصر
  EU: ['xn--e1a4c', 'xn--qxa6a'], // ею ευ
  GE: ['xn--node'], // გე
  GR: ['xn--qxam'], // ελ
  HK: ['xn--j6w193g'], // 香港
  IL: ['xn--4dbrk0ce'], // ישראל
  IN: ['xn--2scrj9c', 'xn--3hcrj9c', 'xn--45br5cyl', 'xn--45brj9c', 'xn--fpcrj9c3d', 'xn--gecrj9c', 'xn--h2breg3eve', 'xn--h2brj9c', 'xn--h2brj9c8c', 'xn--mgbbh1a', 'xn--mgbbh1a71e', 'xn--mgbgu82a', 'xn--rvc1e0am3e', 'xn--s9brj9c', 'xn--xkc2dl3a5ee0h'], // ಭಾರತ ଭାରତ ভাৰত ভারত భారత్ ભારત भारतम् भारत भारोत بارت بھارت ڀارت ഭാരതം ਭਾਰਤ இந்தியா
  IQ: ['xn--mgbtx2b'], // عراق
  IR: ['xn--mgba3a4f16a', 'xn--mgba3a4fra'], // ایران ايران
  JO: ['xn--mgbayh7gpa'], // الاردن
  KR: ['xn--3e0b707e'], // 한국
  KZ: ['xn--80ao21a'], // қаз
  LA: ['xn--q7ce6a'], // ລາວ
  LK: ['xn--fzc2c9e2c', 'xn--xkc2al3hye2a'], // ලංකා இலங்கை
  MA: ['xn--mgbc0a9azcg'], // المغرب
  MK: ['xn--d1alf'], // мкд
  MN: ['xn--l1acc'], // мон
  MO: ['xn--mix082f', 'xn--mix891f'], // 澳门 澳門
  MR: ['xn--mgbah1a3hjkrd'], // موريتانيا
  MY: ['xn--mgbx4cd0ab'], // مليسيا
  OM: ['xn--mgb9awbf'], // عمان
  PK: ['xn--mgbai9a5eva00b', 'xn--mgbai9azgqp6j'], // پاكستان پاکستان
  PS: ['xn--ygbi2ammx'], // فلسطين
  QA: ['xn--wgbl6a'], // قطر
  RS: ['xn--90a3ac'], // срб
  RU: ['xn--p1ai'], // рф
  SA: ['xn--mgberp4a5d4a87g', 'xn--mgberp4a5d4ar', 'xn--mgbqly7c0a67fbc', 'xn--mgbqly7cvafr'], // السعودیة السعودية السعودیۃ السعوديه
  SD: ['xn--mgbpl2fh'], // سودان
  SG: ['xn--clchc0ea0b2g2a9gcd'], // சிங்கப்பூர்
  SY: ['xn--mgbtf8fl', 'xn--ogbpf8fl'], // سوريا سورية
  TH: ['xn--o3cw4h'], // ไทย
  TN: ['xn--pgbs0dh'], // تونس
  TW: ['xn--kprw13d', 'xn--kpry57d', 'xn--nnx388a'], // 台湾 台灣 臺灣
  UA: ['xn--j1amh'], // укр
  YE: ['xn--mgb2ddes'], // اليمن
};

/** The ccTLDs of a country (an ISO 3166-1 alpha-2 code): its two-letter one and its internationalised ones, lower case, without dots. */
export function ccTlds(country: string): string[] {
  const cc = country.toUpperCase();
  return [...(ASCII_EXCEPTIONS[cc] ?? [cc.toLowerCase()]), ...(IDN[cc] ?? [])];
}

/** A name as the DNS compares it: lower-case ASCII (punycode for Unicode labels), without a port or the root's dot; null when it is no name. */
export function dnsName(name: string): string | null {
  let n = name.trim().toLowerCase();
  if (n.startsWith('[')) return null; // an IPv6 literal in a Host header
  const colon = n.lastIndexOf(':');
  if (colon >= 0) n = n.slice(0, colon); // Host: name:port
  if (n.endsWith('.')) n = n.slice(0, -1);
  if (/[^\x00-\x7f]/.test(n)) n = domainToASCII(n);
  return n === '' ? null : n;
}

/**
 * Suffixes of names mapped to what they stand for; `find` answers with the
 * longest suffix a name ends in, on a label boundary (x.example.cn ends in
 * example.cn and cn, not in ample.cn).
 */
export class SuffixMap<T> {
  private readonly map = new Map<string, T>();

  /** `suffix`: lower-case ASCII labels, without a leading dot. The first value given for a suffix stays. */
  add(suffix: string, value: T): void {
    if (!this.map.has(suffix)) this.map.set(suffix, value);
  }

  get size(): number {
    return this.map.size;
  }

  /** The value of the longest suffix `name` (in dnsName form) ends in, with that suffix; null when none. */
  find(name: string): { suffix: string; value: T } | null {
    if (this.map.size === 0) return null;
    for (let from = 0; ; ) {
      const suffix = from === 0 ? name : name.slice(from);
      const value = this.map.get(suffix);
      if (value !== undefined) return { suffix, value };
      const dot = name.indexOf('.', from);
      if (dot < 0) return null;
      from = dot + 1;
    }
  }
}
