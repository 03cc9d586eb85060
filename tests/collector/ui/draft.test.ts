// The draft profile of a device, from what the collector stored of real
// captures (a hostile device's, and corpus devices' when the corpus is
// there): YAML that the sensor's own profile loader accepts without a
// warning, that matches the device, and whose entries document exactly the
// device's Internet flows: every one of them, and no entry that documents
// none. Names that are not host names are never written as domains.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { draftProfile, hostName } from '../../../collector/ui/draft.js';
import type { StoredDevice, StoredFlow } from '../../../collector/store/store.js';
import { loadProfiles } from '../../../sensor/detect/profiles/load.js';
import { ProfileMatcher } from '../../../sensor/detect/profiles/match.js';
import { PROFILE_NAME_RE } from '../../../sensor/detect/profiles/values.js';
import { phonehome } from '../../helpers/cli.js';
import { api, SENSOR_TOKEN, startCollector, type RunningCollector } from '../../helpers/collector.js';
import { corpusDevices, FIXTURES } from '../../helpers/corpus.js';
import { HOSTILE, HOSTILE_DEVICE, HOSTILE_SERVER_IP, writeHostileCapture } from '../../helpers/hostile.js';

const tmp = mkdtempSync(join(tmpdir(), 'phonehome-draft-'));
/** Corpus devices whose captures reach several names (some under one registered domain), when the corpus is there. */
const CORPUS = corpusDevices().filter((d) => ['TP-LinkPlugHS110', 'HueBridge', 'WeMoInsightSwitch'].includes(d.name) && d.files.length && d.mac);

async function get<T>(c: RunningCollector, path: string): Promise<T> {
  const r = await api(c.url, path);
  expect(r.status, path).toBe(200);
  return (await r.json()) as T;
}

/** The draft written to a profiles folder and loaded by the sensor, with the device's flows. */
async function drafted(c: RunningCollector, mac: string) {
  const device = await get<StoredDevice>(c, `/api/v1/devices/${mac}`);
  const flows = (await get<{ items: StoredFlow[] }>(c, `/api/v1/flows?device=${mac}&limit=1000`)).items;
  const yaml = draftProfile(device);
  const dir = join(tmp, `profiles-${mac.replace(/:/g, '')}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'draft.yaml'), yaml);
  const loaded = loadProfiles(dir);
  return { device, flows, yaml, loaded };
}

describe('draftProfile', () => {
  let c: RunningCollector;

  beforeAll(async () => {
    writeHostileCapture(join(tmp, 'hostile.pcap'));
    c = await startCollector(`sqlite:${join(tmp, 'draft.db')}`);
    const inputs = [join(tmp, 'hostile.pcap'), ...CORPUS.map((d) => d.files[0])];
    for (const [i, input] of inputs.entries()) {
      const geoip = ['--geoip', join(FIXTURES, 'geoip', 'GeoLite2-Country-Test.mmdb')];
      const s = phonehome(['sensor', '--input', input, '--collector', c.url, '--token', SENSOR_TOKEN, '--spool', join(tmp, `spool-${i}`), '--once', '--name', 'lab', ...geoip, '--log-level', 'warn']);
      expect(s.code, `${input}: ${s.stderr}`).toBe(0);
    }
  }, 120_000);

  afterAll(async () => {
    if (c) expect(await c.stop()).toBe(0);
    rmSync(tmp, { recursive: true, force: true });
  });

  it("writes the profile format: a name, a description, the device's MAC, and one entry per destination or domain", async () => {
    const { yaml, loaded } = await drafted(c, HOSTILE_DEVICE.mac);
    const doc = parse(yaml) as Record<string, unknown>;
    expect(Object.keys(doc)).toEqual(['profile', 'description', 'match', 'documented']);
    expect(doc.profile).toMatch(PROFILE_NAME_RE);
    expect(doc.match).toEqual({ mac: [HOSTILE_DEVICE.mac] });
    expect(doc.documented).toEqual([{ cidr: HOSTILE_SERVER_IP, proto: 'tcp', ports: [80, 443, 8080], note: 'seen: 5 flows; check it is documented by the vendor' }]);
    expect(loaded.warnings).toEqual([]);
    expect(loaded.profiles).toHaveLength(1);
  });

  it('never writes a name that is not a host name as a domain', () => {
    for (const s of [HOSTILE.script, HOSTILE.img, HOSTILE.js, HOSTILE.svg, HOSTILE.bytes]) expect(hostName(s), s).toBeNull();
    // The long planted name is made of valid labels: long, but a host name.
    expect(hostName(HOSTILE.long)).toBe(HOSTILE.long.toLowerCase());
    expect(hostName(`${'a'.repeat(64)}.example.com`)).toBeNull();
    expect(hostName('*.example.com')).toBeNull();
    expect(hostName('192.0.2.1')).toBeNull();
    expect(hostName('Devs.TPLinkCloud.com.')).toBe('devs.tplinkcloud.com');
  });

  const devices = [{ name: 'hostile device', mac: HOSTILE_DEVICE.mac }, ...CORPUS.map((d) => ({ name: d.name, mac: d.mac }))];
  it.each(devices)('documents exactly the Internet flows of the $name, as the sensor matches them', async ({ mac }) => {
    const { device, flows, loaded } = await drafted(c, mac);
    expect(loaded.warnings).toEqual([]);
    const matcher = new ProfileMatcher(loaded.profiles);
    const profile = matcher.profileFor({ mac, ip: device.ips[0], vendor: device.vendor, mud_url: null } as Parameters<ProfileMatcher['profileFor']>[0]);
    expect(profile?.profile).toBe(loaded.profiles[0].profile);
    const internet = new Set(device.destinations.map((d) => d.ip));
    const toInternet = flows.filter((f) => internet.has(f.dst_ip));
    expect(toInternet.length, 'the device reached the Internet').toBeGreaterThan(0);
    const undocumented = toInternet.filter((f) => matcher.documents(profile!, f) === null).map((f) => `${f.proto} ${f.dst_ip}:${f.dst_port} ${f.sni ?? f.http_host ?? f.dns_name ?? ''}`);
    expect(undocumented).toEqual([]);
    const unused = profile!.documented.filter((_, i) => !toInternet.some((f) => matcher.entryDocuments(profile!, i, f)));
    expect(unused).toEqual([]);
  });
});
