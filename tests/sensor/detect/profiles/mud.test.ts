// RFC 8520 MUD files to device profiles: the RFC shape and the container and
// draft-era variants real files use, what cannot be mapped, and errors with
// JSON paths and lines.
import { readdirSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DocumentedDestination } from '../../../../contract/types.js';
import { ProfileError } from '../../../../sensor/errors.js';
import { mudToProfile } from '../../../../sensor/detect/profiles/mud.js';
import { parseProfileYaml, profileToYaml } from '../../../../sensor/detect/profiles/yaml.js';
import { MUD_FIXTURES, mudFixture as fixture, profileErrorOf as errorOf } from '../../../helpers/profiles.js';

const F = 'lamp.json';
const URL_ = 'https://lighting.example.com/lightbulb2000';

const LOCAL4: DocumentedDestination[] = [
  { cidr: '10.0.0.0/8', note: 'local-networks' },
  { cidr: '172.16.0.0/12', note: 'local-networks' },
  { cidr: '192.168.0.0/16', note: 'local-networks' },
];
const LOCAL6: DocumentedDestination[] = [
  { cidr: 'fc00::/7', note: 'local-networks' },
  { cidr: 'fe80::/10', note: 'local-networks' },
];
const TEST_443: DocumentedDestination = { domain: 'test.example.com', proto: 'tcp', ports: [443] };

/** A minimal RFC 8520 file with one from-device ACL holding `aces`. */
function mud(aces: unknown[], opts: { type?: string; extra?: Record<string, unknown> } = {}): Record<string, unknown> {
  return {
    'ietf-mud:mud': {
      'mud-version': 1,
      'mud-url': URL_,
      'from-device-policy': { 'access-lists': { 'access-list': [{ name: 'fr' }] } },
      ...opts.extra,
    },
    'ietf-access-control-list:acls': {
      acl: [{ name: 'fr', ...(opts.type ? { type: opts.type } : {}), aces: { ace: aces } }],
    },
  };
}

const ace = (name: string, matches: unknown, forwarding: string | null = 'accept') =>
  forwarding === null ? { name, matches } : { name, matches, actions: { forwarding } };

describe('mudToProfile: the fixtures', () => {
  it('converts the RFC 8520 example', () => {
    const r = mudToProfile(fixture('rfc8520-example.json'), 'rfc8520-example.json');
    expect(r.profile).toEqual({
      profile: 'example-lighting-lightbulb-2000',
      description: 'The BMS Example Light Bulb',
      match: {},
      'mud-url': URL_,
      documented: [TEST_443, ...LOCAL4, ...LOCAL6],
    });
    expect(r.unmapped).toEqual([
      'from-device ACE "ctl0-frdev" (controller urn:ietf:params:mud:dns): no destination address or name',
    ]);
  });

  it('reads the ietf-access-control-list:access-lists container the same way', () => {
    const rfc = mudToProfile(fixture('rfc8520-example.json'), 'a.json');
    const variant = mudToProfile(fixture('access-lists-variant.json'), 'b.json');
    expect(variant.profile.documented).toEqual(rfc.profile.documented);
    expect(variant.unmapped).toEqual(rfc.unmapped);
    // no mfg-name / model-name: the name comes from the URL path
    expect(variant.profile.profile).toBe('lightbulb2000');
  });

  it('reads draft-era acl-name / acl-type / access-list-entries / rule-name files', () => {
    const r = mudToProfile(fixture('draft-acl-name.json'), 'draft.json');
    expect(r.profile).toEqual({
      profile: 'lightbulb2000',
      description: 'The BMS Example Light Bulb (draft-era MUD file)',
      match: {},
      'mud-url': 'https://lighting.example.com/lightbulb2000.json',
      documented: [TEST_443, { domain: 'updates.example.com', proto: 'tcp', ports: [8000, 8001, 8002, 8003] }, ...LOCAL4],
    });
    expect(r.unmapped).toEqual([
      'from-device ACE "cl2-frdev": udp destination ports 1024-65535 spans 64512 ports, more than the 1024 a range may cover; left out',
      'from-device ACE "cl3-frdev": action deny; only accepted traffic is documented',
    ]);
  });

  it('gives the same result for the parsed value as for the text', () => {
    const text = fixture('rfc8520-example.json');
    expect(mudToProfile(JSON.parse(text), 'x.json')).toEqual(mudToProfile(text, 'x.json'));
    expect(mudToProfile(Buffer.from(`\ufeff${text}`), 'x.json')).toEqual(mudToProfile(text, 'x.json'));
  });

  it('produces profiles that survive the YAML round trip, with a header and without', () => {
    const names = readdirSync(MUD_FIXTURES);
    expect(names).toEqual(expect.arrayContaining(['rfc8520-example.json', 'access-lists-variant.json', 'draft-acl-name.json']));
    for (const n of names) {
      const { profile } = mudToProfile(fixture(n), n);
      expect(parseProfileYaml(profileToYaml(profile, `converted from ${n}`), 'p.yaml')).toEqual({ ...profile, source: 'p.yaml' });
      expect(parseProfileYaml(profileToYaml(profile), 'rt.yaml')).toEqual({ ...profile, source: 'rt.yaml' });
    }
  });
});

describe('mudToProfile: ACE mapping', () => {
  const convert = (aces: unknown[], opts?: Parameters<typeof mud>[1]) => mudToProfile(mud(aces, opts), F);

  it('maps destination networks, protocol numbers and ports', () => {
    const r = convert([
      ace('a', { ipv4: { 'destination-ipv4-network': '192.0.2.0/24', protocol: 17 }, udp: { 'destination-port': { operator: 'eq', port: 123 } } }),
      ace('b', { ipv6: { 'destination-ipv6-network': '2001:DB8:0::/48', protocol: 47 } }),
      ace('c', { ipv4: { 'destination-ipv4-network': '198.51.100.7/32', protocol: 1 } }),
      ace('d', { ipv6: { 'ietf-acldns:dst-dnsname': 'Ping.Example.COM.', protocol: 58 } }),
      ace('e', { ipv4: { 'ietf-acldns:dst-dnsname': 'range.example.com' }, tcp: { 'destination-port': { 'lower-port': 9000, 'upper-port': 9002 } } }),
    ]);
    expect(r.profile.documented).toEqual([
      { cidr: '192.0.2.0/24', proto: 'udp', ports: [123] },
      { cidr: '2001:db8::/48', proto: '47' },
      { cidr: '198.51.100.7/32', proto: 'icmp' },
      { domain: 'ping.example.com', proto: 'icmp6' },
      { domain: 'range.example.com', proto: 'tcp', ports: [9000, 9001, 9002] },
    ]);
    expect(r.unmapped).toEqual([]);
  });

  it('treats a missing actions container as accept and drop/reject as not documented', () => {
    const r = convert([
      ace('ok', { ipv4: { 'ietf-acldns:dst-dnsname': 'a.example.com' } }, null),
      ace('dropped', { ipv4: { 'ietf-acldns:dst-dnsname': 'b.example.com' } }, 'drop'),
      ace('rejected', { ipv4: { 'ietf-acldns:dst-dnsname': 'c.example.com' } }, 'reject'),
    ]);
    expect(r.profile.documented).toEqual([{ domain: 'a.example.com' }]);
    expect(r.unmapped).toEqual([
      'from-device ACE "dropped": action drop; only accepted traffic is documented',
      'from-device ACE "rejected": action reject; only accepted traffic is documented',
    ]);
  });

  it('maps an ACE with only a source port, noting that the source port is ignored', () => {
    const r = convert([
      ace('sp', { ipv4: { 'ietf-acldns:dst-dnsname': 'a.example.com', protocol: 6 }, tcp: { 'source-port': { operator: 'eq', port: 5000 } } }),
    ]);
    expect(r.profile.documented).toEqual([{ domain: 'a.example.com', proto: 'tcp' }]);
    expect(r.unmapped).toEqual(['from-device ACE "sp": tcp source port ignored; only destinations are documented']);
  });

  it('leaves out port ranges over 1024 ports and operators other than eq', () => {
    const r = convert([
      ace('wide', { ipv4: { 'ietf-acldns:dst-dnsname': 'a.example.com' }, udp: { 'destination-port': { 'lower-port': 1, 'upper-port': 2000 } } }),
      ace('gte', { ipv4: { 'ietf-acldns:dst-dnsname': 'b.example.com' }, tcp: { 'destination-port': { operator: 'gte', port: 1024 } } }),
      ace('max', { ipv4: { 'ietf-acldns:dst-dnsname': 'c.example.com' }, tcp: { 'destination-port': { 'lower-port': 1, 'upper-port': 1024 } } }),
    ]);
    expect(r.profile.documented.map((d) => [d.domain, d.ports?.length])).toEqual([['c.example.com', 1024]]);
    expect(r.unmapped).toEqual([
      'from-device ACE "wide": udp destination ports 1-2000 spans 2000 ports, more than the 1024 a range may cover; left out',
      'from-device ACE "gte": tcp destination port operator "gte" cannot be written as a port list; left out',
    ]);
  });

  it('reports every MUD class that names no address', () => {
    const r = convert([
      ace('c1', { 'ietf-mud:mud': { controller: 'urn:ietf:params:mud:dns' } }),
      ace('c2', { 'ietf-mud:mud': { 'my-controller': [null] } }),
      ace('c3', { 'ietf-mud:mud': { 'same-manufacturer': [null] } }),
      ace('c4', { 'ietf-mud:mud': { manufacturer: 'bms.example.com' } }),
      ace('c5', { 'ietf-mud:mud': { model: 'https://bms.example.com/.well-known/mud/lightswitch' } }),
    ]);
    expect(r.profile.documented).toEqual([]);
    expect(r.unmapped).toEqual([
      'from-device ACE "c1" (controller urn:ietf:params:mud:dns): no destination address or name',
      'from-device ACE "c2" (my-controller): no destination address or name',
      'from-device ACE "c3" (same-manufacturer): no destination address or name',
      'from-device ACE "c4" (manufacturer bms.example.com): no destination address or name',
      'from-device ACE "c5" (model https://bms.example.com/.well-known/mud/lightswitch): no destination address or name',
    ]);
  });

  it('expands local-networks by the address family of the ACE or ACL', () => {
    const local = { 'ietf-mud:mud': { 'local-networks': [null] } };
    expect(convert([ace('l', local)]).profile.documented).toEqual([...LOCAL4, ...LOCAL6]);
    expect(convert([ace('l', local)], { type: 'ipv6-acl-type' }).profile.documented).toEqual(LOCAL6);
    expect(convert([ace('l', local)], { type: 'mixed-eth-ipv4-ipv6-acl-type' }).profile.documented).toEqual([...LOCAL4, ...LOCAL6]);
    const web = convert([ace('l', { ...local, ipv4: { protocol: 6 }, tcp: { 'destination-port': { operator: 'eq', port: 80 } } })]);
    expect(web.profile.documented).toEqual(LOCAL4.map((l) => ({ cidr: l.cidr, proto: 'tcp', ports: [80], note: 'local-networks' })));
  });

  it('reports ACEs that yield no destination and match fields it cannot use', () => {
    const r = convert([
      ace('any', { tcp: { 'destination-port': { operator: 'eq', port: 443 } } }),
      ace('eth', { eth: { 'destination-mac-address': 'aa:bb:cc:dd:ee:ff' }, ipv4: { 'ietf-acldns:dst-dnsname': 'a.example.com' } }),
      ace('bad-name', { ipv4: { 'ietf-acldns:dst-dnsname': 'a..example.com' } }),
      ace('ttl', { ipv4: { 'ietf-acldns:dst-dnsname': 'b.example.com', ttl: 64 } }),
      'not an ace',
    ]);
    expect(r.profile.documented).toEqual([{ domain: 'a.example.com' }, { domain: 'b.example.com' }]);
    expect(r.unmapped).toEqual([
      'from-device ACE "any": no destination address or name',
      'from-device ACE "eth": match "eth" cannot be mapped to a destination; ignored',
      'from-device ACE "bad-name": dst-dnsname string "a..example.com" has an empty label (two dots in a row, or a leading dot); not mapped',
      'from-device ACE "bad-name": no destination address or name',
      'from-device ACE "ttl": ipv4 field "ttl" ignored (says nothing about the destination)',
      'from-device ACE "fr[4]": is string "not an ace", not an ACE',
    ]);
  });

  it('ignores to-device ACLs and removes duplicate destinations', () => {
    const doc = mud([ace('a', { ipv4: { 'ietf-acldns:dst-dnsname': 'a.example.com' } }), ace('b', { ipv6: { 'ietf-acldns:dst-dnsname': 'A.example.com.' } })]);
    const m = doc['ietf-mud:mud'] as Record<string, unknown>;
    m['to-device-policy'] = { 'access-lists': { 'access-list': [{ name: 'to' }] } };
    const acls = (doc['ietf-access-control-list:acls'] as { acl: unknown[] }).acl;
    acls.push({ name: 'to', aces: { ace: [ace('t', { ipv4: { 'ietf-acldns:src-dnsname': 'in.example.com' } })] } });
    expect(mudToProfile(doc, F).profile.documented).toEqual([{ domain: 'a.example.com' }]);
  });

  it('names the profile from manufacturer and model, or from the URL', () => {
    const named = (extra: Record<string, unknown>) => mudToProfile(mud([], { extra }), F).profile.profile;
    expect(named({ 'mfg-name': 'Signify', 'model-name': 'Hue Bridge v2' })).toBe('signify-hue-bridge-v2');
    expect(named({ 'mfg-name': 'Philips', 'model-name': 'Philips Hue' })).toBe('philips-hue');
    expect(named({ 'model-name': 'Only Model' })).toBe('lightbulb2000');
    expect(named({ 'mud-url': 'https://mud.example.com/.well-known/mud/Lamp_2.json' })).toBe('well-known-mud-lamp-2');
    expect(named({ 'mud-url': 'https://mud.example.com/' })).toBe('mud-example-com');
    expect(named({ 'mud-url': 'https://mud.example.com/%zz/lamp' })).toBe('zz-lamp');
  });
});

describe('mudToProfile: errors', () => {
  const cases: Array<[string, string, string]> = [
    ['empty text', '', 'lamp.json:1: invalid JSON: expected a JSON value, found the end of the text'],
    [
      'trailing comma',
      '{\n  "ietf-mud:mud": {\n    "mud-url": "https://x.example/m",\n  }\n}\n',
      'lamp.json:4: invalid JSON: expected a property name in double quotes, found "}"',
    ],
    ['missing value', '{\n  "a":\n}', 'lamp.json:3: invalid JSON: expected a JSON value, found "}"'],
    ['missing comma', '{\n  "a": 1\n  "b": 2\n}', 'lamp.json:3: invalid JSON: expected "," or "}" after a property value, found "\\""'],
    ['unclosed string', '{\n  "a": "b\n}', 'lamp.json:2: invalid JSON: control character in a string (a line break inside quotes?)'],
    ['garbage after', '{}\n\nx', 'lamp.json:3: invalid JSON: unexpected "x" after the end of the JSON value'],
    ['top level array', '[1]', 'lamp.json:1: top level: expected a JSON object, found an array'],
    ['not a MUD file', '{\n  "x": 1\n}', 'lamp.json:1: missing "ietf-mud:mud" container; not an RFC 8520 MUD file'],
    ['mud not an object', '{"ietf-mud:mud": []}', 'lamp.json:1: ietf-mud:mud: expected an object, found an array'],
    ['missing mud-url', '{\n  "ietf-mud:mud": {\n    "systeminfo": "x"\n  }\n}', 'lamp.json:2: ietf-mud:mud: missing "mud-url"'],
    [
      'http mud-url',
      '{\n  "ietf-mud:mud": {\n    "mud-url": "http://x.example/m"\n  }\n}',
      'lamp.json:3: ietf-mud:mud.mud-url "http://x.example/m" is not an https URL (scheme "http")',
    ],
    [
      'systeminfo not a string',
      '{"ietf-mud:mud": {"mud-url": "https://x.example/m",\n "systeminfo": 7}}',
      'lamp.json:2: ietf-mud:mud.systeminfo: expected a string, found number 7',
    ],
  ];
  for (const [name, text, message] of cases) {
    it(name, () => {
      const e = errorOf(() => mudToProfile(text, F));
      expect(e.code).toBe('MUD_INVALID');
      expect(e.message).toBe(message);
      expect(e.message).not.toContain('\n');
    });
  }

  it('names the from-device ACL reference that points nowhere, with its line', () => {
    const doc = mud([]);
    (doc['ietf-mud:mud'] as Record<string, unknown>)['from-device-policy'] = {
      'access-lists': { 'access-list': [{ name: 'fr' }, { name: 'x' }] },
    };
    const text = JSON.stringify(doc, null, 2);
    const line = text.split('\n').findIndex((l) => l.includes('"name": "x"')) + 1;
    const e = errorOf(() => mudToProfile(text, F));
    expect(e.message).toBe(`lamp.json:${line}: ietf-mud:mud.from-device-policy.access-lists.access-list[1].name "x" names no ACL`);
    // the parsed value has no lines
    expect(errorOf(() => mudToProfile(doc, F)).message).toBe(
      'lamp.json: ietf-mud:mud.from-device-policy.access-lists.access-list[1].name "x" names no ACL',
    );
  });

  it('names draft-era acl-name references too', () => {
    const doc = JSON.parse(fixture('draft-acl-name.json'));
    doc['ietf-mud:mud']['from-device-policy']['access-lists']['access-list'][0]['acl-name'] = 'gone';
    expect(errorOf(() => mudToProfile(doc, F)).detail).toBe(
      'ietf-mud:mud.from-device-policy.access-lists.access-list[0].acl-name "gone" names no ACL',
    );
  });

  it('names an access-list reference without a name', () => {
    const doc = mud([]);
    (doc['ietf-mud:mud'] as Record<string, unknown>)['from-device-policy'] = { 'access-lists': { 'access-list': [{}] } };
    expect(errorOf(() => mudToProfile(doc, F)).detail).toBe('ietf-mud:mud.from-device-policy.access-lists.access-list[0]: missing "name"');
  });

  it('refuses two ACLs with one name', () => {
    const doc = mud([]);
    const acls = (doc['ietf-access-control-list:acls'] as { acl: unknown[] }).acl;
    acls.push({ name: 'fr', aces: { ace: [] } });
    expect(errorOf(() => mudToProfile(doc, F)).detail).toBe(
      'ietf-access-control-list:acls.acl[1].name "fr" is already defined at ietf-access-control-list:acls.acl[0]',
    );
  });

  it('random JSON values give a profile or a MUD_INVALID error', () => {
    const words = fc.constantFrom(
      'ietf-mud:mud', 'mud-url', 'from-device-policy', 'access-lists', 'access-list', 'name', 'acl-name',
      'ietf-access-control-list:acls', 'ietf-access-control-list:access-lists', 'acl', 'aces', 'ace', 'matches',
      'ipv4', 'ipv6', 'tcp', 'udp', 'ietf-acldns:dst-dnsname', 'destination-port', 'lower-port', 'upper-port',
      'port', 'operator', 'protocol', 'actions', 'forwarding', 'ietf-mud:mud', 'local-networks', 'controller', 'x',
    );
    const { value } = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        fc.oneof(fc.string({ maxLength: 8 }), fc.integer({ min: -2, max: 70000 }), fc.boolean(), fc.constant(null), fc.constantFrom(URL_, 'fr', 'accept', 'drop', 'eq', 'a.example.com')),
        fc.array(tie('value'), { maxLength: 3 }),
        fc.dictionary(words, tie('value'), { maxKeys: 4 }),
      ),
    }));
    const base = mud([]);
    fc.assert(
      fc.property(value, fc.boolean(), (v, asText) => {
        // half the time graft the random value into an otherwise valid file, so the ACE code is reached
        const doc = asText ? v : { ...base, 'ietf-access-control-list:acls': { acl: [{ name: 'fr', aces: { ace: [v] } }] } };
        try {
          const r = mudToProfile(asText ? JSON.stringify(doc) ?? 'null' : doc, F);
          expect(parseProfileYaml(profileToYaml(r.profile), F)).toEqual({ ...r.profile, source: F });
        } catch (e) {
          expect(e).toBeInstanceOf(ProfileError);
          expect((e as ProfileError).code).toBe('MUD_INVALID');
        }
      }),
      { numRuns: 1500 },
    );
  }, 30_000);
});
