// Threat-intel feeds as files on disk: the three formats (plain lists, Zeek
// intel files, CSV with a header as abuse.ch exports them), what is skipped
// and what refuses a file, the lookups against an independent matcher
// (node:net BlockList, suffix tests written out here), a feed of a million
// lines, and reading a changed file again.
import { renameSync, writeFileSync } from 'node:fs';
import { BlockList } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { IntelFeeds } from '../../../sensor/enrich/intel.js';
import { IntelError } from '../../../sensor/errors.js';
import { tempDir } from '../../helpers/detection.js';
import { rng } from '../../helpers/scenarios.js';

const dir = tempDir('intel');
let n = 0;
function feed(name: string, text: string | Buffer): string {
  const f = join(dir, `${++n}-${name}`);
  writeFileSync(f, text);
  return f;
}

async function refused(file: string): Promise<IntelError> {
  const e = await IntelFeeds.load([file]).then(() => null, (x: unknown) => x);
  expect(e).toBeInstanceOf(IntelError);
  return e as IntelError;
}

describe('plain lists', () => {
  it('infers each line\'s type: address, network, domain, JA4; hosts-file lines list the name; comments and extra words are ignored', async () => {
    const f = feed('list.txt', [
      '# my blocklist', '', '185.220.101.7', '91.240.0.0/16 ; SBL 123', 'evil-updates.example   # c2', '*.wild.example', '.dot.example',
      '0.0.0.0 sinkholed.example', '2001:db8:aa::/48', '198.51.7.9:8443', 't13d1516h2_8daaf6152771_b0da82dd1658', 'http://45.9.8.7:37215/bins/mips',
      'ÉVIL.example', 'http://files.example/payload.sh',
    ].join('\n'));
    const i = await IntelFeeds.load([f]);
    expect(i.size).toBe(11);
    expect(i.address('185.220.101.7')).toMatchObject({ indicator: '185.220.101.7', type: 'addr', feed: f.split('/').pop() });
    expect(i.address('91.240.77.1')).toMatchObject({ indicator: '91.240.0.0/16', type: 'subnet' });
    expect(i.address('91.241.0.1')).toBeNull();
    expect(i.address('2001:db8:aa:ffff::1')).toMatchObject({ indicator: '2001:db8:aa::/48', type: 'subnet' });
    expect(i.address('198.51.7.9')).toMatchObject({ type: 'addr' });
    expect(i.address('45.9.8.7')).toMatchObject({ type: 'addr' });
    expect(i.ja4('T13D1516H2_8DAAF6152771_B0DA82DD1658')).toMatchObject({ type: 'ja4' });
    for (const name of ['evil-updates.example', 'x.y.evil-updates.example', 'EVIL-UPDATES.EXAMPLE.', 'wild.example', 'a.wild.example', 'dot.example', 'sinkholed.example', 'xn--vil-9la.example']) {
      expect(i.name(name)?.type, name).toBe('domain');
    }
    expect(i.name('cdn.evil-updates.example:443')).toMatchObject({ indicator: 'evil-updates.example' });
    // On a label boundary only.
    for (const name of ['notevil-updates.example', 'evil-updates.example.org', 'updates.example', 'example', 'files.example']) expect(i.name(name), name).toBeNull();
    expect(i.notes.join('\n')).toContain('indicators of kinds phonehome does not match on flows skipped: url 1');
  });

  it('skips malformed lines with a count and the first one named; a single label or a /0 is malformed, not a whole TLD or the Internet', async () => {
    const f = feed('some-bad.txt', ['1.2.3.4', 'com', '0.0.0.0/0', 'evil.example', '5.6.7.8', 'bad_-!', 'ok.example'].join('\n'));
    const i = await IntelFeeds.load([f]);
    expect(i.size).toBe(4);
    expect(i.name('x.com')).toBeNull();
    expect(i.address('9.9.9.9')).toBeNull();
    expect(i.notes).toEqual([`${f.split('/').pop()}: 3 malformed lines skipped (first: line 2: 'com' is not an IP address, network (CIDR), domain or JA4 fingerprint)`]);
  });

  it('the most specific of nested networks wins, and an exact address over its network; equals: the first feed given', async () => {
    const a = feed('a.txt', '10.0.0.0/8\n100.64.0.0/10\n100.64.5.0/24\n100.64.5.7\n');
    const b = feed('b.txt', '100.64.5.0/24\n100.64.0.0/16\n');
    const i = await IntelFeeds.load([a, b]);
    expect(i.address('100.64.5.7')).toMatchObject({ indicator: '100.64.5.7', feed: a.split('/').pop() });
    expect(i.address('100.64.5.8')).toMatchObject({ indicator: '100.64.5.0/24', feed: a.split('/').pop() });
    expect(i.address('100.64.9.1')).toMatchObject({ indicator: '100.64.0.0/16', feed: b.split('/').pop() });
    expect(i.address('100.100.0.1')).toMatchObject({ indicator: '100.64.0.0/10' });
  });
});

describe('Zeek intel files', () => {
  it('reads indicator, type, meta.source and meta.desc; other Intel types are counted and skipped', async () => {
    const f = feed('lab.intel', [
      '#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc\tmeta.url',
      '162.13.31.14\tIntel::ADDR\tlab-cti\tstaging C2\t-',
      '45.0.0.0/12\tIntel::SUBNET\tlab-cti\t-\t-',
      'meethue.example\tIntel::DOMAIN\t-\t-\t-',
      'http://45.9.8.7/x\tIntel::URL\tlab\t-\t-',
      'http://named.example/x\tIntel::URL\tlab\t-\t-',
      'd41d8cd98f00b204e9800998ecf8427e\tIntel::FILE_HASH\tlab\t-\t-',
      'bob@example.com\tIntel::EMAIL\tlab\t-\t-',
    ].join('\n'));
    const i = await IntelFeeds.load([f]);
    expect(i.address('162.13.31.14')).toMatchObject({ type: 'addr', origin: { source: 'lab-cti', description: 'staging C2' } });
    expect(i.address('45.15.255.255')).toMatchObject({ indicator: '45.0.0.0/12', origin: { source: 'lab-cti', description: null } });
    expect(i.name('a.meethue.example')).toMatchObject({ origin: { source: null, description: null } });
    expect(i.address('45.9.8.7')).toMatchObject({ type: 'addr' });
    expect(i.notes.join('\n')).toMatch(/skipped: url 1, Intel::FILE_HASH 1, Intel::EMAIL 1/);
  });

  it('refuses a #fields line without indicator and indicator_type, naming the line', async () => {
    const e = await refused(feed('no-type.intel', '#separator \\x09\n#fields\tindicator\tmeta.source\n1.2.3.4\tx\n'));
    expect([e.code, e.line]).toEqual(['INTEL_INVALID', 2]);
    expect(e.message).toContain('must name (tab-separated) the fields indicator and indicator_type');
  });

  it('a value that is not its declared type is malformed: an address typed Intel::DOMAIN, an unknown type', async () => {
    const f = feed('mixed.intel', '#fields\tindicator\tindicator_type\n1.2.3.4\tIntel::ADDR\n5.6.7.8\tIntel::ADDR\n9.9.9.9\tIntel::DOMAIN\nx.example\tDOMAIN\n');
    const i = await IntelFeeds.load([f]);
    expect(i.size).toBe(2);
    expect(i.notes[0]).toContain("2 malformed lines skipped (first: line 4: '9.9.9.9' is not a domain of two or more labels)");
  });
});

describe('CSV feeds', () => {
  it('Feodo Tracker: the header is the first line that is not a comment; dst_ip is the indicator, malware the description', async () => {
    const f = feed('ipblocklist.csv', [
      '################################################################', '# abuse.ch Feodo Tracker Botnet C2 IP Blocklist (CSV)          #', '#',
      '"first_seen_utc","dst_ip","dst_port","c2_status","last_online","malware"',
      '"2021-01-17 07:30:05","67.213.75.205","443","offline","2021-08-18","Dridex"',
      '"2021-01-17 07:44:46","51.178.161.32","4643","online","2021-08-18","QakBot"',
    ].join('\r\n'));
    const i = await IntelFeeds.load([f]);
    expect(i.size).toBe(2);
    expect(i.address('51.178.161.32')).toMatchObject({ type: 'addr', origin: { source: null, description: 'QakBot' } });
  });

  it('ThreatFox: the header is the last comment line, fields are quoted with a space after each comma, ioc_type types each row', async () => {
    const f = feed('threatfox.csv', [
      '# ThreatFox IOCs: recent additions - CSV format', '#',
      '# "first_seen_utc","ioc_id","ioc_value","ioc_type","threat_type","fk_malware","malware_alias","malware_printable","last_seen_utc","confidence_level","is_compromised","reference","tags","anonymous","reporter"',
      '"2026-07-21 05:35:20", "1854731", "157.20.182.81:425", "ip:port", "botnet_cc", "win.tofsee", "Gheg", "Tofsee", "", "75", "False", "", "Tofsee", "0", "abuse_ch"',
      '"2026-07-21 05:28:01", "1854730", "ewmc.jenslittlerugrats.example", "domain", "payload_delivery", "js.clearfake", "None", "ClearFake", "", "100", "False", "None", "", "0", "x"',
      '"2026-07-21 05:28:01", "1854729", "https://paste.example/raw/abc", "url", "payload_delivery", "js.clearfake", "None", "ClearFake", "", "100", "False", "None", "", "0", "x"',
      '"2026-07-21 05:28:01", "1854728", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "sha256_hash", "payload", "win.x", "None", "X", "", "100", "False", "None", "", "0", "x"',
    ].join('\n'));
    const i = await IntelFeeds.load([f]);
    expect(i.address('157.20.182.81')).toMatchObject({ indicator: '157.20.182.81', origin: { description: 'Tofsee' } });
    expect(i.name('ewmc.jenslittlerugrats.example')).toMatchObject({ origin: { description: 'ClearFake' } });
    expect(i.name('paste.example')).toBeNull();
    expect(i.notes.join('\n')).toContain('skipped: url 1, sha256_hash 1');
  });

  it('URLhaus: an unquoted commented header; a URL on an address lists the address, one on a named host is skipped', async () => {
    const f = feed('urlhaus.csv', [
      '# abuse.ch URLhaus Database Dump (CSV - recent URLs only)', '#', '# id,dateadded,url,url_status,last_online,threat,tags,urlhaus_link,reporter',
      '"3821497","2026-04-14 16:02:21","http://94.122.77.235:32794/Mozi.m","online","2026-04-14 16:02:21","malware_download","elf,Mozi","https://urlhaus.abuse.ch/url/3821497/","lrz"',
      '"3821496","2026-04-14 16:02:19","https://cdn.shared-host.example/payload","online","","malware_download","ClearFake","https://urlhaus.abuse.ch/url/3821496/","anon"',
    ].join('\n'));
    const i = await IntelFeeds.load([f]);
    expect(i.address('94.122.77.235')).toMatchObject({ type: 'addr', origin: { description: 'malware_download' } });
    expect(i.name('cdn.shared-host.example')).toBeNull();
    expect(i.size).toBe(1);
  });

  it('a source column names the source; columns are matched whatever their case', async () => {
    const i = await IntelFeeds.load([feed('mine.csv', 'Domain,Source,Description\nbad.example,partner-isac,phishing kit\n')]);
    expect(i.name('www.bad.example')).toMatchObject({ origin: { source: 'partner-isac', description: 'phishing kit' } });
  });

  it('refuses a CSV whose header names no indicator column, naming the line and the columns it knows', async () => {
    const e = await refused(feed('odd.csv', '# nothing useful\nwhen,what\n2024-01-01,1.2.3.4\n'));
    expect([e.code, e.line]).toEqual(['INTEL_INVALID', 2]);
    expect(e.message).toMatch(/naming its indicator column: one of ioc_value, indicator, .*dst_ip/);
  });

  it('a record with a quote left open, or too few fields, is malformed', async () => {
    const i = await IntelFeeds.load([feed('q.csv', 'ip,malware\n"1.2.3.4",x\n"5.6.7.8,y\n9.9.9.9,z\n4.4.4.4,w\n')]);
    expect(i.size).toBe(3);
    expect(i.notes[0]).toContain('1 malformed line skipped (first: line 3: a CSV record (a quote is left open))');
  });
});

describe('files that are not feeds', () => {
  it('a missing file is INTEL_IO, naming it', async () => {
    const e = await refused(join(dir, 'nope.txt'));
    expect(e.code).toBe('INTEL_IO');
    expect(e.message).toBe(`${join(dir, 'nope.txt')}: cannot be read (ENOENT)`);
  });

  it('binary data (a gzip file, a capture) is refused with its line', async () => {
    const e = await refused(feed('feed.txt.gz', Buffer.concat([Buffer.from('1.2.3.4\n5.6.7.8\n'), Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x00])])));
    expect([e.code, e.line]).toEqual(['INTEL_INVALID', 3]);
    expect(e.message).toContain('binary data (a NUL byte): not a text feed');
  });

  it('more malformed lines than indicators: refused, naming the first malformed line and what was expected', async () => {
    const e = await refused(feed('prose.txt', 'Dear user\nhere is the list you asked for\n1.2.3.4\nregards\n'));
    expect([e.code, e.line]).toEqual(['INTEL_INVALID', 1]);
    expect(e.message).toContain("'Dear' is not an IP address, network (CIDR), domain or JA4 fingerprint (read as a plain feed); 3 of 4 indicator lines are malformed");
  });

  it('an empty feed (a list of online C2s can be empty) loads, with a note', async () => {
    const f = feed('empty.txt', '# nothing online today\n');
    const i = await IntelFeeds.load([f]);
    expect(i.size).toBe(0);
    expect(i.notes).toEqual([`${f.split('/').pop()}: no indicator phonehome can match (read as a plain feed)`]);
  });

  it('an over-long line is malformed, not held', async () => {
    const i = await IntelFeeds.load([feed('long.txt', `1.2.3.4\n${'a'.repeat(200_000)}.example\n5.6.7.8\n`)]);
    expect(i.size).toBe(2);
    expect(i.notes[0]).toContain('line 2: a line of at most 65536 bytes');
  });
});

describe('lookups against an independent matcher', () => {
  it('random nested IPv4 networks and addresses: the narrowest holding network, as integer ranges written out here say', async () => {
    const r = rng(1313);
    const byte = () => Math.floor(r() * 256);
    const nets: [string, number][] = [];
    for (let k = 0; k < 2000; k++) {
      // Few first octets, so networks nest and overlap often.
      const len = 8 + Math.floor(r() * 25);
      nets.push([`${[45, 91, 185][k % 3]}.${byte()}.${byte()}.${byte()}`, len]);
    }
    const i = await IntelFeeds.load([feed('nets.txt', nets.map(([a, l]) => `${a}/${l}`).join('\n'))]);
    const num = (ip: string) => ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);
    const ranges = nets.map(([a, l]) => {
      const size = 2 ** (32 - l);
      const start = Math.floor(num(a) / size) * size;
      return [start, start + size - 1, l] as const;
    });
    let hits = 0;
    for (let k = 0; k < 20_000; k++) {
      const ip = `${[45, 91, 185, 186][k % 4]}.${byte()}.${byte()}.${byte()}`;
      const v = num(ip);
      const holding = ranges.filter(([s, e]) => s <= v && v <= e).map(([, , l]) => l);
      const want = holding.length ? Math.max(...holding) : null;
      const got = i.address(ip);
      expect(got === null ? null : got.prefix, ip).toBe(want);
      if (got) hits++;
    }
    expect(hits).toBeGreaterThan(2000);
    // and BlockList, node's own matcher, agrees on a sample
    for (const [a, l] of nets.slice(0, 50)) {
      const b = new BlockList();
      b.addSubnet(a, l);
      const ip = a;
      expect(b.check(ip)).toBe(true);
      expect(i.address(ip)!.prefix).toBeGreaterThanOrEqual(l);
    }
  }, 30_000);

  it('IPv6 networks and an IPv4-mapped address', async () => {
    const i = await IntelFeeds.load([feed('v6.txt', '2a02:d0c0::/29\n2a02:d0c7:1::/48\n::ffff:198.18.0.1\n2001:67c:2e8::2\n')]);
    expect(i.address('2a02:d0c7:1:2::9')).toMatchObject({ indicator: '2a02:d0c7:1::/48' });
    expect(i.address('2a02:d0c7:2::9')).toMatchObject({ indicator: '2a02:d0c0::/29' });
    expect(i.address('2a02:d0c8::1')).toBeNull();
    expect(i.address('198.18.0.1')).toMatchObject({ type: 'addr', indicator: '198.18.0.1' });
    expect(i.address('2001:67c:2e8:0:0:0:0:2')).toMatchObject({ indicator: '2001:67c:2e8::2' });
  });
});

describe('a feed of a million lines', () => {
  it('loads in seconds and bounded memory, and finds what it lists', async () => {
    const r = rng(7);
    const lines: string[] = [];
    for (let k = 0; k < 800_000; k++) lines.push(`${1 + Math.floor(r() * 222)}.${Math.floor(r() * 256)}.${Math.floor(r() * 256)}.${Math.floor(r() * 256)}`);
    for (let k = 0; k < 100_000; k++) lines.push(`${Math.floor(r() * 200) + 20}.${Math.floor(r() * 256)}.${Math.floor(r() * 256)}.0/24`);
    for (let k = 0; k < 100_000; k++) lines.push(`h${k}.bad${k % 997}.example`);
    const f = feed('big.txt', lines.join('\n'));
    global.gc?.();
    const before = process.memoryUsage().heapUsed;
    const t = Date.now();
    const i = await IntelFeeds.load([f]);
    const ms = Date.now() - t;
    const grew = process.memoryUsage().heapUsed - before;
    console.log(`1,000,000-line feed: ${ms} ms, heap +${Math.round(grew / 2 ** 20)} MiB, ${i.size} indicators`);
    expect(ms).toBeLessThan(30_000);
    expect(grew).toBeLessThan(400 * 2 ** 20);
    expect(i.size).toBeGreaterThan(900_000);
    for (const k of [0, 1234, 799_999]) expect(i.address(lines[k])?.type).toBe('addr');
    expect(i.name('x.h99999.bad99999.example')).toBeNull();
    expect(i.name('x.h99999.bad299.example')).toMatchObject({ indicator: 'h99999.bad299.example' });
  }, 60_000);
});

describe('reading a changed file again', () => {
  it('picks up a new version, keeps the old indicators when the new one is unusable, and rereads nothing unchanged', async () => {
    const f = feed('live.txt', '1.2.3.4\n');
    const i = await IntelFeeds.load([f]);
    expect(await i.refresh()).toEqual([]);
    const tmp = `${f}.tmp`;
    writeFileSync(tmp, '5.6.7.8\nnew.example\n');
    renameSync(tmp, f);
    expect(await i.refresh()).toEqual([{ file: f, ok: true, indicators: 2, notes: [] }]);
    expect([i.address('1.2.3.4'), i.address('5.6.7.8')?.indicator, i.name('new.example')?.type]).toEqual([null, '5.6.7.8', 'domain']);
    writeFileSync(f, Buffer.from([0x1f, 0x8b, 0, 0]));
    const [bad] = await i.refresh();
    expect(bad).toMatchObject({ file: f, ok: false });
    expect(!bad.ok && bad.error.code).toBe('INTEL_INVALID');
    expect(i.address('5.6.7.8')?.indicator).toBe('5.6.7.8');
    // The broken version is reported once, not on every check.
    expect(await i.refresh()).toEqual([]);
  });
});
