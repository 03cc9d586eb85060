// Names a device sends are hostile: a DHCP host name, a DNS query name, a TLS
// server name, an HTTP Host and User-Agent holding ESC sequences (retitle,
// clear screen), BEL, the one-byte C1 CSI (0x9b), DEL and bytes that are not
// UTF-8 go through `analyze` (text summary, --json, every file of --out), the
// profile learner (`profiles suggest`) and back. No raw control character
// reaches a terminal or a YAML file, and every name is still there, escaped;
// the JSON outputs read back to the very strings the device sent.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { DeviceRecord, FlowRecord } from '../../../contract/types.js';
import { packet, tcpSession, udpFrame, type Endpoint } from '../../helpers/build.js';
import { phonehome, type CliRun } from '../../helpers/cli.js';
import { capture, profilesDir, tempDir } from '../../helpers/detection.js';
import { jsonl } from '../../helpers/learning.js';
import { ROUTER } from '../../helpers/scenarios.js';
import { ascii, clientHello, dhcp4, dhcpOption, dnsHeader, dnsName, ptr, question, rr } from '../protocols/build.js';

/** Raw bytes as a capture carries them (phonehome reads names byte for byte, as Latin-1). */
const wire = (s: string) => Buffer.from(s, 'latin1').toString('latin1');

// ESC ] 0 ; title BEL retitles the window, ESC [ 2 J clears it; 0x9b is CSI in one byte, and
// c2 9b its UTF-8 form; ff fe is no UTF-8 at all.
const HOST = wire('\x1b]0;owned\x07\x1b[2Jcam\x9b31m\x7f\xff\xfe');
const VENDOR_CLASS = wire('udhcp\x1b[5m\x9b2J');
const DNS_LABEL = wire('evil\x1b[2J\xc2\x9b\x7f');
const SNI = wire('tls\x1b]0;owned\x07\x9b1m.example');
const HTTP_HOST = wire('web\x1b[2J\x9b\x7f.example');
const USER_AGENT = wire('agent\x1b]2;pwned\x07\x9b\xff');

const DEV: Endpoint = { mac: '00:17:88:0a:0b:0c', ip: '192.168.77.50', port: 40001 };
const RESOLVED = '93.184.216.34';
const TLS_SERVER: Endpoint = { mac: ROUTER.mac, ip: '151.101.1.69', port: 443 };
const WEB_SERVER: Endpoint = { mac: ROUTER.mac, ip: '151.101.65.69', port: 80 };

/** Any character a terminal acts on (C0 but the line feed, DEL, C1) or that is no text (a lone surrogate). */
const RAW_CONTROL = /[\x00-\x09\x0b-\x1f\x7f-\x9f]|[\ud800-\udfff]/u;

function hostileCapture(): string {
  const dhcp = dhcp4({ mac: [0x00, 0x17, 0x88, 0x0a, 0x0b, 0x0c], options: [...dhcpOption(53, [3]), ...dhcpOption(12, ascii(HOST)), ...dhcpOption(60, ascii(VENDOR_CLASS)), 255] });
  const dnsQuery = `${DNS_LABEL}.example`;
  const dns = [...dnsHeader(9, 0x8180, 1, 1, 0, 0), ...question(dnsName(dnsQuery), 1), ...rr(ptr(12), 1, 300, RESOLVED.split('.').map(Number))];
  const http = Buffer.from(`GET / HTTP/1.1\r\nHost: ${HTTP_HOST}\r\nUser-Agent: ${USER_AGENT}\r\n\r\n`, 'latin1');
  return capture([
    packet(1000, udpFrame({ ...DEV, ip: '0.0.0.0', port: 68 }, { mac: 'ff:ff:ff:ff:ff:ff', ip: '255.255.255.255', port: 67 }, Buffer.from(dhcp))),
    packet(1001, udpFrame(ROUTER, { ...DEV, port: 5353 }, Buffer.from(dns))),
    ...tcpSession(1002, DEV, { mac: ROUTER.mac, ip: RESOLVED, port: 443 }),
    ...tcpSession(1003, { ...DEV, port: 40002 }, TLS_SERVER, Buffer.from(clientHello({ sni: SNI })), Buffer.alloc(300, 2)),
    ...tcpSession(1004, { ...DEV, port: 40003 }, WEB_SERVER, http, Buffer.from('HTTP/1.1 204 No Content\r\n\r\n')),
  ]);
}

/** How the text report writes a string: ESC as \x1b, C1 as \u009b. */
const escaped = (s: string) =>
  s.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`).replace(/[\x80-\x9f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

const expectInert = (what: string, text: string) => expect(RAW_CONTROL.exec(text), `${what} holds a raw control character`).toBeNull();

describe('hostile names from the wire', () => {
  let cap: string;
  let out: string;
  let text: CliRun;
  let json: CliRun;
  let drafts: string;
  let suggest: CliRun;
  beforeAll(() => {
    cap = hostileCapture();
    out = tempDir('out');
    // A profile for the device that documents nothing: every destination raises an alert naming it.
    const profiles = profilesDir({ 'cam.yaml': `profile: cam\nmatch:\n  mac: ["${DEV.mac}"]\ndocumented: []\n` });
    text = phonehome(['analyze', cap, '--profiles', profiles, '--out', out, '--evidence', join(out, 'evidence')]);
    json = phonehome(['analyze', cap, '--profiles', profiles, '--json']);
    drafts = tempDir('drafts');
    suggest = phonehome(['profiles', 'suggest', '--out', drafts, cap]);
  });

  it('the names reached the records exactly as the device sent them', () => {
    expect(text.code, text.stderr).toBe(0);
    const flows = jsonl<FlowRecord>(join(out, 'flows.jsonl'));
    expect(flows.map((f) => f.sni)).toContain(SNI);
    expect(flows.map((f) => f.http_host)).toContain(HTTP_HOST);
    expect(flows.map((f) => f.user_agent)).toContain(USER_AGENT);
    expect(flows.map((f) => f.dns_name)).toContain(`${DNS_LABEL}.example`);
    const devices = JSON.parse(readFileSync(join(out, 'devices.json'), 'utf8')) as DeviceRecord[];
    const cam = devices.find((d) => d.mac === DEV.mac)!;
    expect(cam.hostnames).toContain(HOST);
    expect(cam.dhcp_vendor_class).toBe(VENDOR_CLASS);
  });

  it('the text summary holds no raw control character, and shows every name escaped', () => {
    expectInert('stdout', text.stdout);
    expectInert('stderr', text.stderr);
    expect(text.stdout).toContain(escaped(HOST));
    expect(text.stdout).toContain('\\x1b]0;owned\\x07\\x1b[2Jcam\\u009b31m\\x7fÿþ');
    for (const name of [SNI, HTTP_HOST, `${DNS_LABEL}.example`]) expect(text.stdout).toContain(escaped(name));
  });

  it('--json prints the same values with DEL and C1 as \\u escapes', () => {
    expect(json.code, json.stderr).toBe(0);
    expectInert('--json', json.stdout);
    expect(json.stdout).toContain('\\u001b]0;owned\\u0007\\u001b[2Jcam\\u009b31m\\u007f');
    const parsed = JSON.parse(json.stdout) as { devices: DeviceRecord[] };
    expect(parsed.devices.find((d) => d.mac === DEV.mac)!.hostnames).toContain(HOST);
  });

  it('flows.jsonl and dns.jsonl, which are read with cat and grep, hold no raw DEL or C1', () => {
    for (const f of ['flows.jsonl', 'dns.jsonl']) {
      const body = readFileSync(join(out, f), 'utf8');
      expectInert(f, body);
      expect(body).toContain('\\u009b');
    }
  });

  it('profiles suggest writes drafts whose notes keep the names, escaped, and that read back to them', () => {
    expect(suggest.code, suggest.stderr).toBe(0);
    expectInert('suggest stdout', suggest.stdout);
    const files = readdirSync(drafts);
    expect(files).toHaveLength(1);
    const yaml = readFileSync(join(drafts, files[0]), 'utf8');
    expectInert('draft', yaml);
    const notes = (parse(yaml) as { documented: { note: string }[] }).documented.map((e) => e.note).join('\n');
    for (const name of [SNI, HTTP_HOST]) expect(notes).toContain(JSON.stringify(name));
    // The drafts document every flow: analysing with them raises no undocumented-destination alert.
    const again = phonehome(['analyze', cap, '--profiles', drafts, '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect((JSON.parse(again.stdout) as { alerts: { rule: string }[] }).alerts.filter((a) => a.rule === 'undocumented-destination')).toEqual([]);
  });
});
