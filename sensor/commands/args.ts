import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A mistake in how a command was called: one line to stderr, exit 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export function parse<T extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: T) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true as const, strict: true as const });
  } catch (e) {
    throw new UsageError((e as Error).message.split('\n')[0].replace(/\. To specify .*/, ''));
  }
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
