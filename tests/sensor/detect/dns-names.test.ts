// What the DNS rules read in a name: its registered domain by the Public
// Suffix List (ICANN and private sections), and how algorithmic a label
// looks, measured on made-up labels against names of real services.
import { describe, expect, it } from 'vitest';
import { dnsSite, looksEncoded, nameHash, nameScore } from '../../../sensor/detect/dns-names.js';
import { rng } from '../../helpers/scenarios.js';

describe('dnsSite', () => {
  it('splits a name at its registered domain, under ICANN and private suffixes alike', () => {
    expect(dnsSite('Bridge.MeetHue.com.')).toEqual({ name: 'bridge.meethue.com', domain: 'meethue.com', subdomain: 'bridge', label: 'meethue' });
    expect(dnsSite('a.b.example.co.uk')).toMatchObject({ domain: 'example.co.uk', subdomain: 'a.b', label: 'example' });
    // cloudfront.net and akamaiedge.net are in the list's private section: a customer's name is its own domain
    expect(dnsSite('d1a2b3c4d5e6f7.cloudfront.net')).toMatchObject({ domain: 'd1a2b3c4d5e6f7.cloudfront.net', subdomain: '' });
    expect(dnsSite('e12345.a.akamaiedge.net')).toMatchObject({ domain: 'a.akamaiedge.net', subdomain: 'e12345' });
    expect(dnsSite('abcd-ats.iot.eu-west-1.amazonaws.com')).toMatchObject({ domain: 'amazonaws.com', subdomain: 'abcd-ats.iot.eu-west-1' });
    expect(dnsSite('0.de.pool.ntp.org')).toMatchObject({ domain: 'ntp.org', subdomain: '0.de.pool' });
  });

  it('no registered domain for names nobody registers on the Internet', () => {
    for (const n of ['printer.local', 'nas.lan', 'mtalk4.google.com.belkin', 'wpad', '4.3.2.1.in-addr.arpa', 'b.a.9.8.ip6.arpa', 'com', 'co.uk', '', '.']) expect(dnsSite(n), n).toBeNull();
  });

  it('takes any bytes off the wire without throwing', () => {
    for (const n of ['a\u0000b.example.com', 'x'.repeat(300) + '.com', '..example.com', 'ex ample.com', '\u00ff\u00fe.com']) expect(() => dnsSite(n)).not.toThrow();
  });
});

const random = (r: () => number, n: number, alphabet: string) => Array.from({ length: n }, () => alphabet[Math.floor(r() * alphabet.length)]).join('');

/** Registered labels of services devices and phones really use. */
const REAL = (
  'google facebook crashlytics localytics mixpanel samsungosp firebaseio tplinkcloud meethue withings mydlink ecdinterface philips openwrt ' +
  'amazonaws cloudfront akamaiedge googleapis gstatic doubleclick netflix spotify whatsapp instagram microsoft windowsupdate apple icloud ' +
  'tuyaeu ezvizlife hikvision xiaomi aliyuncs bilibili baidu googlevideo smartthings amazonalexa wunderground accuweather dropbox synology ' +
  'myqnapcloud speedtest yandex kaspersky bitdefender crowdstrike googlesyndication scorecardresearch rubiconproject criteo pubmatic taboola ' +
  'outbrain wikipedia github stackoverflow reddit twitter linkedin pinterest wordpress mozilla ubuntu debian docker cloudflare fastly akamai ' +
  'jsdelivr gravatar zendesk hubspot salesforce mailchimp sendgrid twilio stripe paypal shopify squarespace godaddy namecheap digitalocean ' +
  'hetzner heroku netlify vercel firebaseapp appspot azurewebsites readthedocs notion trello slack discord telegram signal skype zoom ' +
  'teamviewer anydesk irobot ecovacs roborock sonos yamaha pioneer lgthinq ewelink sonoff shelly tasmota espressif particle arduino raspberrypi ' +
  // abbreviations read as noise: the score alone cannot tell them, the burst of distinct missing domains does
  'msftncsi snssdk dyndns omtrdc muscdn tiktokcdn bytefcdn'
).split(' ');

describe('nameScore', () => {
  it('random letters, hex and random letters and digits mostly score 0.5 or more; names of real services mostly under it', () => {
    const r = rng(20_240_601);
    const share = (labels: string[]) => labels.filter((l) => nameScore(l) >= 0.5).length / labels.length;
    const lengths = () => 8 + Math.floor(r() * 8);
    expect(share(Array.from({ length: 500 }, () => random(r, lengths(), 'abcdefghijklmnopqrstuvwxyz')))).toBeGreaterThan(0.8);
    expect(share(Array.from({ length: 500 }, () => random(r, lengths(), '0123456789abcdef')))).toBeGreaterThan(0.85);
    expect(share(Array.from({ length: 500 }, () => random(r, lengths(), 'abcdefghijklmnopqrstuvwxyz0123456789')))).toBeGreaterThan(0.9);
    expect(share(REAL)).toBeLessThan(0.1);
    expect(REAL.filter((l) => nameScore(l) >= 0.5)).toEqual(expect.arrayContaining(['msftncsi', 'snssdk']));
  });

  it('scores within [0, 1], the same every time, whatever the case', () => {
    for (const l of ['xjqzvbkwtrp', 'google', 'a1b2c3d4e5', 'X-J-Q-Z']) {
      const s = nameScore(l);
      expect(s).toBeGreaterThanOrEqual(0);
      expect(s).toBeLessThanOrEqual(1);
      expect(nameScore(l.toUpperCase())).toBe(s);
    }
    expect(nameScore('xjqzvbkwtrp')).toBe(1);
    expect(nameScore('a1b2c3d4e5')).toBe(1);
  });

  it('does not judge short labels, digits only, or internationalised labels', () => {
    expect(nameScore('xqzk')).toBe(0);
    expect(nameScore('xqz-k')).toBe(0);
    expect(nameScore('1234567890')).toBe(0);
    expect(nameScore('xn--80ak6aa92e')).toBe(0);
    expect(nameScore('')).toBe(0);
  });

  it('a word and a number is not a mix: mtalk4, sportsnews24 score low', () => {
    expect(nameScore('mtalk4')).toBeLessThan(0.5);
    expect(nameScore('sportsnews24')).toBeLessThan(0.5);
  });
});

describe('looksEncoded', () => {
  it('a long label, or a 16+ character label of noise without hyphens, reads as encoded; CDN and cloud host names do not', () => {
    expect(looksEncoded(`p${'abcdefghijklmnopqrstuvwxyz234567'.repeat(2)}.t`, 24, 0.5)).toBe(true);
    expect(looksEncoded('9f86d081884c7d659a2feaa0c55ad015', 24, 0.5)).toBe(true);
    expect(looksEncoded('k3jx9q2vz8w7m4nb', 24, 0.5)).toBe(true);
    for (const s of ['e12345', 'a3k7odshaiipe8-ats.iot.eu-west-1', 'r4---sn-4g5ednsz', '0.de.pool', 'www', 'ec2-54-1-2-3.eu-west-1.compute', '']) expect(looksEncoded(s, 24, 0.5), s).toBe(false);
  });

  it('the length is the setting', () => {
    expect(looksEncoded('ecdinterface-production', 20, 0.5)).toBe(true);
    expect(looksEncoded('ecdinterface-production', 24, 0.5)).toBe(false);
  });
});

describe('nameHash', () => {
  it('is deterministic and tells 100,000 distinct names apart', () => {
    expect(nameHash('a.example.com')).toBe(nameHash('a.example.com'));
    const seen = new Set<number>();
    for (let i = 0; i < 100_000; i++) seen.add(nameHash(`${i.toString(36)}.t.example.com`));
    expect(seen.size).toBe(100_000);
    expect(Number.isSafeInteger(nameHash('x'))).toBe(true);
  });
});
