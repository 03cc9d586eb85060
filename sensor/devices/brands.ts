// What phonehome knows about who made a device: one table, read by brand.ts.
//
// Each rule says which evidence it reads (its `kind`), what it looks for and
// what a match means. Patterns are vendors' own naming conventions (product
// codes, default host names, SSDP SERVER tokens) and the domains of their
// clouds, so they hold for every unit of a brand, not for one capture. A rule
// names no MAC address and no single unit's host name.
//
// Kinds of evidence (DeviceRecord.brand_source):
//   dhcp-hostname      DHCP option 12 (or the DHCPv6 client FQDN), first label
//   dhcp-vendor-class  DHCP option 60 (DHCPv6 vendor class)
//   mdns               the host name a device answers for in mDNS, first label
//   ssdp               the SSDP SERVER header of its NOTIFY / search answers
//   user-agent         HTTP User-Agent of its requests (and SSDP USER-AGENT)
//   cloud-name         names of the servers it connects to (TLS SNI, HTTP Host, the DNS name it resolved)
//   oui                the IEEE registry's organisation for its MAC prefix

export type EvidenceKind = 'dhcp-hostname' | 'dhcp-vendor-class' | 'mdns' | 'ssdp' | 'user-agent' | 'cloud-name' | 'oui';

/** What a device says about itself, strongest first: the first kind with a brand rule matching names the brand. */
export const SELF_KINDS = ['dhcp-hostname', 'mdns', 'dhcp-vendor-class', 'ssdp', 'user-agent'] as const satisfies readonly EvidenceKind[];
export type SelfKind = (typeof SELF_KINDS)[number];

/** Host names, as DHCP and mDNS carry them. */
const NAMES: SelfKind[] = ['dhcp-hostname', 'mdns'];
/** Every string a device announces about itself. */
const SELF: SelfKind[] = [...SELF_KINDS];

export interface BrandRule {
  brand: string;
  /** where the pattern is looked for */
  kind: EvidenceKind | readonly EvidenceKind[];
  /** a pattern on the evidence string; for cloud-name, either this or `domains` */
  match?: RegExp;
  /** cloud-name: these domains and every name under them */
  domains?: readonly string[];
  /** the model: a fixed name, or the number of the pattern's capture group that holds it */
  model?: string | number;
  /**
   * A white-label platform or module firmware, not the maker: the device is
   * shown as "<brand>-based" only when nothing names its maker (not its own
   * announcements, not a maker's cloud, not a maker's OUI).
   */
  platform?: boolean;
  /** where the convention is documented, or why it holds */
  note: string;
}

/** A token of the string, between non-alphanumerics, case-insensitive: word('hue') matches "Philips-hue", not "hues". */
const word = (...words: string[]): RegExp => new RegExp(`(?:^|[^a-z0-9])(?:${words.map(escape).join('|')})(?:[^a-z0-9]|$)`, 'i');
function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&');
}

export const BRAND_RULES: readonly BrandRule[] = [
  // --- Philips Hue (Signify, formerly Philips Lighting) ---
  { brand: 'Philips', kind: NAMES, match: /^Philips-hue$/i, model: 'Hue bridge', note: 'the Hue bridge registers as "Philips-hue" (DHCP and mDNS)' },
  { brand: 'Philips', kind: 'ssdp', match: /\bIpBridge\/\d/, model: 'Hue bridge', note: 'Hue bridge SSDP SERVER "<OS>, UPnP/1.0, IpBridge/<version>" (Hue API bridge discovery)' },
  { brand: 'Philips', kind: SELF, match: word('philips'), note: 'the maker\'s name in the device\'s own announcements' },
  { brand: 'Philips', kind: 'cloud-name', domains: ['meethue.com', 'philips-hue.com', 'philips.com'], note: 'Hue bridge cloud (bridge.meethue.com, discovery.meethue.com, api.meethue.com); Philips connected-product services (*.cpp.philips.com, *.ecdinterface.philips.com)' },
  { brand: 'Philips', kind: 'oui', match: /^(Philips Lighting|Signify)\b/i, note: 'Philips Lighting / Signify registrations' },

  // --- TP-Link (Kasa, Tapo) ---
  { brand: 'TP-Link', kind: NAMES, match: /^((?:HS|KP|KL|LB|KC|KS|EP|ES|KH)\d{2,3}[A-Z]?(?:\([A-Z]{2}\))?)$/, model: 1, note: 'Kasa smart home devices use their model ("HS110(EU)", "KP115(US)") as host name; the model code is TP-Link\'s product name' },
  { brand: 'TP-Link', kind: NAMES, match: /^Tapo[_-]?([A-Z]\d{3}[A-Z]?)\b/i, model: 1, note: 'Tapo devices ("Tapo_C200", "Tapo_P100")' },
  { brand: 'TP-Link', kind: SELF, match: word('tp-link', 'tplink', 'kasa'), note: 'the maker\'s or product line\'s name in its own announcements' },
  { brand: 'TP-Link', kind: 'cloud-name', domains: ['tplinkcloud.com', 'tplinkra.com', 'tplinknbu.com', 'tp-link.com', 'kasasmart.com', 'i.tplinknbu.com'], note: 'Kasa / TP-Link cloud (devs.tplinkcloud.com, wap.tplinkcloud.com)' },
  { brand: 'TP-Link', kind: 'oui', match: /^TP-LINK\b|^TP-Link\b/i, note: 'TP-LINK TECHNOLOGIES / TP-Link Systems registrations' },

  // --- D-Link (mydlink) ---
  {
    brand: 'D-Link', kind: [...NAMES, 'ssdp'], match: /(?:^|[^A-Z0-9])((?:DCS|DCH|DSP|DIR|DAP|DWR|DNR|DSH|DHP|DWA|DNS|DGS)-[A-Z]?\d{3,4}[A-Z0-9]*)/i, model: 1,
    note: 'D-Link product codes (DCS cameras, DCH home automation, DSP smart plugs, DIR routers, ...) used as host name, mDNS name and SSDP product token',
  },
  { brand: 'D-Link', kind: SELF, match: word('d-link', 'dlink', 'mydlink'), note: 'the maker\'s name in its own announcements' },
  { brand: 'D-Link', kind: 'cloud-name', domains: ['mydlink.com', 'dlink.com', 'dlinkddns.com', 'dlink.com.tw', 'dlink.com.cn'], note: 'mydlink cloud (signal.mydlink.com, *.auto.mydlink.com), D-Link home automation (*.dch.dlink.com), D-Link NTP' },
  { brand: 'D-Link', kind: 'oui', match: /^D-Link\b/i, note: 'D-Link registrations' },

  // --- Belkin WeMo ---
  { brand: 'Belkin', kind: SELF, match: word('belkin', 'wemo'), note: 'the maker\'s or product line\'s name in its own announcements' },
  { brand: 'Belkin', kind: 'cloud-name', domains: ['xbcs.net', 'lswf.net', 'belkin.com', 'wemo.com'], note: 'WeMo cloud (api.xbcs.net, nat.xbcs.net, tunnel.xbcs.net), WeMo firmware (*.lswf.net)' },
  { brand: 'Belkin', kind: 'oui', match: /^Belkin\b/i, note: 'Belkin registrations' },

  // --- Edimax ---
  { brand: 'Edimax', kind: SELF, match: word('edimax', 'edilife'), note: 'the maker\'s or app\'s name in its own announcements' },
  { brand: 'Edimax', kind: 'cloud-name', domains: ['myedimax.com', 'edimax.com', 'edimaxcloud.com'], note: 'Edimax smart plug / EdiLife cloud (www.myedimax.com)' },
  { brand: 'Edimax', kind: 'oui', match: /^Edimax\b/i, note: 'Edimax Technology registrations' },

  // --- ASSMANN Electronic (brands ednet, Digitus) ---
  { brand: 'ednet', kind: SELF, match: word('ednet'), note: 'ASSMANN\'s ednet brand in its own announcements' },
  { brand: 'ASSMANN', kind: 'oui', match: /^ASSMANN Electronic\b/i, note: 'ASSMANN Electronic GmbH, which sells networked devices as ednet and Digitus' },

  // --- eQ-3 (HomeMatic, MAX!) ---
  { brand: 'eQ-3', kind: NAMES, match: /^[A-Z](?:EQ|HA)\d{7}$/, model: 'MAX! Cube', note: 'the MAX! Cube LAN gateway uses its serial number ("KEQ0523864", "KHA0008960") as host name' },
  { brand: 'eQ-3', kind: NAMES, match: /^(HmIP-[A-Z0-9-]+|CCU[23])\b/i, model: 1, note: 'HomeMatic IP access points and CCU central units' },
  { brand: 'eQ-3', kind: SELF, match: word('eq-3', 'eq3', 'homematic'), note: 'the maker\'s or product line\'s name in its own announcements' },
  { brand: 'eQ-3', kind: 'cloud-name', domains: ['homematic.com', 'homematic-ip.com', 'eq-3.de', 'eq-3.com', 'max-portal.elv.de'], note: 'HomeMatic / HomeMatic IP cloud and NTP (ntp.homematic.com), MAX! portal' },
  { brand: 'eQ-3', kind: 'oui', match: /^eQ-3\b/i, note: 'eQ-3 Entwicklung registrations' },

  // --- Osram (Lightify) ---
  { brand: 'Osram', kind: NAMES, match: /^Lightify[-_][0-9A-F]{6,8}$/i, model: 'Lightify', note: 'the Lightify gateway registers as "Lightify-<MAC digits>"' },
  { brand: 'Osram', kind: SELF, match: word('osram', 'lightify'), note: 'the maker\'s or product line\'s name in its own announcements' },
  { brand: 'Osram', kind: 'cloud-name', domains: ['lightify-api.org', 'lightify-api.com', 'lightify.com', 'osram.com'], note: 'Lightify cloud API' },
  { brand: 'Osram', kind: 'oui', match: /^Osram\b/i, note: 'Osram registrations' },

  // --- Fitbit (Aria scales) ---
  { brand: 'Fitbit', kind: SELF, match: word('fitbit'), note: 'the maker\'s name in its own announcements' },
  { brand: 'Fitbit', kind: 'cloud-name', domains: ['fitbit.com'], note: 'Fitbit cloud (Aria scales upload to fitbit.com)' },
  { brand: 'Fitbit', kind: 'oui', match: /^Fitbit\b/i, note: 'Fitbit registrations' },

  // --- Withings (Nokia Health 2016-2018) ---
  { brand: 'Withings', kind: SELF, match: /withings/i, note: 'Withings devices name themselves (vendor class, User-Agent)' },
  { brand: 'Withings', kind: 'cloud-name', domains: ['withings.net', 'withings.com'], note: 'Withings cloud (wbsapi.withings.net, scalews.withings.net)' },
  { brand: 'Withings', kind: 'oui', match: /^Withings\b/i, note: 'Withings registrations' },

  // --- Smarter (iKettle, SmarterCoffee) ---
  { brand: 'Smarter', kind: SELF, match: word('smarter', 'ikettle', 'smartercoffee'), note: 'the maker\'s or product\'s name in its own announcements' },
  { brand: 'Smarter', kind: 'cloud-name', domains: ['smarter.am'], note: 'Smarter cloud' },

  // --- Amazon (Echo, Fire TV, Kindle) ---
  { brand: 'Amazon', kind: NAMES, match: /^amazon-[0-9a-f]{6,}$/i, note: 'Echo and Fire devices register as "amazon-<hex>"' },
  { brand: 'Amazon', kind: SELF, match: word('amazon', 'kindle', 'echo-dot'), note: 'the maker\'s name in its own announcements' },
  { brand: 'Amazon', kind: 'cloud-name', match: /(?:^|\.)avs-alexa(?:-\d+)?-[a-z]{2}\.amazon\.com$/, note: 'Alexa Voice Service endpoints (avs-alexa-na/-eu/-fe.amazon.com)' },
  { brand: 'Amazon', kind: 'cloud-name', domains: ['amazonalexa.com', 'device-metrics-us.amazon.com', 'device-metrics-us-2.amazon.com', 'fireoscaptiveportal.com', 'amazon-dss.com', 'a2z.com'], note: 'Alexa APIs, Amazon device metrics, Fire OS captive-portal check, Amazon device services' },
  { brand: 'Amazon', kind: 'oui', match: /^Amazon(\.com| Technologies)\b/i, note: 'Amazon registrations' },
  { brand: 'Blink', kind: 'oui', match: /^Blink by Amazon\b/i, note: 'Blink (Amazon) registrations' },

  // --- Ring (Amazon) ---
  { brand: 'Ring', kind: NAMES, match: /^Ring-[0-9a-f]{4,}$/i, note: 'Ring doorbells and cameras register as "Ring-<MAC digits>"' },
  { brand: 'Ring', kind: 'cloud-name', domains: ['ring.com', 'ring.devices.a2z.com'], note: 'Ring cloud (*.ring.com)' },
  { brand: 'Ring', kind: 'oui', match: /^Ring LLC\b/i, note: 'Ring registrations' },

  // --- Google (Nest, Chromecast, Google Home) ---
  { brand: 'Google', kind: NAMES, match: /^(Google-(?:Home|Nest)[A-Za-z0-9-]*|Chromecast[A-Za-z0-9-]*)$/i, model: 1, note: 'Google Home / Nest speakers and Chromecasts register under their product name' },
  { brand: 'Google', kind: SELF, match: word('chromecast', 'google-home', 'nest'), note: 'product names in the device\'s own announcements' },
  { brand: 'Google', kind: 'cloud-name', domains: ['nest.com', 'nestlabs.com', 'dropcam.com'], note: 'Nest cloud (home.nest.com, transport.home.nest.com, frontdoor.nest.com), Nest Cam (dropcam.com)' },
  { brand: 'Google', kind: 'oui', match: /^(Google|Nest Labs)\b/i, note: 'Google and Nest Labs registrations' },

  // --- Xiaomi (Mi Home) and Aqara ---
  {
    brand: 'Xiaomi', kind: NAMES, match: /^([a-z0-9]+-[a-z0-9]+-[a-z0-9]+)_mi(?:io|bt)\d+$/i, model: 1,
    note: 'Mi Home (miIO) devices register as "<vendor>-<type>-<model>_miio<device id>" (e.g. "zhimi-airpurifier-m1_miio12345678"); the miIO model names who built it',
  },
  { brand: 'Xiaomi', kind: SELF, match: word('xiaomi', 'miwifi'), note: 'the maker\'s name in its own announcements' },
  { brand: 'Xiaomi', kind: 'cloud-name', domains: ['io.mi.com', 'xiaomi.com', 'xiaomi.net', 'miwifi.com', 'mi.com', 'miui.com'], note: 'Mi Home cloud (ot.io.mi.com, *.ot.io.mi.com, api.io.mi.com)' },
  { brand: 'Xiaomi', kind: 'oui', match: /Xiaomi/i, note: 'Xiaomi registrations' },
  { brand: 'Aqara', kind: SELF, match: word('aqara'), note: 'the brand in its own announcements' },
  { brand: 'Aqara', kind: 'cloud-name', domains: ['aqara.com', 'aqara.cn'], note: 'Aqara cloud (open-*.aqara.com)' },
  { brand: 'Aqara', kind: 'oui', match: /^Lumi United\b/i, note: 'Lumi United Technology, maker of Aqara' },

  // --- Hikvision and EZVIZ ---
  { brand: 'EZVIZ', kind: SELF, match: word('ezviz'), note: 'the brand in its own announcements' },
  { brand: 'EZVIZ', kind: 'cloud-name', domains: ['ezvizlife.com', 'ezviz7.com', 'ezvizru.com', 'ezviz.com'], note: 'EZVIZ cloud (open.ezvizlife.com, *.ezviz7.com)' },
  { brand: 'EZVIZ', kind: 'oui', match: /\bEzviz\b/i, note: 'Hangzhou Ezviz Software registrations' },
  { brand: 'Hikvision', kind: SELF, match: word('hikvision'), note: 'the brand in its own announcements' },
  { brand: 'Hikvision', kind: 'cloud-name', domains: ['hik-connect.com', 'hikvision.com', 'hik-online.com', 'hikcentralconnect.com'], note: 'Hik-Connect cloud' },
  { brand: 'Hikvision', kind: 'oui', match: /Hikvision/i, note: 'Hikvision registrations' },

  // --- Others often met in homes ---
  { brand: 'iSmartGate', kind: SELF, match: word('ismartgate', 'gogogate', 'gogogate2'), note: 'the brand in its own announcements' },
  { brand: 'iSmartGate', kind: 'cloud-name', domains: ['ismartgate.com', 'gogogate.com', 'isgaccess.com'], note: 'iSmartGate / Gogogate cloud and remote access' },
  { brand: 'Sonos', kind: 'ssdp', match: /\bSonos\/[\d.-]+\s*\((\w+)\)/, model: 1, note: 'Sonos players\' SSDP SERVER "Linux UPnP/1.0 Sonos/<version> (<model code>)"' },
  { brand: 'Sonos', kind: SELF, match: word('sonos'), note: 'the maker\'s name in its own announcements' },
  { brand: 'Sonos', kind: 'cloud-name', domains: ['sonos.com'], note: 'Sonos cloud (*.ws.sonos.com, update.sonos.com)' },
  { brand: 'Sonos', kind: 'oui', match: /^Sonos\b/i, note: 'Sonos registrations' },
  { brand: 'Roku', kind: SELF, match: word('roku'), note: 'Roku players name themselves (SSDP SERVER "Roku/<version> UPnP/1.0 ...")' },
  { brand: 'Roku', kind: 'oui', match: /^Roku\b/i, note: 'Roku registrations' },
  { brand: 'Shelly', kind: NAMES, match: /^(shelly[a-z0-9]*(?:-[a-z0-9]+)?)-[0-9A-F]{6,12}$/i, model: 1, note: 'Shelly devices register as "<model>-<MAC digits>" ("shelly1-AABBCC", "shellyplug-s-AABBCC")' },
  { brand: 'Shelly', kind: 'cloud-name', domains: ['shelly.cloud'], note: 'Shelly cloud (shelly-*-eu.shelly.cloud)' },
  { brand: 'Shelly', kind: 'oui', match: /^Shelly\b/i, note: 'Shelly registrations' },
  { brand: 'Netatmo', kind: SELF, match: word('netatmo'), note: 'the maker\'s name in its own announcements' },
  { brand: 'Netatmo', kind: 'cloud-name', domains: ['netatmo.net', 'netatmo.com'], note: 'Netatmo cloud' },
  { brand: 'LIFX', kind: SELF, match: word('lifx'), note: 'the maker\'s name in its own announcements' },
  { brand: 'LIFX', kind: 'cloud-name', domains: ['lifx.co', 'lifx.com'], note: 'LIFX cloud' },
  { brand: 'Meross', kind: 'cloud-name', domains: ['meross.com'], note: 'Meross cloud (iot.meross.com)' },
  { brand: 'Wyze', kind: 'cloud-name', domains: ['wyzecam.com', 'wyze.com'], note: 'Wyze cloud (api.wyzecam.com)' },
  { brand: 'Wyze', kind: 'oui', match: /^Wyze\b/i, note: 'Wyze Labs registrations' },
  { brand: 'Samsung SmartThings', kind: 'cloud-name', domains: ['smartthings.com'], note: 'SmartThings cloud (api.smartthings.com)' },
  { brand: 'Samsung', kind: 'oui', match: /^Samsung Electronics\b/i, note: 'Samsung Electronics registrations' },
  { brand: 'Apple', kind: 'oui', match: /^Apple\b/i, note: 'Apple registrations' },
  { brand: 'Gosund', kind: 'oui', match: /^gosund\b/i, note: 'gosund registrations' },
  { brand: 'Ubiquiti', kind: 'oui', match: /^Ubiquiti\b/i, note: 'Ubiquiti registrations' },
  // Makers of phones, computers and network gear: a registration of theirs names the product's maker.
  { brand: 'LG', kind: 'oui', match: /^LG Electronics\b/i, note: 'LG Electronics registrations' },
  { brand: 'Huawei', kind: 'oui', match: /^Huawei\b/i, note: 'Huawei registrations' },
  { brand: 'Sony', kind: 'oui', match: /^Sony\b/i, note: 'Sony registrations' },
  { brand: 'Motorola', kind: 'oui', match: /^Motorola Mobility\b/i, note: 'Motorola Mobility registrations' },
  { brand: 'OnePlus', kind: 'oui', match: /^OnePlus\b/i, note: 'OnePlus registrations' },
  { brand: 'HTC', kind: 'oui', match: /^HTC Corporation\b/i, note: 'HTC registrations' },
  { brand: 'Microsoft', kind: 'oui', match: /^Microsoft\b/i, note: 'Microsoft registrations' },
  { brand: 'Netgear', kind: 'oui', match: /^Netgear\b/i, note: 'Netgear registrations' },
  { brand: 'AVM', kind: 'oui', match: /^AVM\b/i, note: 'AVM (FRITZ!) registrations' },
  { brand: 'ASUS', kind: 'oui', match: /^ASUSTek\b/i, note: 'ASUSTek registrations' },

  // --- White-label platforms: the device is "<platform>-based" unless something names its maker ---
  { brand: 'Tuya', platform: true, kind: 'cloud-name', domains: ['tuya.com', 'tuyaeu.com', 'tuyaus.com', 'tuyacn.com', 'tuyain.com', 'tuyaeu.net', 'tuyaus.net'], note: 'Tuya IoT cloud data centres (a1.tuyaeu.com, m1.tuyaus.com, openapi.tuyacn.com, ...)' },
  { brand: 'Icomen', platform: true, kind: 'cloud-name', match: /(?:^|\.)icomen\./i, note: 'Icomen smart-socket platform, named in its cloud host (icomen.<cloud>)' },
  { brand: 'Arrayent', platform: true, kind: 'cloud-name', domains: ['arrayent.com'], note: 'Arrayent IoT platform (used by several brands\' gateways)' },
  { brand: 'Ayla', platform: true, kind: 'cloud-name', domains: ['aylanetworks.com'], note: 'Ayla Networks IoT platform' },
  { brand: 'eWeLink', platform: true, kind: 'cloud-name', domains: ['coolkit.cc', 'ewelink.cc'], note: 'eWeLink (ITEAD Sonoff and OEM) cloud' },
  { brand: 'Gizwits', platform: true, kind: 'cloud-name', domains: ['gizwits.com'], note: 'Gizwits IoT platform' },
];

/**
 * Makers of radio modules and chips, whose registered prefixes (and default
 * host names) sit in other makers' products: shown as `module_vendor`, never
 * as the brand.
 */
export interface ModuleRule {
  module: string;
  kind: 'oui' | readonly SelfKind[];
  match: RegExp;
  note: string;
}

export const MODULE_RULES: readonly ModuleRule[] = [
  { module: 'Espressif', kind: 'oui', match: /^Espressif\b/i, note: 'ESP8266 / ESP32 Wi-Fi modules' },
  { module: 'Texas Instruments', kind: 'oui', match: /^Texas Instruments\b/i, note: 'CC3200 / CC3100 / WiLink Wi-Fi chips and modules' },
  { module: 'Realtek', kind: 'oui', match: /^Realtek\b/i, note: 'Realtek Wi-Fi / Ethernet chips (Ameba modules)' },
  { module: 'MediaTek', kind: 'oui', match: /^(MediaTek|Ralink Technology)\b/i, note: 'MediaTek (Ralink) Wi-Fi SoCs' },
  { module: 'Tuya', kind: 'oui', match: /^Tuya\b/i, note: 'Tuya Wi-Fi / BLE modules (WB, CB, WR series)' },
  { module: 'High-Flying', kind: 'oui', match: /High-Flying|Hi-flying/i, note: 'Shanghai High-Flying HF-LPB / HF-LPT Wi-Fi modules' },
  { module: 'Silicon Labs', kind: 'oui', match: /^Silicon Laboratories\b/i, note: 'Silicon Labs Wi-Fi / Zigbee / BLE modules' },
  { module: 'Nordic Semiconductor', kind: 'oui', match: /^Nordic Semiconductor\b/i, note: 'nRF BLE / Thread chips' },
  { module: 'Microchip', kind: 'oui', match: /^Microchip Technolog/i, note: 'ATWINC / RN Wi-Fi modules' },
  { module: 'Murata', kind: 'oui', match: /^Murata Manufacturing\b/i, note: 'Murata Wi-Fi / BT modules' },
  { module: 'USI', kind: 'oui', match: /^Universal Global Scientific Industrial\b/i, note: 'USI Wi-Fi modules' },
  { module: 'AzureWave', kind: 'oui', match: /^AzureWave\b/i, note: 'AzureWave Wi-Fi modules' },
  { module: 'AMPAK', kind: 'oui', match: /^AMPAK\b/i, note: 'AMPAK Wi-Fi / BT modules' },
  { module: 'Quectel', kind: 'oui', match: /^Quectel\b/i, note: 'Quectel cellular / Wi-Fi modules' },
  { module: 'HiSilicon', kind: 'oui', match: /^Hisilicon\b/i, note: 'HiSilicon camera and Wi-Fi SoCs' },
  { module: 'Beken', kind: 'oui', match: /^Beken\b/i, note: 'Beken BK72xx Wi-Fi SoCs' },
  { module: 'GainSpan', kind: 'oui', match: /^GainSpan\b/i, note: 'GainSpan GS1011 Wi-Fi modules' },
  { module: 'WinnerMicro', kind: 'oui', match: /Winner Microelectronics/i, note: 'WinnerMicro W600 / W800 Wi-Fi SoCs' },
  { module: 'Bouffalo Lab', kind: 'oui', match: /Bouffalo Lab/i, note: 'Bouffalo BL602 Wi-Fi SoCs' },
  { module: 'Ai-Thinker', kind: 'oui', match: /Ai-Thinker/i, note: 'Ai-Thinker ESP / BL modules' },
  { module: 'Lierda', kind: 'oui', match: /^Lierda\b/i, note: 'Lierda Wi-Fi / NB-IoT modules' },
  { module: 'Fn-Link', kind: 'oui', match: /FN-LINK/i, note: 'Fn-Link Wi-Fi modules' },
  { module: 'LB-Link', kind: 'oui', match: /BILIAN/i, note: 'Shenzhen Bilian (LB-Link) Wi-Fi modules' },
  { module: 'Gaoshengda', kind: 'oui', match: /Gaoshengda/i, note: 'Hui Zhou Gaoshengda (GSD) Wi-Fi modules' },
  { module: 'u-blox', kind: 'oui', match: /^u-blox\b/i, note: 'u-blox cellular / Wi-Fi modules' },
  { module: 'Qualcomm Atheros', kind: 'oui', match: /^Atheros Communications\b/i, note: 'Atheros Wi-Fi chips' },
  { module: 'Broadcom', kind: 'oui', match: /^Broadcom\b/i, note: 'Broadcom Wi-Fi chips' },
  { module: 'Marvell', kind: 'oui', match: /^Marvell\b/i, note: 'Marvell Wi-Fi chips (88MW)' },
  { module: 'Cypress', kind: 'oui', match: /^Cypress Semiconductor\b/i, note: 'Cypress (Infineon) Wi-Fi / BT chips' },
  { module: 'Infineon', kind: 'oui', match: /^Infineon\b/i, note: 'Infineon AIROC Wi-Fi / BT chips' },
  { module: 'NXP', kind: 'oui', match: /^NXP\b/i, note: 'NXP Wi-Fi / Thread chips' },
  { module: 'Intel', kind: 'oui', match: /^Intel Corporat/i, note: 'Intel network adapters, built into other makers\' computers' },
  { module: 'SIMCom', kind: 'oui', match: /SIMCom/i, note: 'SIMCom cellular modules' },
  { module: 'Fibocom', kind: 'oui', match: /^Fibocom\b/i, note: 'Fibocom cellular modules' },
  { module: 'Telit', kind: 'oui', match: /^Telit\b/i, note: 'Telit cellular modules' },
  { module: 'Sierra Wireless', kind: 'oui', match: /^Sierra Wireless\b/i, note: 'Sierra Wireless cellular modules' },
  // Module firmware's default host names (the product's firmware never set its own).
  { module: 'Espressif', kind: NAMES, match: /^ESP[_-][0-9A-F]{6}$/i, note: 'ESP8266 SDK default host name "ESP_" + last three MAC bytes (Arduino core: "ESP-")' },
  { module: 'Espressif', kind: NAMES, match: /^(espressif|esp32-[0-9a-f]{6,12})$/i, note: 'ESP-IDF default host name "espressif"; Arduino-ESP32 "esp32-" + MAC digits' },
  { module: 'High-Flying', kind: NAMES, match: /^HF-LP[A-Z]\d{3}\b/i, note: 'High-Flying modules answer DHCP with their module name (HF-LPB100, HF-LPT220)' },
  { module: 'GainSpan', kind: NAMES, match: /^GainSpan[0-9a-f]{0,12}$/i, note: 'GainSpan SDK default host name "GainSpan" + MAC digits' },
];

/**
 * Signs of a general-purpose computer (phone, tablet, PC): it talks to the
 * clouds of every device it controls, so cloud names do not name its maker.
 */
export const GENERAL_PURPOSE: readonly { kind: SelfKind | readonly SelfKind[]; match: RegExp; note: string }[] = [
  { kind: 'user-agent', match: /\b(?:Dalvik|CFNetwork|Darwin)\/|\bAndroid \d|\biPhone OS\b|\bWindows NT\b|\bMacintosh\b|\bCrOS\b/, note: 'mobile and desktop operating systems\' HTTP stacks and browsers' },
  { kind: 'dhcp-vendor-class', match: /^(?:android-dhcp-|MSFT 5\.0)/i, note: 'Android and Windows DHCP clients' },
  { kind: NAMES, match: /^(?:android[-_][0-9a-f]+|Galaxy-.*|.*iPhone.*|.*iPad.*|.*MacBook.*|DESKTOP-[A-Z0-9]+|LAPTOP-[A-Z0-9]+)$/i, note: 'default host names of phones, tablets and PCs' },
];

/**
 * OUI organisation names reduced to a brand when no rule names it: legal
 * forms and the like dropped ("David Electronics Co., LTD." -> "David Electronics").
 */
export function ouiBrandName(org: string): string {
  let s = org.trim();
  for (;;) {
    const t = s
      .replace(/[\s,.]+(?:co\.?,?\s*ltd\.?|co\.?|ltd\.?|limited|inc\.?|incorporated|corp\.?|corporation|gmbh(?:\s*&\s*co\.?\s*kg)?|llc|l\.l\.c\.|b\.?v\.?|n\.?v\.?|s\.?a\.?s?\.?|s\.?p\.?a\.?|s\.?r\.?l\.?|a\/s|ag|ab|oy|plc|pte\.?(?:\s*ltd\.?)?|pty\.?(?:\s*ltd\.?)?|kg)$/i, '')
      .replace(/[\s,.]+$/, '');
    if (t === s) return s;
    s = t;
  }
}
