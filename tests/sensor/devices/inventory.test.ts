// Every corpus device appears in the inventory under its MAC, with the
// manufacturer Wireshark's own OUI table names and the country of that
// manufacturer's registered address.
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { corpusAvailable, corpusDevices } from '../../helpers/corpus.js';
import { phonehomeView } from '../../helpers/phonehome.js';

// Country of each manufacturer's address as registered with the IEEE (public registry entries).
const REGISTERED_COUNTRY: Record<string, string> = {
  '20:f8:5e': 'TW', // Delta Electronics
  'b0:c5:54': 'SG', '1c:5f:2b': 'SG', '90:8d:78': 'SG', '6c:72:20': 'SG', // D-Link International, Singapore
  '74:da:38': 'TW', // Edimax
  '3c:49:37': 'DE', // ASSMANN Electronic
  'ac:cf:23': 'CN', // Hi-flying
  '00:1a:22': 'DE', // eQ-3
  '00:17:88': 'NL', // Philips Lighting
  '84:18:26': 'DE', // Osram
  '5c:cf:7f': 'VG', // Espressif's registration lists a British Virgin Islands address
  '50:c7:bf': 'CN', // TP-LINK
  '94:10:3e': 'US', // Belkin
  '00:24:e4': 'FR', // Withings
};

const MANUF = '/usr/share/wireshark/manuf';

function wiresharkVendor(mac: string): string | null {
  const prefix = mac.slice(0, 8).toUpperCase();
  const line = readFileSync(MANUF, 'utf8').split('\n').find((l) => l.startsWith(prefix));
  return line ? (line.split('\t')[2] ?? line.split('\t')[1]).trim() : null;
}

const norm = (s: string) => s.toLowerCase().replace(/[^a-z0-9]/g, '');

describe.skipIf(!corpusAvailable())('device inventory on the corpus', () => {
  for (const dev of corpusDevices()) {
    it(`${dev.name}: ${dev.mac} is inventoried with its manufacturer and country`, async () => {
      const view = await phonehomeView(dev.files.slice(0, 3));
      const found = view.devices.find((d) => d.mac === dev.mac);
      expect(found, `device ${dev.mac} not in inventory`).toBeDefined();
      expect(found!.vendor_country).toBe(REGISTERED_COUNTRY[dev.mac.slice(0, 8)]);
      if (existsSync(MANUF)) {
        const ws = wiresharkVendor(dev.mac);
        if (ws) expect(norm(found!.vendor ?? '')).toBe(norm(ws));
      }
      expect(found!.ips.length).toBeGreaterThan(0);
      expect(found!.first_seen).toBeLessThanOrEqual(found!.last_seen);
    });
  }
});
