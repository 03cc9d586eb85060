// The YAML profile format: normalisation, strict validation with file:line
// messages, and the YAML round trip.
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { DeviceProfile } from '../../../../contract/types.js';
import { ProfileError } from '../../../../sensor/errors.js';
import { loadProfiles } from '../../../../sensor/detect/profiles/load.js';
import { MAX_ALIAS_EXPANSION, parseProfileYaml, profileToYaml } from '../../../../sensor/detect/profiles/yaml.js';
import { phonehome } from '../../../helpers/cli.js';
import {
  BAD_PROFILES as BAD,
  RULES_DEVICES as RULES,
  profileDocumenting as withDoc,
  profileErrorOf as errorOf,
  yamlLines as y,
} from '../../../helpers/profiles.js';

const F = 'test.yaml';

const parseError = (text: string) => errorOf(() => parseProfileYaml(text, F));

describe('parseProfileYaml: valid profiles', () => {
  it('normalises every field', () => {
    const p = parseProfileYaml(
      y(
        'profile: Demo-Device_1.0',
        'description: A demo device',
        'match:',
        "  mac: ['AA-BB-CC-DD-EE-FF', '00:11:22:33:44:55', 'aa:bb:cc:dd:ee:ff']",
        "  oui: ['AA:BB:CC', '70-b3-d5-1', '70:B3:D5:12:3']",
        '  vendor: Example Corp',
        'documented:',
        '  - domain: API.Example.COM.',
        '    proto: TCP',
        '    ports: 443',
        "  - domain: '*.cloud.example.com'",
        '    proto: 17',
        "    ports: ['8000-8003', 53, '53']",
        '  - cidr: 2001:DB8:0:0::/32',
        '    proto: "1"',
        '  - cidr: 192.0.2.7',
        '    proto: 58',
        '  - cidr: 10.0.0.0/8',
        '    proto: 47',
        '    note: GRE to the local hub',
      ),
      F,
    );
    expect(p).toEqual({
      profile: 'Demo-Device_1.0',
      description: 'A demo device',
      match: {
        mac: ['aa:bb:cc:dd:ee:ff', '00:11:22:33:44:55'],
        oui: ['aa:bb:cc', '70:b3:d5:1', '70:b3:d5:12:3'],
        vendor: 'Example Corp',
      },
      documented: [
        { domain: 'api.example.com', proto: 'tcp', ports: [443] },
        { domain: '*.cloud.example.com', proto: 'udp', ports: [53, 8000, 8001, 8002, 8003] },
        { cidr: '2001:db8::/32', proto: 'icmp' },
        { cidr: '192.0.2.7', proto: 'icmp6' },
        { cidr: '10.0.0.0/8', proto: '47', note: 'GRE to the local hub' },
      ],
      source: F,
    });
  });

  it('accepts a single MAC string, an empty documented list and YAML aliases', () => {
    const p = parseProfileYaml(
      y(
        'profile: x',
        'match:',
        '  mac: aa:bb:cc:dd:ee:ff',
        'documented:',
        '  - domain: a.example.com',
        '    ports: &web [80, 443]',
        '  - domain: b.example.com',
        '    ports: *web',
      ),
      F,
    );
    expect(p.match.mac).toEqual(['aa:bb:cc:dd:ee:ff']);
    expect(p.documented.map((d) => d.ports)).toEqual([
      [80, 443],
      [80, 443],
    ]);
    expect(parseProfileYaml(y('profile: x', 'match: {vendor: X}', 'documented: []'), F).documented).toEqual([]);
  });

  it('lets a mud-url stand in for match', () => {
    const url = 'https://example.com/.well-known/mud/lamp';
    expect(parseProfileYaml(y('profile: x', `mud-url: ${url}`, 'documented: []'), F)).toEqual({
      profile: 'x',
      match: {},
      'mud-url': url,
      documented: [],
      source: F,
    });
    expect(parseProfileYaml(y('profile: x', 'match: {}', `mud-url: ${url}`, 'documented: []'), F).match).toEqual({});
  });

  it('reads autonomous systems: one number, "AS" strings and lists, sorted without repeats, with proto and ports', () => {
    const p = parseProfileYaml(
      withDoc(
        '  - asn: 16509',
        '  - asn: [AS16509, 14618, "as14618"]',
        '    proto: tcp',
        '    ports: [443, 8443]',
        "  - asn: '3303'",
        '    note: Swisscom',
      ),
      F,
    );
    expect(p.documented).toEqual([
      { asn: [16509] },
      { asn: [14618, 16509], proto: 'tcp', ports: [443, 8443] },
      { asn: [3303], note: 'Swisscom' },
    ]);
  });

  it('expands a port range of exactly 1024 ports', () => {
    const p = parseProfileYaml(withDoc('  - domain: a.example.com', "    ports: '1024-2047'"), F);
    expect(p.documented[0].ports).toHaveLength(1024);
    expect(p.documented[0].ports?.[1023]).toBe(2047);
  });
});

describe('parseProfileYaml: errors name the file, the line and what is wrong', () => {
  const cases: Array<[string, string, string]> = [
    ['empty file', '', 'test.yaml:1: empty document; expected a mapping with profile, match and documented'],
    ['top level not a mapping', y('- a', '- b'), 'test.yaml:1: top level: expected a mapping, found a list'],
    [
      'missing profile',
      y('match: {vendor: X}', 'documented: []'),
      'test.yaml:1: missing required key "profile" (the profile name)',
    ],
    ['profile not a string', y('profile: 12', 'match: {vendor: X}', 'documented: []'), 'test.yaml:1: profile: expected a string, found number 12'],
    ['profile empty', y("profile: ''", 'match: {vendor: X}', 'documented: []'), 'test.yaml:1: profile: must not be empty'],
    [
      'profile with a space',
      y('profile: Foo Bar', 'match: {vendor: X}', 'documented: []'),
      'test.yaml:1: profile: "Foo Bar" is not a valid name (letters, digits, ".", "_" and "-", starting with a letter or digit)',
    ],
    [
      'profile starting with a dash',
      y("profile: '-x'", 'match: {vendor: X}', 'documented: []'),
      'test.yaml:1: profile: "-x" is not a valid name (letters, digits, ".", "_" and "-", starting with a letter or digit)',
    ],
    [
      'description not a string',
      y('profile: x', 'description: [a]', 'match: {vendor: X}', 'documented: []'),
      'test.yaml:2: description: expected a string, found a list',
    ],
    [
      'unknown top-level key with a suggestion',
      y('profile: x', 'descripton: typo', 'match: {vendor: X}', 'documented: []'),
      'test.yaml:2: top level: unknown key "descripton" (expected one of: profile, description, match, mud-url, documented); did you mean "description"?',
    ],
    [
      'source is not a profile key',
      y('profile: x', 'match: {vendor: X}', 'documented: []', 'source: a.yaml'),
      'test.yaml:4: top level: unknown key "source" (expected one of: profile, description, match, mud-url, documented)',
    ],
    [
      'missing match',
      y('profile: x', 'documented: []'),
      'test.yaml:1: missing required key "match" (a mapping with mac, oui and/or vendor)',
    ],
    ['match is a list', y('profile: x', 'match: [a]', 'documented: []'), 'test.yaml:2: match: expected a mapping, found a list'],
    [
      'match is empty',
      y('profile: x', 'match: {}', 'documented: []'),
      'test.yaml:2: match: needs at least one of mac, oui, vendor (or a top-level mud-url)',
    ],
    [
      'unknown match key',
      y('profile: x', 'match:', "  ouis: ['aa:bb:cc']", 'documented: []'),
      'test.yaml:3: match: unknown key "ouis" (expected one of: mac, oui, vendor); did you mean "oui"?',
    ],
    [
      'short MAC',
      y('profile: x', 'match:', "  mac: ['aa:bb:cc:dd:ee:ff', 'aa:bb:cc:dd:ee']", 'documented: []'),
      'test.yaml:3: match.mac[1]: "aa:bb:cc:dd:ee" is not a MAC address (expected aa:bb:cc:dd:ee:ff)',
    ],
    [
      'MAC with mixed separators',
      y('profile: x', 'match:', '  mac:', "    - 'aa:bb-cc:dd:ee:ff'", 'documented: []'),
      'test.yaml:4: match.mac[0]: "aa:bb-cc:dd:ee:ff" is not a MAC address (expected aa:bb:cc:dd:ee:ff)',
    ],
    [
      'MAC is a number',
      y('profile: x', 'match:', '  mac: [12]', 'documented: []'),
      'test.yaml:3: match.mac[0]: expected a MAC address string, found number 12',
    ],
    [
      'empty MAC list',
      y('profile: x', 'match:', '  mac: []', 'documented: []'),
      'test.yaml:3: match.mac: empty list; remove the key or list at least one MAC address',
    ],
    [
      'full MAC under oui',
      y('profile: x', 'match:', "  oui: ['aa:bb:cc:dd:ee:ff']", 'documented: []'),
      'test.yaml:3: match.oui[0]: "aa:bb:cc:dd:ee:ff" is a full MAC address; list it under match.mac',
    ],
    [
      'bad OUI',
      y('profile: x', 'match:', "  oui: ['aa:bb']", 'documented: []'),
      'test.yaml:3: match.oui[0]: "aa:bb" is not an OUI prefix (expected aa:bb:cc, or aa:bb:cc:d / aa:bb:cc:dd:e for 28/36-bit blocks)',
    ],
    ['empty vendor', y('profile: x', 'match:', "  vendor: ' '", 'documented: []'), 'test.yaml:3: match.vendor: must not be empty'],
    [
      'http mud-url',
      y('profile: x', 'mud-url: http://example.com/mud', 'documented: []'),
      'test.yaml:2: mud-url: "http://example.com/mud" is not an https URL (scheme "http")',
    ],
    ['mud-url not a URL', y('profile: x', 'mud-url: lamp', 'documented: []'), 'test.yaml:2: mud-url: "lamp" is not a URL'],
    [
      'missing documented',
      y('profile: x', 'match: {vendor: X}'),
      'test.yaml:1: missing required key "documented" (a list of destinations; may be empty)',
    ],
    [
      'documented not a list',
      y('profile: x', 'match: {vendor: X}', 'documented: everything'),
      'test.yaml:3: documented: expected a list, found string "everything"',
    ],
    ['entry not a mapping', withDoc('  - api.example.com'), 'test.yaml:5: documented[0]: expected a mapping, found string "api.example.com"'],
    [
      'both domain and cidr',
      withDoc('  - domain: a.example.com', '  - domain: b.example.com', '    cidr: 192.0.2.0/24'),
      'test.yaml:6: documented[1]: has both domain and cidr; each entry documents exactly one (split it in two)',
    ],
    ['neither domain, cidr nor asn', withDoc('  - proto: tcp'), 'test.yaml:5: documented[0]: needs a domain, a cidr or an asn'],
    [
      'both domain and asn',
      withDoc('  - domain: a.example.com', '    asn: 16509'),
      'test.yaml:5: documented[0]: has both domain and asn; each entry documents exactly one (split it in two)',
    ],
    [
      'cidr, domain and asn',
      withDoc('  - asn: 1', '  - cidr: 192.0.2.0/24', '    asn: 16509', '    domain: a.example.com'),
      'test.yaml:6: documented[1]: has domain, cidr and asn; each entry documents exactly one (split it in three)',
    ],
    ['asn zero', withDoc('  - asn: 0'), 'test.yaml:5: documented[0].asn: number 0 is not an AS number 1-4294967295 (like 16509 or "AS16509")'],
    [
      'asn beyond 32 bits in a list',
      withDoc('  - asn:', '      - 16509', '      - 4294967296'),
      'test.yaml:7: documented[0].asn[1]: number 4294967296 is not an AS number 1-4294967295 (like 16509 or "AS16509")',
    ],
    ['asn as a name', withDoc('  - asn: Amazon'), 'test.yaml:5: documented[0].asn: string "Amazon" is not an AS number 1-4294967295 (like 16509 or "AS16509")'],
    ['fractional asn', withDoc('  - asn: 16509.5'), 'test.yaml:5: documented[0].asn: number 16509.5 is not an AS number 1-4294967295 (like 16509 or "AS16509")'],
    ['empty asn list', withDoc('  - asn: []'), 'test.yaml:5: documented[0].asn: empty list; list at least one AS number'],
    [
      'asn mapping',
      withDoc('  - asn: {number: 16509}'),
      'test.yaml:5: documented[0].asn: expected an AS number (like 16509 or "AS16509") or a list of them, found a mapping',
    ],
    [
      'ports on an icmp AS entry',
      withDoc('  - asn: 16509', '    proto: icmp', '    ports: [8]'),
      'test.yaml:7: documented[0].ports: proto icmp has no ports; remove ports or change proto',
    ],
    [
      'unknown entry key',
      withDoc('  - domain: a.example.com', '    port: 443'),
      'test.yaml:6: documented[0]: unknown key "port" (expected one of: domain, cidr, asn, proto, ports, note); did you mean "ports"?',
    ],
    [
      'domain with an empty label',
      withDoc('  - domain: a..example.com'),
      'test.yaml:5: documented[0].domain: "a..example.com" has an empty label (two dots in a row, or a leading dot)',
    ],
    [
      'domain that is an address',
      withDoc('  - domain: 192.0.2.1'),
      'test.yaml:5: documented[0].domain: "192.0.2.1" is an IP address; use cidr for addresses',
    ],
    [
      'wildcard in the middle',
      withDoc("  - domain: 'api.*.example.com'"),
      'test.yaml:5: documented[0].domain: "api.*.example.com" has a "*" that is not a whole first label (the wildcard form is "*.example.com")',
    ],
    [
      'label starting with a dash',
      withDoc('  - domain: -api.example.com'),
      'test.yaml:5: documented[0].domain: "-api.example.com" has an invalid label "-api" (letters, digits, "-" and "_", at most 63 characters, no "-" at either end)',
    ],
    ['domain not a string', withDoc('  - domain: 42'), 'test.yaml:5: documented[0].domain: expected a string, found number 42'],
    [
      'cidr out of range',
      withDoc('  - cidr: 10.0.0.256/8'),
      'test.yaml:5: documented[0].cidr: "10.0.0.256/8" is not an IPv4 or IPv6 address or network (expected e.g. 192.0.2.0/24 or 2001:db8::/32)',
    ],
    [
      'cidr with a zone id',
      withDoc("  - cidr: 'fe80::1%eth0'"),
      'test.yaml:5: documented[0].cidr: "fe80::1%eth0" is not an IPv4 or IPv6 address or network (expected e.g. 192.0.2.0/24 or 2001:db8::/32)',
    ],
    [
      'IPv4 prefix too long',
      withDoc('  - cidr: 10.0.0.0/33'),
      'test.yaml:5: documented[0].cidr: "10.0.0.0/33" has an invalid prefix length "/33" (expected 0-32 for IPv4)',
    ],
    [
      'IPv6 prefix too long',
      withDoc('  - cidr: 2001:db8::/129'),
      'test.yaml:5: documented[0].cidr: "2001:db8::/129" has an invalid prefix length "/129" (expected 0-128 for IPv6)',
    ],
    [
      'host bits set',
      withDoc('  - cidr: 10.1.2.3/8'),
      'test.yaml:5: documented[0].cidr: "10.1.2.3/8" has host bits set (the network is 10.0.0.0/8)',
    ],
    [
      'IPv6 host bits set',
      withDoc('  - cidr: 2001:db8::1/64'),
      'test.yaml:5: documented[0].cidr: "2001:db8::1/64" has host bits set (the network is 2001:db8::/64)',
    ],
    [
      'unknown proto',
      withDoc('  - domain: a.example.com', '    proto: tcpp'),
      'test.yaml:6: documented[0].proto: string "tcpp" is not tcp, udp, icmp, icmp6 or an IP protocol number 0-255',
    ],
    [
      'proto number too big',
      withDoc('  - domain: a.example.com', '    proto: 256'),
      'test.yaml:6: documented[0].proto: number 256 is not an IP protocol number 0-255',
    ],
    [
      'proto list',
      withDoc('  - domain: a.example.com', '    proto: [tcp, udp]'),
      'test.yaml:6: documented[0].proto: expected tcp, udp, icmp, icmp6 or an IP protocol number 0-255, found a list',
    ],
    [
      'port zero',
      withDoc('  - domain: a.example.com', '    ports: 0'),
      'test.yaml:6: documented[0].ports: number 0 is not a port number 1-65535',
    ],
    [
      'port too big in a list',
      withDoc('  - domain: a.example.com', '    ports:', '      - 443', '      - 65536'),
      'test.yaml:8: documented[0].ports[1]: number 65536 is not a port number 1-65535',
    ],
    [
      'port name',
      withDoc('  - domain: a.example.com', '    ports: [80, http]'),
      'test.yaml:6: documented[0].ports[1]: string "http" is not a port number 1-65535 or a range "low-high"',
    ],
    [
      'port range too wide',
      withDoc('  - domain: a.example.com', "    ports: '1-2000'"),
      'test.yaml:6: documented[0].ports: string "1-2000" spans 2000 ports, more than the 1024 a range may cover (omit ports to allow any port)',
    ],
    [
      'port range reversed',
      withDoc('  - domain: a.example.com', "    ports: '10-5'"),
      'test.yaml:6: documented[0].ports: string "10-5" is a range whose start is after its end (10-5)',
    ],
    [
      'port range beyond 65535',
      withDoc('  - domain: a.example.com', "    ports: '65000-65536'"),
      'test.yaml:6: documented[0].ports: string "65000-65536" is a range whose ends are not both port numbers 1-65535',
    ],
    [
      'fractional port',
      withDoc('  - domain: a.example.com', '    ports: 80.5'),
      'test.yaml:6: documented[0].ports: number 80.5 is not a port number 1-65535',
    ],
    [
      'empty ports',
      withDoc('  - domain: a.example.com', '    ports: []'),
      'test.yaml:6: documented[0].ports: empty list; omit ports to allow any port',
    ],
    [
      'ports on icmp',
      withDoc('  - domain: a.example.com', '    proto: icmp', '    ports: [8]'),
      'test.yaml:7: documented[0].ports: proto icmp has no ports; remove ports or change proto',
    ],
    [
      'note not a string',
      withDoc('  - domain: a.example.com', '    note: [a]'),
      'test.yaml:6: documented[0].note: expected a string, found a list',
    ],
    [
      'non-string key',
      y('profile: x', 'match: {vendor: X}', 'documented: []', '? [a]', ': b'),
      'test.yaml:4: top level: keys must be plain names, found a list',
    ],
    [
      'unquoted wildcard domain',
      withDoc('  - domain: a.example.com', '  - domain: *.example.com'),
      "test.yaml:6: alias *.example.com refers to no anchor; quote wildcard domains ('*.example.com')",
    ],
    [
      'duplicate key',
      y('profile: x', 'match: {vendor: X}', 'profile: y', 'documented: []'),
      'test.yaml:3: YAML syntax error: Map keys must be unique',
    ],
  ];
  for (const [name, text, message] of cases) {
    it(name, () => {
      const e = parseError(text);
      expect(e.message).toBe(message);
      expect(e.code).toBe('PROFILE_INVALID');
      expect(e.file).toBe(F);
      expect(e.line).toBe(Number(/^test\.yaml:(\d+):/.exec(message)?.[1]));
      expect(`${e.file}:${e.line}: ${e.detail}`).toBe(message);
      expect(e.message).not.toContain('\n');
    });
  }

  it('reports YAML syntax errors on one line with their line number', () => {
    const e = parseError(y('profile: x', 'match: {vendor: X', 'documented: []'));
    expect(e.code).toBe('PROFILE_INVALID');
    expect(e.message).toMatch(/^test\.yaml:\d+: YAML syntax error: /);
    expect(e.message).not.toContain('\n');
    const two = parseError(y('profile: x', '---', 'profile: y'));
    expect(two.message).toMatch(/^test\.yaml:2: YAML syntax error: .*multiple documents/);
  });

  it('the broken fixtures each report their one problem', () => {
    const expected: Record<string, string> = {
      'bad-cidr.yaml':
        'bad-cidr.yaml:7: documented[1].cidr: "10.0.0.300/8" is not an IPv4 or IPv6 address or network (expected e.g. 192.0.2.0/24 or 2001:db8::/32)',
      'bad-port.yaml': 'bad-port.yaml:9: documented[0].ports[0]: number 70000 is not a port number 1-65535',
      'missing-profile.yaml': 'missing-profile.yaml:2: missing required key "profile" (the profile name)',
      'unknown-key.yaml':
        'unknown-key.yaml:8: documented[0]: unknown key "prot" (expected one of: domain, cidr, asn, proto, ports, note); did you mean "proto"?',
      'yaml-syntax.yaml':
        'yaml-syntax.yaml:5: YAML syntax error: Flow sequence in block collection must be sufficiently indented and end with a ]',
    };
    expect(readdirSync(BAD).sort()).toEqual(Object.keys(expected).sort());
    for (const [name, message] of Object.entries(expected)) {
      const e = errorOf(() => parseProfileYaml(readFileSync(join(BAD, name), 'utf8'), name));
      expect(e.message).toBe(message);
    }
  });
});

describe('parseProfileYaml: hostile YAML fails fast (aliases bounded, keys checked in linear time)', () => {
  const ports = (n: number) => withDoc('  - domain: a.example.com', '    ports:', '      - &p 443', ...Array.from({ length: n }, () => '      - *p'));

  it('a profile whose aliases stand for up to MAX_ALIAS_EXPANSION nodes loads', () => {
    const p = parseProfileYaml(ports(MAX_ALIAS_EXPANSION), F);
    expect(p.documented[0].ports).toEqual([443]);
  });

  it('20,000 aliases fail at once with the file and the line of the alias past the bound', () => {
    const started = Date.now();
    const e = parseError(ports(20_000));
    expect(e.code).toBe('PROFILE_INVALID');
    // the first alias is on line 8: the 10,001st, past the bound, on line 8 + 10,000
    expect(e.message).toBe(`test.yaml:${8 + MAX_ALIAS_EXPANSION}: YAML aliases stand for more than ${MAX_ALIAS_EXPANSION} nodes; a profile needs few aliases (write the entries out)`);
    expect(Date.now() - started).toBeLessThan(5_000); // a sanity bound only: it takes a fraction of a second
  });

  it('an alias of a list counts every item in it: 150 uses of 100 ports are refused', () => {
    const list = Array.from({ length: 100 }, (_, i) => 1000 + i).join(', ');
    const entries = Array.from({ length: 150 }, (_, i) => [`  - domain: h${i}.example.com`, `    ports: ${i === 0 ? `&many [${list}]` : '*many'}`]).flat();
    const e = parseError(withDoc(...entries));
    expect(e.message).toMatch(/^test\.yaml:\d+: YAML aliases stand for more than 10000 nodes/);
    expect(parseProfileYaml(withDoc(...entries.slice(0, 2 * 90)), F).documented).toHaveLength(90);
  });

  it('an alias inside the node it names is refused', () => {
    expect(parseError(withDoc('  - domain: a.example.com', '    ports: &p [80, *p]')).message).toBe('test.yaml:6: alias *p refers to a node that contains it');
  });

  it('a mapping of 40,000 keys is refused at its first unknown key, without comparing every key with every other', () => {
    const keys = Array.from({ length: 40_000 }, (_, i) => `    k${i}: 1`);
    const started = Date.now();
    expect(parseError(withDoc('  - domain: a.example.com', ...keys, '    domain: b.example.com')).message).toBe(
      'test.yaml:6: documented[0]: unknown key "k0" (expected one of: domain, cidr, asn, proto, ports, note)',
    );
    expect(parseError(withDoc('  - domain: a.example.com', '    proto: tcp', '    domain: b.example.com')).message).toBe('test.yaml:7: YAML syntax error: Map keys must be unique');
    expect(Date.now() - started).toBeLessThan(5_000); // a sanity bound only
  });

  it('the CLI names the file in one line, exit 2', () => {
    const dir = mkdtempSync(join(tmpdir(), 'phonehome-aliases-'));
    writeFileSync(join(dir, 'many.yaml'), ports(20_000));
    const r = phonehome(['profiles', 'check', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`phonehome: ${join(dir, 'many.yaml')}:${8 + MAX_ALIAS_EXPANSION}: YAML aliases stand for more than ${MAX_ALIAS_EXPANSION} nodes; a profile needs few aliases (write the entries out)\n`);
  });
});

describe('profileToYaml', () => {
  const sample: DeviceProfile = {
    profile: 'sample',
    description: 'quotes " and colons: here, # not a comment',
    match: { mac: ['aa:bb:cc:dd:ee:ff'], oui: ['00:17:88', '70:b3:d5:1'], vendor: 'yes' },
    'mud-url': 'https://example.com/mud/sample.json',
    documented: [
      { domain: '*.example.com', proto: 'tcp', ports: [443, 8000, 8001, 8002, 8003, 8443] },
      { cidr: '2001:db8::/32' },
      { cidr: '10.0.0.0/8', proto: '47', note: 'true' },
      { domain: '123.example', proto: 'icmp', note: '' },
      { asn: [16509], proto: 'tcp', ports: [443] },
      { asn: [14618, 16509], note: 'Amazon' },
    ],
  };

  it('writes readable YAML that parses back to the same profile', () => {
    const text = profileToYaml(sample);
    expect(text).toContain('ports: [ 443, 8000-8003, 8443 ]');
    expect(text).not.toContain('source');
    expect(parseProfileYaml(text, 'again.yaml')).toEqual({ ...sample, source: 'again.yaml' });
  });

  it('writes one AS as a number and several as a list', () => {
    const text = profileToYaml(sample);
    expect(text).toContain('  - asn: 16509\n');
    expect(text).toContain('  - asn: [ 14618, 16509 ]\n');
  });

  it('cuts a run of ports longer than a range may be into ranges that read back', () => {
    const ports = Array.from({ length: 3000 }, (_, i) => 1000 + i);
    const p: DeviceProfile = { profile: 'wide', match: { vendor: 'x' }, documented: [{ domain: 'a.example.com', proto: 'tcp', ports }] };
    const text = profileToYaml(p);
    expect(text).toContain("ports: [ 1000-2023, 2024-3047, 3048-3999 ]");
    expect(parseProfileYaml(text, F).documented[0].ports).toEqual(ports);
  });

  it('prefixes every header line with "# "', () => {
    const text = profileToYaml(sample, 'Generated from sample.json\n\nEdit freely.\n');
    expect(text.split('\n').slice(0, 4)).toEqual(['# Generated from sample.json', '#', '# Edit freely.', 'profile: sample']);
    expect(parseProfileYaml(text, F)).toEqual({ ...sample, source: F });
  });

  it('writes control characters in notes (names seen on the wire) as escapes that read back to them', () => {
    const note = 'carried "cam\x1b]0;owned\x07\x1b[2J\u009b31m\x7f\u202e\u2028ÿþ"';
    const p: DeviceProfile = { profile: 'x', description: 'bell\x07', match: { vendor: 'x' }, documented: [{ cidr: '192.0.2.1', note }] };
    const text = profileToYaml(p, 'from a\x1b[2J\rprofile: injected\u009b');
    expect(text).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f\u202e\u2028]/);
    expect(text).toContain('\\e]0;owned\\a\\e[2J\\u009b31m\\u007f\\u202e\\u2028ÿþ');
    expect(text.split('\n')[0]).toBe('# from a\\x1b[2J\\x0dprofile: injected\\u009b');
    expect(parseProfileYaml(text, F)).toEqual({ ...p, source: F });
  });

  it('round-trips every profile in rules/devices', () => {
    for (const p of loadProfiles(RULES).profiles) {
      const { source, ...rest } = p;
      expect(parseProfileYaml(profileToYaml(p, `from ${source}`), 'rt.yaml')).toEqual({ ...rest, source: 'rt.yaml' });
    }
  });
});

describe('the validator never crashes', () => {
  const words = fc.constantFrom(
    'profile', 'description', 'match', 'mac', 'oui', 'vendor', 'mud-url', 'documented',
    'domain', 'cidr', 'asn', 'proto', 'ports', 'note', 'source', 'x',
  );
  const scalar = fc.oneof(
    fc.string({ maxLength: 12 }),
    fc.integer({ min: -5, max: 70000 }),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.constantFrom(
      'tcp', 'udp', 'icmp', '17', '8000-8010', '1-99999', 'aa:bb:cc', 'AA-BB-CC-DD-EE-FF', 'aa:bb:cc:d',
      '10.0.0.0/8', '10.0.0.1/8', '2001:db8::/32', '::ffff:1.2.3.4', '*.example.com', 'a..b', 'x',
      'https://x.example/m', 'http://x', '', '-',
    ),
  );
  const { value } = fc.letrec((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      scalar,
      fc.array(tie('value'), { maxLength: 4 }),
      fc.dictionary(words, tie('value'), { maxKeys: 4 }),
    ),
  }));
  const dest = fc.dictionary(fc.constantFrom('domain', 'cidr', 'asn', 'proto', 'ports', 'note', 'port'), value, { maxKeys: 4 });
  const profileish = fc.record(
    {
      profile: fc.oneof(fc.constantFrom('lamp', 'Lamp-2', 'bad name'), value),
      description: value,
      match: fc.oneof(fc.dictionary(fc.constantFrom('mac', 'oui', 'vendor', 'ouis'), value, { maxKeys: 3 }), value),
      'mud-url': value,
      documented: fc.oneof(fc.array(dest, { maxLength: 4 }), value),
    },
    { requiredKeys: [] },
  );

  const check = (text: string) => {
    let p: DeviceProfile;
    try {
      p = parseProfileYaml(text, F);
    } catch (e) {
      expect(e).toBeInstanceOf(ProfileError);
      const pe = e as ProfileError;
      expect(pe.code).toBe('PROFILE_INVALID');
      expect(pe.message.startsWith(`${F}:`)).toBe(true);
      expect(pe.message).not.toContain('\n');
      return;
    }
    expect(typeof p.profile).toBe('string');
    expect(parseProfileYaml(profileToYaml(p), F)).toEqual(p);
  };

  it('random profile-shaped objects give a DeviceProfile or a ProfileError', () => {
    fc.assert(
      fc.property(profileish, (obj) => check(stringify(obj))),
      { numRuns: 2000 },
    );
  }, 30_000);

  // Mostly-valid values, so that the success path (and its round trip) is exercised too.
  const pick = <T,>(good: T[], badValues: unknown[]) => fc.oneof({ weight: 9, arbitrary: fc.constantFrom(...good) }, { weight: 1, arbitrary: fc.constantFrom(...badValues) });
  const nearValid = fc.record(
    {
      profile: pick(['lamp', 'Lamp-2.0', 'a_b'], ['bad name', '', 5]),
      description: pick(['a lamp', 'x: y # z', ''], [null, [1]]),
      match: fc.record(
        {
          mac: pick([['aa:bb:cc:dd:ee:ff'], 'AA-BB-CC-DD-EE-01', ['00:11:22:33:44:55', '00-11-22-33-44-56']], [[], ['aa:bb'], 'x']),
          oui: pick([['aa:bb:cc'], ['70:b3:d5:1', '70-B3-D5-12-3']], [['aa:bb:cc:dd:ee:ff'], [1]]),
          vendor: pick(['Philips', 'TP-LINK'], ['', 3]),
        },
        { requiredKeys: [] },
      ),
      'mud-url': pick(['https://example.com/mud.json'], ['http://example.com', 'x']),
      documented: fc.array(
        fc.record(
          {
            domain: pick(['a.example.com', '*.Example.COM.', 'gw', 'x_y.example'], ['a..b', '1.2.3.4', '*']),
            cidr: pick(['10.0.0.0/8', '2001:DB8::/32', '192.0.2.1', '::ffff:192.0.2.1', '::/0'], ['10.0.0.1/8', '1.2.3.4/33', 'x']),
            asn: pick([16509, 'AS3303', [14618, 16509], '4294967295'], [0, 'ASX', [], 4294967296]),
            proto: pick(['tcp', 'UDP', 6, '17', 47, 'icmp6'], ['tcpp', 256, -1]),
            ports: pick([443, [80, 443], '8000-8010', ['1-3', 5], '65535'], [0, [], '1-5000', 'http']),
            note: pick(['vendor docs', 'yes', '#x'], [1, null]),
          },
          { requiredKeys: [] },
        ),
        { maxLength: 4 },
      ),
    },
    { requiredKeys: [] },
  );

  it('near-valid profiles give a DeviceProfile (that round-trips) or a ProfileError', () => {
    let valid = 0;
    fc.assert(
      fc.property(nearValid, (obj) => {
        check(stringify(obj));
        try {
          parseProfileYaml(stringify(obj), F);
          valid++;
        } catch {
          // counted above
        }
      }),
      { numRuns: 2000 },
    );
    expect(valid).toBeGreaterThan(50);
  }, 30_000);

  it('random text gives a DeviceProfile or a ProfileError', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: fc.constantFrom('a', ':', '-', ' ', '\n', '[', ']', '{', '}', '&', '*', '!', "'", '"', '#', '?') })), check),
      { numRuns: 1000 },
    );
  }, 30_000);
});
