import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';

/**
 * The embedded country data as its package also ships it, IPv4 and IPv6 in
 * one tree: the oracle's file. The sensor reads the package's per-family
 * files, which must answer alike.
 */
export const COMBINED_COUNTRY_MMDB = createRequire(import.meta.url).resolve('@ip-location-db/geo-whois-asn-country-mmdb/geo-whois-asn-country.mmdb');

/** Country code of an address per libmaxminddb's mmdblookup (the reference reader), or null. */
export function mmdbCountry(db: string, ip: string): string | null {
  for (const path of [['country_code'], ['country', 'iso_code'], ['registered_country', 'iso_code']]) {
    let out: string;
    try {
      out = execFileSync('mmdblookup', ['--file', db, '--ip', ip, ...path], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
    } catch {
      continue;
    }
    const m = /"([A-Z]{2})" <utf8_string>/.exec(out);
    if (m) return m[1];
  }
  return null;
}

/** One value of an address's record per mmdblookup, at a lookup path like ['autonomous_system_number']; null when there is none. */
export function mmdbValue(db: string, ip: string, path: string[]): string | number | null {
  let out: string;
  try {
    out = execFileSync('mmdblookup', ['--file', db, '--ip', ip, ...path], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  } catch {
    return null;
  }
  const text = /"((?:[^"\\]|\\.)*)" <utf8_string>/.exec(out);
  if (text) return text[1];
  const number = /(\d+) <uint\d+>/.exec(out);
  return number ? Number(number[1]) : null;
}
