// loadAnalysis: what an analysis is configured with, and that every
// configuration mistake surfaces before a packet is read.
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { parse } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG_FILE, loadDetectionConfig } from '../../../sensor/detect/config.js';
import { ConfigError, GeoIpError, ProfileError } from '../../../sensor/errors.js';
import { Pipeline } from '../../../sensor/pipeline/pipeline.js';
import { loadAnalysis } from '../../../sensor/pipeline/setup.js';
import { DEFAULT_PROFILES_DIR } from '../../../sensor/util/paths.js';
import { analyze } from '../../../sensor/run/analyze.js';
import { type Endpoint } from '../../helpers/build.js';
import { FIXTURES, fixture } from '../../helpers/corpus.js';
import { alertsOf, capture, COUNTRY_DB, detectionsFile, runPipeline, tempDir } from '../../helpers/detection.js';
import { ROOT } from '../../helpers/repo.js';
import { ROUTER, Scenario } from '../../helpers/scenarios.js';

const T0 = 1_700_000_000;
const HUE = '00:17:88:24:76:ff';
const traveller: Endpoint = { mac: '02:5e:00:00:00:01', ip: '192.168.77.161', port: 49000 };
const SWEDEN: Endpoint = { mac: ROUTER.mac, ip: '89.160.20.115', port: 443 };
const CHINA: Endpoint = { mac: ROUTER.mac, ip: '111.235.160.9', port: 443 };

let file = '';
let watchingCnRu = '';

beforeAll(async () => {
  const s = new Scenario(T0, 600);
  await s.background(['HueBridge'], [0]);
  s.tls(T0 + 10, traveller, SWEDEN, null);
  s.tls(T0 + 20, { ...traveller, port: traveller.port + 1 }, CHINA, null);
  file = capture(s);
  watchingCnRu = detectionsFile((doc) => (doc.watch = { countries: ['CN', 'RU'], asns: [29518], networks: ['45.33.0.0/16'] }));
}, 60_000);

/** A stream that records whether anyone read from it. */
function spyStream(): { stream: Readable; read: () => boolean } {
  let read = false;
  const stream = new Readable({
    read() {
      read = true;
      this.push(null);
    },
  });
  return { stream, read: () => read };
}

describe('loadAnalysis', () => {
  it('reads the shipped rules/detections.yaml by default, and the file it is given otherwise', async () => {
    expect(DEFAULT_CONFIG_FILE).toBe(join(ROOT, 'rules', 'detections.yaml'));
    const shipped = parse(readFileSync(DEFAULT_CONFIG_FILE, 'utf8'));
    const byDefault = await loadAnalysis({ profilesDir: null });
    expect(byDefault.config.watchCountries).toEqual(shipped.watch.countries);
    expect(byDefault.config.suppressionWindowS).toBe(shipped.suppression_window_s);
    expect(byDefault.config).toEqual(loadDetectionConfig(DEFAULT_CONFIG_FILE));
    const given = await loadAnalysis({ profilesDir: null, detectionsFile: watchingCnRu });
    expect(given.config).toMatchObject({ watchCountries: ['CN', 'RU'], watchAsns: [29518], watchNetworks: ['45.33.0.0/16'] });
  });

  it('replaces the file\'s watched countries with watchCountries, keeping its other watch lists; geo-callback follows', async () => {
    const setup = await loadAnalysis({ profilesDir: null, detectionsFile: watchingCnRu, watchCountries: ['SE'] });
    expect(setup.config).toMatchObject({ watchCountries: ['SE'], watchAsns: [29518], watchNetworks: ['45.33.0.0/16'] });
    // Behaviour: with only its countries watched and the AS emptied, the file flags China; the override flags Sweden instead.
    const onlyCountries = detectionsFile((doc) => (doc.watch = { countries: ['CN', 'RU'], asns: [], networks: [] }));
    const opts = { profilesDir: null, geoip: [COUNTRY_DB], detectionsFile: onlyCountries };
    const fromFile = alertsOf((await runPipeline([file], opts)).alerts, 'geo-callback', traveller.mac);
    const replaced = alertsOf((await runPipeline([file], { ...opts, watchCountries: ['SE'] })).alerts, 'geo-callback', traveller.mac);
    expect(fromFile.map((a) => [a.destination?.ip, a.destination?.country])).toEqual([[CHINA.ip, 'CN']]);
    expect(replaced.map((a) => [a.destination?.ip, a.destination?.country])).toEqual([[SWEDEN.ip, 'SE']]);
  });

  it('loads the shipped profiles from rules/devices by default', async () => {
    expect(DEFAULT_PROFILES_DIR).toBe(join(ROOT, 'rules', 'devices'));
    const files = readdirSync(DEFAULT_PROFILES_DIR).filter((f) => /\.(ya?ml|json)$/i.test(f)).sort();
    const yamlNames = files.filter((f) => /\.ya?ml$/i.test(f)).map((f) => parse(readFileSync(join(DEFAULT_PROFILES_DIR, f), 'utf8')).profile as string);
    const setup = await loadAnalysis({});
    expect(setup.profiles).toHaveLength(files.length);
    expect(setup.profiles.filter((p) => /\.ya?ml$/i.test(p.source ?? '')).map((p) => p.profile)).toEqual(yamlNames);
    expect(yamlNames).toContain('philips-hue-bridge');
    // The shipped Hue profile covers the real Hue bridge: it is not an unprofiled device.
    const r = await runPipeline([file], { geoip: [COUNTRY_DB] });
    expect(alertsOf(r.alerts, 'unprofiled-device', HUE)).toEqual([]);
  });

  it('loads no profiles when profilesDir is null: every device talking to the Internet is unprofiled', async () => {
    expect((await loadAnalysis({ profilesDir: null })).profiles).toEqual([]);
    const r = await runPipeline([file], { profilesDir: null, geoip: [COUNTRY_DB] });
    expect(alertsOf(r.alerts, 'unprofiled-device', HUE)).toHaveLength(1);
    expect(alertsOf(r.alerts, 'unprofiled-device', traveller.mac)).toHaveLength(1);
  });

  it('throws GeoIpError for a bad --geoip file before anything is read', async () => {
    const missing = '/nonexistent/GeoLite2-Country.mmdb';
    await expect(loadAnalysis({ geoip: [missing] })).rejects.toThrow(GeoIpError);
    // a capture is not a database either
    await expect(loadAnalysis({ geoip: [fixture('Withings')] })).rejects.toThrow(/not a readable MaxMind DB file/);
    let heard = 0;
    await expect(Pipeline.create({ geoip: [missing] }, { flow: () => heard++, alert: () => heard++ })).rejects.toThrow(GeoIpError);
    // analyze() fails the same way without reading its input or creating its output folder
    const spy = spyStream();
    const out = join(tempDir('never'), 'out');
    await expect(analyze(['-'], { stdin: spy.stream, outDir: out, geoip: [missing] })).rejects.toThrow(GeoIpError);
    expect(spy.read()).toBe(false);
    expect(existsSync(out)).toBe(false);
    expect(heard).toBe(0);
    // while with a good setup the same (empty) input is read, and found not to be a capture
    const control = spyStream();
    await expect(analyze(['-'], { stdin: control.stream, profilesDir: null })).rejects.toThrow(/capture|empty/i);
    expect(control.read()).toBe(true);
  });

  it('throws ConfigError and ProfileError the same way, before anything is read', async () => {
    const bad = detectionsFile((doc) => (doc.suppression_window_s = -1));
    await expect(loadAnalysis({ detectionsFile: bad })).rejects.toThrow(ConfigError);
    await expect(loadAnalysis({ profilesDir: join(FIXTURES, 'profiles-bad') })).rejects.toThrow(ProfileError);
    const spy = spyStream();
    await expect(analyze(['-'], { stdin: spy.stream, profilesDir: join(FIXTURES, 'profiles-bad') })).rejects.toThrow(ProfileError);
    expect(spy.read()).toBe(false);
  });
});
