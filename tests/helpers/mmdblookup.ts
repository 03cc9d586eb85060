import { execFileSync } from 'node:child_process';

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
