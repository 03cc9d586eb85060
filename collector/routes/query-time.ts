import { BadTimeError } from '../errors.js';

/** ISO 8601 as analysts and Grafana write it: a date, optionally a time, optionally a zone. */
const ISO_8601 = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;

/** A querystring time: epoch seconds or ISO 8601, nothing else (Date.parse alone takes '-1' or "' OR '1'='1" for the year 2001). */
export function parseTime(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = /^\d+(\.\d+)?$/.test(v) ? Number(v) : ISO_8601.test(v) ? Date.parse(v) / 1000 : NaN;
  if (!Number.isFinite(n)) throw new BadTimeError(name, v);
  return n;
}
