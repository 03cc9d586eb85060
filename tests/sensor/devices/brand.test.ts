// Who made a device (sensor/devices/brand.ts over the table in brands.ts).
// Every evidence string here comes from vendors' public documentation or
// public registries, not from phonehome's output:
// - Hue bridge SSDP answer "SERVER: FreeRTOS/6.0.5, UPnP/1.0, IpBridge/0.1" and
//   discovery.meethue.com: the Hue API's bridge discovery documentation;
// - Tuya data-centre endpoints openapi.tuyaeu.com / openapi.tuyaus.com: Tuya's
//   "Countries, Regions and Tuya Data Center" page;
// - MAX! Cube host name and serials "KHA0008960", "KEQ0523864": published MAX!
//   Cube protocol write-ups (nmap of a cube; the cube's discovery answer);
// - "ESP_" + three MAC bytes (ESP8266 SDK), "espressif" (ESP-IDF), "esp32-" +
//   MAC digits (Arduino-ESP32): Espressif SDK defaults as their trackers document them;
// - TP-Link Kasa model strings "HS110(EU)", "KP115(US)": TP-Link product names;
//   D-Link product names "DCS-5020L", "DSP-W215"; mydlink.com, tplinkcloud.com:
//   the vendors' cloud services;
// - Alexa Voice Service endpoints avs-alexa-eu.amazon.com and
//   alexa.na.gateway.devices.a2z.com: Amazon's AVS documentation;
// - wbsapi.withings.net: Withings' public API; open.ezvizlife.com: EZVIZ open platform;
// - Android's DHCP vendor class "android-dhcp-9", Windows' "MSFT 5.0", an
//   Android Dalvik User-Agent: the platforms' documented formats;
// - OUI organisation names exactly as the IEEE registry spells them.
import { describe, expect, it } from 'vitest';
import { cloudName, identifyBrand, isGeneralPurpose, MODULE_MAKERS, type BrandEvidence } from '../../../sensor/devices/brand.js';
import { BRAND_RULES, MODULE_RULES, ouiBrandName } from '../../../sensor/devices/brands.js';
import type { DeviceFacts } from '../../../sensor/devices/inventory.js';
import { deviceLabel } from '../../../sensor/detect/rule.js';

const brandOf = (ev: BrandEvidence) => identifyBrand(ev);

describe('brand from what the device says about itself', () => {
  it('Hue bridge: the SSDP SERVER IpBridge token names Philips and the model', () => {
    expect(brandOf({ ssdpServer: 'FreeRTOS/6.0.5, UPnP/1.0, IpBridge/0.1', ouiVendor: 'Philips Lighting BV' })).toEqual({
      brand: 'Philips', model: 'Hue bridge', brand_source: 'ssdp', module_vendor: null,
    });
  });

  it('TP-Link Kasa plugs: the model as DHCP host name', () => {
    expect(brandOf({ dhcpHostnames: ['HS110(EU)'], ouiVendor: 'TP-LINK TECHNOLOGIES CO.,LTD.' })).toEqual({
      brand: 'TP-Link', model: 'HS110(EU)', brand_source: 'dhcp-hostname', module_vendor: null,
    });
    // A Kasa plug on an unregistered (randomised) MAC is still named by its host name.
    expect(brandOf({ dhcpHostnames: ['KP115(US)'] })).toMatchObject({ brand: 'TP-Link', model: 'KP115(US)', brand_source: 'dhcp-hostname' });
  });

  it('D-Link: the product code in an mDNS name gives brand and model', () => {
    expect(brandOf({ mdnsNames: ['DCS-5020L.local'] })).toMatchObject({ brand: 'D-Link', model: 'DCS-5020L', brand_source: 'mdns' });
    expect(brandOf({ dhcpHostnames: ['DSP-W215'], mdnsNames: ['dsp.local'] })).toMatchObject({ brand: 'D-Link', model: 'DSP-W215', brand_source: 'dhcp-hostname' });
  });

  it('eQ-3 MAX! Cube: its serial number is its host name', () => {
    for (const serial of ['KHA0008960', 'KEQ0523864']) {
      expect(brandOf({ dhcpHostnames: [serial], ouiVendor: 'eQ-3 Entwicklung GmbH' })).toEqual({
        brand: 'eQ-3', model: 'MAX! Cube', brand_source: 'dhcp-hostname', module_vendor: null,
      });
    }
  });

  it('self-description beats clouds and OUI', () => {
    expect(brandOf({ dhcpHostnames: ['HS110(EU)'], cloudNames: ['discovery.meethue.com'], ouiVendor: 'Espressif Inc.' })).toEqual({
      brand: 'TP-Link', model: 'HS110(EU)', brand_source: 'dhcp-hostname', module_vendor: 'Espressif',
    });
  });
});

describe('brand from the clouds a device contacts', () => {
  it('names the brand whose cloud it is, the module maker staying module_vendor', () => {
    expect(brandOf({ cloudNames: ['open.ezvizlife.com'], ouiVendor: 'Texas Instruments' })).toEqual({
      brand: 'EZVIZ', model: null, brand_source: 'cloud-name', module_vendor: 'Texas Instruments',
    });
    expect(brandOf({ cloudNames: ['wbsapi.withings.net'] })).toMatchObject({ brand: 'Withings', brand_source: 'cloud-name' });
    expect(brandOf({ cloudNames: ['signal.mydlink.com'] })).toMatchObject({ brand: 'D-Link', brand_source: 'cloud-name' });
    expect(brandOf({ cloudNames: ['wap.tplinkcloud.com'] })).toMatchObject({ brand: 'TP-Link', brand_source: 'cloud-name' });
  });

  it('reads SNI, HTTP Host (with a port) and DNS names alike', () => {
    expect(brandOf({ cloudNames: ['Discovery.MeetHue.com.'] })).toMatchObject({ brand: 'Philips', brand_source: 'cloud-name' });
    expect(brandOf({ cloudNames: ['discovery.meethue.com:443'] })).toMatchObject({ brand: 'Philips' });
    expect(cloudName('dcp.cpp.philips.com:80')).toBe('dcp.cpp.philips.com');
    expect(cloudName('192.0.2.7:8080')).toBeNull();
    expect(cloudName('[2001:db8::1]:443')).toBeNull();
    expect(cloudName('2001:db8::1')).toBeNull();
  });

  it('Amazon Alexa: the AVS endpoints, old and new', () => {
    expect(brandOf({ cloudNames: ['avs-alexa-eu.amazon.com'] })).toMatchObject({ brand: 'Amazon', brand_source: 'cloud-name' });
    expect(brandOf({ cloudNames: ['alexa.na.gateway.devices.a2z.com'] })).toMatchObject({ brand: 'Amazon', brand_source: 'cloud-name' });
    // www.amazon.com is a shop, not a device cloud: nothing is concluded from it.
    expect(brandOf({ cloudNames: ['www.amazon.com'] }).brand).toBeNull();
  });

  it('a lookalike domain is not the vendor\'s', () => {
    expect(brandOf({ cloudNames: ['notmeethue.com', 'meethue.com.example.net'] }).brand).toBeNull();
  });

  it('clouds of two brands name neither (a hub or controller), the OUI decides', () => {
    expect(brandOf({ cloudNames: ['discovery.meethue.com', 'wap.tplinkcloud.com'], ouiVendor: 'Delta Electronics, Inc.' })).toEqual({
      brand: 'Delta Electronics', model: null, brand_source: 'oui', module_vendor: null,
    });
  });

  it('a known maker\'s OUI is not overruled by another brand\'s cloud (a phone running the Hue app)', () => {
    expect(brandOf({ cloudNames: ['discovery.meethue.com'], ouiVendor: 'Samsung Electronics Co.,Ltd' })).toMatchObject({ brand: 'Samsung', brand_source: 'oui' });
  });

  it('a phone or PC is not named by the clouds or app User-Agents it uses', () => {
    const phone: BrandEvidence = {
      dhcpVendorClass: 'android-dhcp-9',
      userAgents: ['Dalvik/2.1.0 (Linux; U; Android 9; Pixel 3 Build/PQ1A.181105.017.A1)'],
      cloudNames: ['discovery.meethue.com'],
      ouiVendor: 'Hon Hai Precision Ind. Co.,Ltd.',
    };
    expect(isGeneralPurpose(phone)).toBe(true);
    expect(brandOf(phone)).toMatchObject({ brand: 'Hon Hai Precision Ind', brand_source: 'oui' });
    expect(isGeneralPurpose({ dhcpVendorClass: 'MSFT 5.0' })).toBe(true);
    expect(isGeneralPurpose({ dhcpHostnames: ['HS110(EU)'], userAgents: ['Wget/1.13 (linux-uclibc)'] })).toBe(false);
  });
});

describe('white-label platforms and module makers', () => {
  it('a Tuya cloud alone: "Tuya-based", the module maker aside', () => {
    expect(brandOf({ cloudNames: ['openapi.tuyaeu.com'], ouiVendor: 'Espressif Inc.' })).toEqual({
      brand: 'Tuya-based', model: null, brand_source: 'cloud-name', module_vendor: 'Espressif',
    });
    expect(brandOf({ cloudNames: ['openapi.tuyaus.com'], ouiVendor: 'Tuya Smart Inc.' })).toEqual({
      brand: 'Tuya-based', model: null, brand_source: 'cloud-name', module_vendor: 'Tuya',
    });
  });

  it('the OEM wins over the platform when its OUI or its own names say who it is', () => {
    expect(brandOf({ cloudNames: ['openapi.tuyaeu.com'], ouiVendor: 'gosund GROUP CO.,LTD' })).toMatchObject({ brand: 'Gosund', brand_source: 'oui' });
    expect(brandOf({ cloudNames: ['openapi.tuyaeu.com'], dhcpHostnames: ['KP115(US)'], ouiVendor: 'Tuya Smart Inc.' })).toMatchObject({
      brand: 'TP-Link', brand_source: 'dhcp-hostname', module_vendor: 'Tuya',
    });
  });

  it('a module maker alone: no brand, module_vendor says what is known', () => {
    expect(brandOf({ dhcpHostnames: ['ESP_1A2B3C'], ouiVendor: 'Espressif Inc.' })).toEqual({ brand: null, model: null, brand_source: null, module_vendor: 'Espressif' });
    expect(brandOf({ ouiVendor: 'Texas Instruments' })).toEqual({ brand: null, model: null, brand_source: null, module_vendor: 'Texas Instruments' });
  });

  it('module firmware default host names name the module maker, whatever the OUI', () => {
    expect(brandOf({ dhcpHostnames: ['espressif'] }).module_vendor).toBe('Espressif');
    expect(brandOf({ dhcpHostnames: ['esp32-A1B2C3D4E5F6'] }).module_vendor).toBe('Espressif');
    expect(brandOf({ dhcpHostnames: ['HF-LPB100'], cloudNames: ['openapi.tuyaeu.com'] })).toMatchObject({ brand: 'Tuya-based', module_vendor: 'High-Flying' });
  });

  it('no module maker of the registry is ever a brand', () => {
    // Organisation names as the IEEE registry spells them.
    const orgs = [
      'Espressif Inc.', 'Espressif Systems (Singapore) Pte. Ltd', 'Texas Instruments', 'REALTEK SEMICONDUCTOR CORP.', 'MediaTek Inc', 'Tuya Smart Inc.',
      'Shanghai High-Flying Electronics Technology Co., Ltd', 'Hi-flying electronics technology Co.,Ltd', 'Silicon Laboratories', 'Nordic Semiconductor ASA',
      'Microchip Technology Inc.', 'Murata Manufacturing Co., Ltd.', 'Universal Global Scientific Industrial., Ltd', 'AzureWave Technology Inc.',
      'Quectel Wireless Solutions Co.,Ltd.', 'AMPAK Technology, Inc.', 'Hisilicon Technologies Co., Ltd', 'Beken Corporation', 'GainSpan Corp.', 'Intel Corporate',
    ];
    for (const o of orgs) {
      const r = brandOf({ ouiVendor: o, cloudNames: ['www.example.com'] });
      expect(r.brand, o).toBeNull();
      expect(r.module_vendor, o).not.toBeNull();
      expect(MODULE_MAKERS.has(r.module_vendor!)).toBe(true);
    }
  });
});

describe('OUI fallback', () => {
  it('known makers by their brand name, others by the registered name without the legal form', () => {
    expect(brandOf({ ouiVendor: 'TP-LINK TECHNOLOGIES CO.,LTD.' })).toMatchObject({ brand: 'TP-Link', brand_source: 'oui' });
    expect(brandOf({ ouiVendor: 'Hangzhou Hikvision Digital Technology Co.,Ltd.' })).toMatchObject({ brand: 'Hikvision' });
    expect(brandOf({ ouiVendor: 'Hangzhou Ezviz Software Co.,Ltd.' })).toMatchObject({ brand: 'EZVIZ' });
    expect(brandOf({ ouiVendor: 'Lumi United Technology Co., Ltd' })).toMatchObject({ brand: 'Aqara' });
    expect(ouiBrandName('David Electronics Co., LTD.')).toBe('David Electronics');
    expect(ouiBrandName('Delta Electronics, Inc.')).toBe('Delta Electronics');
    expect(ouiBrandName('Sonos, Inc.')).toBe('Sonos');
    expect(ouiBrandName('Nordic Semiconductor ASA')).toBe('Nordic Semiconductor ASA');
  });

  it('nothing known: nothing said', () => {
    expect(brandOf({})).toEqual({ brand: null, model: null, brand_source: null, module_vendor: null });
  });
});

describe('the table', () => {
  it('every rule has a note and a pattern or domains; domains are lower-case registrable names', () => {
    for (const r of BRAND_RULES) {
      expect(r.note.length, r.brand).toBeGreaterThan(5);
      expect(r.match !== undefined || r.domains !== undefined, r.brand).toBe(true);
      for (const d of r.domains ?? []) expect(d, r.brand).toMatch(/^[a-z0-9-]+(\.[a-z0-9-]+)+$/);
      if (r.domains) expect(r.kind).toBe('cloud-name');
    }
    for (const r of MODULE_RULES) expect(r.note.length, r.module).toBeGreaterThan(5);
  });

  it('no rule names a single unit: no MAC address in any pattern', () => {
    const mac = /[0-9a-f]{2}([:-]?)[0-9a-f]{2}\1[0-9a-f]{2}\1[0-9a-f]{2}\1[0-9a-f]{2}\1[0-9a-f]{2}/i;
    for (const r of [...BRAND_RULES, ...MODULE_RULES]) expect(r.match?.source ?? '', r.note).not.toMatch(mac);
  });

  it('module makers and brands are distinct names', () => {
    for (const r of BRAND_RULES) if (!r.platform) expect(MODULE_MAKERS.has(r.brand), r.brand).toBe(false);
  });
});

describe('deviceLabel names the brand, then the module maker, then the OUI vendor', () => {
  const facts = (f: Partial<DeviceFacts>): DeviceFacts => ({ mac: '00:17:88:00:00:01', ip: '192.168.1.2', vendor: 'Philips Lighting BV', vendor_country: 'NL', mud_url: null, ...f });
  it('brand and model', () => {
    expect(deviceLabel(facts({ brand: 'Philips', model: 'Hue bridge' }))).toBe('Philips Hue bridge 00:17:88:00:00:01');
    expect(deviceLabel(facts({ brand: 'TP-Link', model: 'HS110(EU)', mac: '50:c7:bf:00:00:01' }))).toBe('TP-Link HS110(EU) 50:c7:bf:00:00:01');
    expect(deviceLabel(facts({ brand: 'Edimax', model: null, mac: null }))).toBe('Edimax 192.168.1.2');
  });
  it('a module maker is not shown as the maker', () => {
    expect(deviceLabel(facts({ brand: null, module_vendor: 'Espressif', vendor: 'Espressif Inc.', mac: '5c:cf:7f:00:00:01' }))).toBe('device (Espressif module) 5c:cf:7f:00:00:01');
  });
  it('facts without brands (built before them) keep the OUI vendor', () => {
    expect(deviceLabel(facts({}))).toBe('Philips Lighting BV 00:17:88:00:00:01');
  });
});
