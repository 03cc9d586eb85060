// Every IoT Sentinel device gets the brand its folder name says (the folder
// names are the ground truth), no module maker is shown as a brand, and the
// sensor/README.md's table of the sample corpus's devices is what phonehome says.
// Skips, saying why, when ../shared (the corpus) is not there.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { DeviceRecord } from '../../../contract/types.js';
import { MODULE_MAKERS } from '../../../sensor/devices/brand.js';
import { corpusAvailable, corpusDevices } from '../../helpers/corpus.js';
import { phonehomeView } from '../../helpers/phonehome.js';
import { ROOT } from '../../helpers/repo.js';

/** The maker each folder name says, and the brand names phonehome may give it. */
const GROUND_TRUTH: [RegExp, string, string[]][] = [
  [/^Aria$/, 'Fitbit', ['Fitbit']],
  [/^D-Link/, 'D-Link', ['D-Link']],
  [/^Edimax/, 'Edimax', ['Edimax']],
  // ednet is a brand of ASSMANN Electronic GmbH, whose IEEE prefix the cameras carry.
  [/^Ednet/, 'Ednet', ['ednet', 'ASSMANN']],
  [/^(HomeMatic|MAX)/, 'eQ-3', ['eQ-3']],
  [/^Hue/, 'Philips', ['Philips']],
  [/^Lightify$/, 'Osram', ['Osram']],
  [/^(SmarterCoffee|iKettle)/, 'Smarter', ['Smarter']],
  [/^TP-Link/, 'TP-Link', ['TP-Link']],
  [/^WeMo/, 'Belkin', ['Belkin']],
  [/^Withings$/, 'Withings', ['Withings']],
];

/**
 * Devices whose traffic does not name their maker at all: what phonehome
 * says instead, and why. `silent` must not occur in any of their evidence,
 * so that the day a capture does name the maker, this list has to go.
 */
const NOT_ON_THE_WIRE: Record<string, { brand: string | null; module: string; silent: RegExp; why: string }> = {
  SmarterCoffee: {
    brand: null, module: 'Espressif', silent: /smarter|ikettle|coffee/i,
    why: 'only its Espressif module shows: the ESP8266 SDK default host name ESP_<MAC digits>, Espressif\'s prefix, no cloud, no SSDP or mDNS',
  },
  iKettle2: {
    brand: null, module: 'Espressif', silent: /smarter|ikettle|kettle/i,
    why: 'only its Espressif module shows: the ESP8266 SDK default host name ESP_<MAC digits>, Espressif\'s prefix, no cloud, no SSDP or mDNS',
  },
  EdnetGateway: {
    brand: 'Icomen-based', module: 'High-Flying', silent: /ednet|assmann/i,
    why: 'white label: a High-Flying module\'s host name (HF-LPB100) and the Icomen platform\'s cloud; nothing names ednet',
  },
};

const makerOf = (folder: string) => GROUND_TRUTH.find(([re]) => re.test(folder));

/** Every string a device showed: names, vendor class, SSDP, User-Agents, destination names, OUI. */
const evidenceOf = (d: DeviceRecord): string[] =>
  [...d.hostnames, d.dhcp_vendor_class, d.ssdp_server, ...d.user_agents, ...d.destinations.map((x) => x.name), d.vendor].filter((s): s is string => !!s);

/** A README table row, as the section lists devices. */
const row = (folder: string, d: DeviceRecord): string => {
  const c = (v: string | null | undefined) => v ?? '–';
  return `| ${folder} | ${d.mac} | ${c(d.brand)} | ${c(d.model)} | ${c(d.brand_source)} | ${c(d.module_vendor)} |`;
};

describe.skipIf(!corpusAvailable())('brands of the corpus devices', () => {
  const devices = corpusDevices();
  const found = new Map<string, DeviceRecord>();
  const all = new Map<string, DeviceRecord[]>();

  beforeAll(async () => {
    for (const dev of devices) {
      // Everything in the folder, as `phonehome analyze <folder>` reads it.
      const view = await phonehomeView(dev.files);
      all.set(dev.name, view.devices);
      const d = view.devices.find((x) => x.mac === dev.mac);
      if (d) found.set(dev.name, d);
    }
  }, 300_000);

  it('every folder has a ground truth here (a new device needs one)', () => {
    expect(devices.length).toBeGreaterThanOrEqual(31);
    expect(devices.filter((d) => !makerOf(d.name)).map((d) => d.name)).toEqual([]);
  });

  for (const dev of devices) {
    it(`${dev.name}: the brand its folder says, or what the wire says instead`, () => {
      const d = found.get(dev.name);
      expect(d, `${dev.mac} not inventoried`).toBeDefined();
      const [, maker, names] = makerOf(dev.name)!;
      const exception = NOT_ON_THE_WIRE[dev.name];
      if (exception) {
        for (const s of evidenceOf(d!)) expect(s, `${dev.name} names its maker after all (${exception.why})`).not.toMatch(exception.silent);
        expect(d!.brand, exception.why).toBe(exception.brand);
        expect(d!.module_vendor, exception.why).toBe(exception.module);
      } else {
        expect(names, `${dev.name} is a ${maker} device; phonehome says ${d!.brand} (from ${d!.brand_source})`).toContain(d!.brand);
      }
      expect(d!.role).toBe('device');
    });
  }

  it('no module or chip maker is shown as a brand; the module maker is module_vendor', () => {
    for (const [name, devs] of all) {
      for (const d of devs) {
        if (d.brand) expect(MODULE_MAKERS.has(d.brand), `${name} ${d.mac}: ${d.brand}`).toBe(false);
        // Espressif (5c:cf:7f), High-Flying (ac:cf:23) and Intel prefixes are module makers'.
        if (/^(Espressif|Hi-flying|Intel)/i.test(d.vendor ?? '')) expect(d.module_vendor, `${name} ${d.mac}`).not.toBeNull();
      }
    }
  });

  it('the router is a gateway wherever it carried traffic for two Internet addresses, and only then', () => {
    const isLocal = (ip: string) => /^(10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.|169\.254\.|0\.|22[4-9]\.|23\d\.|255\.|f[cdf])/i.test(ip);
    for (const dev of devices) {
      for (const d of all.get(dev.name) ?? []) {
        if (d.role !== 'gateway') continue;
        // No corpus device is a gateway, and a gateway is never the device under test.
        expect(d.mac, dev.name).not.toBe(dev.mac);
        expect(d.ips.every(isLocal), `${dev.name} ${d.mac}`).toBe(true);
      }
    }
    // The capture network's router: a gateway in the folders where devices reached many addresses.
    expect((all.get('TP-LinkPlugHS110') ?? []).find((d) => d.role === 'gateway')?.mac).toBe('00:b5:6d:06:08:ba');
    expect((all.get('HueBridge') ?? []).find((d) => d.role === 'gateway')?.mac).toBe('00:b5:6d:06:08:ba');
  });

  it('sensor/README.md lists what phonehome says of every device', () => {
    const readme = readFileSync(join(ROOT, 'sensor/README.md'), 'utf8');
    const m = /<!-- corpus-brands:begin -->\n([\s\S]*?)\n<!-- corpus-brands:end -->/.exec(readme);
    expect(m, 'sensor/README.md has no corpus-brands section').not.toBeNull();
    const listed = m![1].split('\n').slice(2);
    const expected = devices.map((dev) => row(dev.name, found.get(dev.name)!));
    expect(listed).toEqual(expected);
  });
});
