// ccTLDs from ISO country codes, checked against the Public Suffix List
// (Debian's publicsuffix package: its comments name the country of each
// internationalised ccTLD) and, always, against the root zone's delegations
// for the default watched countries written out here with their Unicode
// forms, which node:url turns into the DNS's punycode.
import { existsSync, readFileSync } from 'node:fs';
import { domainToASCII } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ccTlds, dnsName, SuffixMap } from '../../../sensor/enrich/cctld.js';

const PSL = '/usr/share/publicsuffix/public_suffix_list.dat';
const havePsl = existsSync(PSL);
if (!havePsl) console.warn(`skipping the Public Suffix List comparison: ${PSL} is not there (Debian package publicsuffix)`);

describe('ccTLDs of a country', () => {
  it('the default watched countries: the two-letter ccTLD and the internationalised ones the root zone delegates', () => {
    const unicode: Record<string, string[]> = {
      CN: ['中国', '中國'], HK: ['香港'], MO: ['澳門', '澳门'], RU: ['рф'], BY: ['бел'], IR: ['ایران', 'ايران'], KP: [],
    };
    for (const [cc, idn] of Object.entries(unicode)) {
      expect(new Set(ccTlds(cc)), cc).toEqual(new Set([cc.toLowerCase(), ...idn.map((u) => domainToASCII(u))]));
    }
    expect(ccTlds('CN')).toContain('xn--fiqs8s');
  });

  it('the exceptions: the United Kingdom is .uk (and the dormant .gb); lower-case codes are read too', () => {
    expect(ccTlds('GB')).toEqual(['uk', 'gb']);
    expect(ccTlds('de')).toEqual(['de']);
  });

  it.skipIf(!havePsl)('every internationalised ccTLD the Public Suffix List attributes to a country, and no other, for every country it names', () => {
    const text = readFileSync(PSL, 'utf8');
    const byCountry = new Map<string, Set<string>>();
    // "// xn--fiqs8s ("Zhongguo/China", Chinese, Simplified) : CN"
    for (const m of text.matchAll(/^\/\/ (xn--[a-z0-9-]+) \(.*\)\s*: ([A-Z]{2})$/gm)) {
      if (!byCountry.has(m[2])) byCountry.set(m[2], new Set());
      byCountry.get(m[2])!.add(m[1]);
    }
    expect(byCountry.size).toBeGreaterThan(30);
    for (const [cc, idn] of byCountry) expect(new Set(ccTlds(cc).filter((t) => t.startsWith('xn--'))), cc).toEqual(idn);
    // every two-letter ccTLD is a top-level rule of the list
    const tlds = new Set(text.split('\n').filter((l) => /^[a-z]{2}$/.test(l)));
    for (const cc of ['CN', 'HK', 'MO', 'RU', 'BY', 'IR', 'KP', 'GB', 'US', 'DE']) for (const t of ccTlds(cc).filter((x) => !x.startsWith('xn--'))) expect(tlds.has(t), `${cc} .${t}`).toBe(true);
  });
});

describe('names as the DNS compares them', () => {
  it('lower case, no port, no root dot, Unicode labels in punycode; IPv6 literals are no name', () => {
    expect(dnsName('API.Vendor.CN.')).toBe('api.vendor.cn');
    expect(dnsName('api.vendor.cn:8443')).toBe('api.vendor.cn');
    expect(dnsName('例子.中国')).toBe(domainToASCII('例子.中国'));
    expect(dnsName('[2001:db8::1]:443')).toBeNull();
    expect(dnsName('')).toBeNull();
  });

  it('suffixes match on label boundaries, the longest first', () => {
    const m = new SuffixMap<string>();
    m.add('cn', 'CN');
    m.add('example.cn', 'vendor');
    expect(m.find('x.example.cn')).toEqual({ suffix: 'example.cn', value: 'vendor' });
    expect(m.find('x.ample.cn')).toEqual({ suffix: 'cn', value: 'CN' });
    expect(m.find('cn')).toEqual({ suffix: 'cn', value: 'CN' });
    expect(m.find('x.com.cn')).toEqual({ suffix: 'cn', value: 'CN' });
    expect(m.find('x.cn.com')).toBeNull();
    expect(m.find('xcn')).toBeNull();
  });
});
