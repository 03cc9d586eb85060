import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** The IoT Sentinel captures beside the project (../shared), or null with the reason printed. */
export const CORPUS_DIR = process.env.PHONEHOME_CORPUS ?? resolve(import.meta.dirname, '../../../shared/corpus/iot-sentinel');
export const FIXTURES = resolve(import.meta.dirname, '../fixtures');

export function corpusAvailable(): boolean {
  if (existsSync(CORPUS_DIR)) return true;
  console.warn(`skipping corpus tests: ${CORPUS_DIR} is not there (set PHONEHOME_CORPUS to its path)`);
  return false;
}

export function corpusDevices(): { name: string; dir: string; mac: string; files: string[] }[] {
  if (!existsSync(CORPUS_DIR)) return [];
  return readdirSync(CORPUS_DIR)
    .filter((n) => statSync(join(CORPUS_DIR, n)).isDirectory())
    .sort()
    .map((name) => {
      const dir = join(CORPUS_DIR, name);
      const macFile = join(dir, '_iotdevice-mac.txt');
      const mac = existsSync(macFile) ? readFileSync(macFile, 'utf8').trim().toLowerCase() : '';
      const files = readdirSync(dir).filter((f) => f.endsWith('.pcap')).sort().map((f) => join(dir, f));
      return { name, dir, mac, files };
    });
}


/** Every capture file under a directory (recursively), for oracle comparisons on other corpora. */
export function capturesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const n of readdirSync(d).sort()) {
      const p = join(d, n);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (/\.(pcap|pcapng|cap)$/i.test(n)) out.push(p);
    }
  };
  walk(dir);
  return out;
}

/** A bundled real capture (tests/fixtures), by device name as in the corpus, e.g. 'HueSwitch'. */
export function fixture(device: string): string {
  return join(FIXTURES, `${device.toLowerCase()}-setup-a-1.pcap`);
}

/** The whole corpus when it is there, else the bundled fixtures: oracle tests always compare something. */
export function oracleCaptures(): string[] {
  if (process.env.PHONEHOME_ORACLE_CAPTURES) return capturesUnder(process.env.PHONEHOME_ORACLE_CAPTURES);
  if (existsSync(CORPUS_DIR)) return capturesUnder(CORPUS_DIR);
  console.warn(`${CORPUS_DIR} is not there: comparing the bundled fixtures only`);
  return capturesUnder(FIXTURES);
}

/** MaxMind's test databases: ../shared/geoip when present, else the bundled copy. */
export const GEOIP_DIR = existsSync(resolve(import.meta.dirname, '../../../shared/geoip'))
  ? resolve(import.meta.dirname, '../../../shared/geoip')
  : join(FIXTURES, 'geoip');
