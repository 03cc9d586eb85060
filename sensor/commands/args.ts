import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../errors.js';
import { Locality } from '../flows/locality.js';
import { SIEM_FORMATS, type SiemFormat } from '../../contract/siem.js';

export function parse<T extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: T) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true as const, strict: true as const });
  } catch (e) {
    throw new UsageError((e as Error).message.split('\n')[0].replace(/\. To specify .*/, ''));
  }
}

/** A number of at least 0 (0 turns a feature off). */
export function nonNegativeNumber(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 0) throw new UsageError(`--${name} must be a number of 0 or more, got '${v}'`);
  return n;
}

export function positiveNumber(name: string, v: string | undefined, integer = false): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new UsageError(`--${name} must be a positive ${integer ? 'integer' : 'number'}, got '${v}'`);
  }
  return n;
}

export function countryList(v: string | undefined): string[] | undefined {
  if (v === undefined) return undefined;
  const list = v.split(',').map((c) => c.trim().toUpperCase()).filter(Boolean);
  const bad = list.find((c) => !/^[A-Z]{2}$/.test(c));
  if (bad) throw new UsageError(`--watch-countries takes ISO 3166-1 alpha-2 codes separated by commas (like CN,HK,RU), got '${bad}'`);
  return list;
}

/** --local-networks: networks separated by commas, each checked now rather than at the first packet. */
export function networkList(v: string | undefined): string[] | undefined {
  if (v === undefined) return undefined;
  const list = v.split(',').map((n) => n.trim()).filter(Boolean);
  try {
    new Locality(list);
  } catch (e) {
    throw new UsageError(`--local-networks: ${(e as Error).message}`);
  }
  return list;
}

/** --format: the SIEM shape alerts are written in (eve or ecs); undefined keeps phonehome's own outputs only. */
export function siemFormat(v: string | undefined): SiemFormat | undefined {
  if (v === undefined) return undefined;
  if (!(SIEM_FORMATS as readonly string[]).includes(v)) throw new UsageError(`--format must be ${SIEM_FORMATS.join(' or ')} (Suricata EVE or Elastic Common Schema), got '${v.slice(0, 32)}'`);
  return v as SiemFormat;
}

function stateDir(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  if (v.trim() === '') throw new UsageError('--state takes a folder (such as /var/lib/phonehome/state), got an empty value');
  return v;
}

/** The analysis options analyze and sensor share: one definition, so both analyse alike. */
export const ANALYSIS_OPTIONS = {
  profiles: { type: 'string' },
  'no-profiles': { type: 'boolean' },
  detections: { type: 'string' },
  geoip: { type: 'string', multiple: true },
  intel: { type: 'string', multiple: true },
  'watch-countries': { type: 'string' },
  'local-networks': { type: 'string' },
  'max-flows': { type: 'string' },
  'max-devices': { type: 'string' },
  'max-alerts': { type: 'string' },
  'tcp-timeout': { type: 'string' },
  'udp-timeout': { type: 'string' },
  'other-timeout': { type: 'string' },
  state: { type: 'string' },
} as const;

type AnalysisValues = {
  profiles?: string;
  'no-profiles'?: boolean;
  detections?: string;
  geoip?: string[];
  intel?: string[];
  'watch-countries'?: string;
  'local-networks'?: string;
  'max-flows'?: string;
  'max-devices'?: string;
  'max-alerts'?: string;
  'tcp-timeout'?: string;
  'udp-timeout'?: string;
  'other-timeout'?: string;
  state?: string;
};

/** The parsed analysis options as the pipeline takes them. */
export function analysisSettings(v: AnalysisValues) {
  if (v.profiles && v['no-profiles']) throw new UsageError('--profiles and --no-profiles cannot be combined');
  const timeout = (name: 'tcp-timeout' | 'udp-timeout' | 'other-timeout') => positiveNumber(name, v[name]);
  return {
    profilesDir: v['no-profiles'] ? null : v.profiles,
    detectionsFile: v.detections,
    geoip: v.geoip,
    intel: v.intel,
    watchCountries: countryList(v['watch-countries']),
    localNetworks: networkList(v['local-networks']),
    maxFlows: positiveNumber('max-flows', v['max-flows'], true),
    maxDevices: positiveNumber('max-devices', v['max-devices'], true),
    maxAlerts: positiveNumber('max-alerts', v['max-alerts'], true),
    stateDir: stateDir(v.state),
    timeouts: {
      ...(v['tcp-timeout'] !== undefined && { tcp: timeout('tcp-timeout') }),
      ...(v['udp-timeout'] !== undefined && { udp: timeout('udp-timeout') }),
      ...(v['other-timeout'] !== undefined && { other: timeout('other-timeout') }),
    },
  };
}
