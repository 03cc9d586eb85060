// What makes the store refuse one event of a batch: its shape (bounds.ts),
// the contract's schema of its kind (checked strictly: `true` is not 1), and
// value checks that catch what a column type would silently coerce (SQLite
// keeps 1.5 in an INTEGER column, PostgreSQL refuses it), so both backends
// refuse the same events.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { eventSchemas } from '../../contract/schemas.js';
import type { RefusalCode } from '../../contract/types.js';
import { checkBounds, renderPath } from './bounds.js';

/** Why one event is refused; ingest keeps it as a dead letter and reports it in the batch's answer. */
export class Refusal extends Error {
  constructor(
    readonly code: RefusalCode,
    readonly reason: string,
  ) {
    super(reason);
  }
}

/** An event value the store refuses (invalid_event). */
export class Invalid extends Refusal {
  constructor(reason: string) {
    super('invalid_event', reason);
  }
}

/**
 * Ajv as the collector checks what sensors send: no type coercion (Fastify's
 * default would store `"ts": true` as 1), no defaults filled in, no fields
 * removed, the first error only.
 */
export function strictAjv(): Ajv {
  return new Ajv({ strict: true, allErrors: false, coerceTypes: false, useDefaults: false, removeAdditional: false, verbose: true });
}

/** Every code a refused event may carry, as /metrics and the dead-letters filter list them. */
export const REFUSAL_CODES: readonly RefusalCode[] = ['invalid_event', 'unknown_kind', 'too_deep', 'too_large', 'not_owner'];

export const KINDS = Object.keys(eventSchemas) as (keyof typeof eventSchemas)[];
let validators: Record<string, ValidateFunction> | null = null;

function validatorOf(kind: string): ValidateFunction {
  validators ??= Object.fromEntries(KINDS.map((k) => [k, strictAjv().compile(eventSchemas[k])]));
  return validators[kind];
}

/** A wire value in a message: short, quoted, never raw. */
function shown(v: unknown): string {
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object' && v !== null) return 'an object';
  const t = JSON.stringify(v) ?? String(v);
  return t.length > 40 ? `${t.slice(0, 40)}…` : t;
}

const jsonType = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : typeof v);

/** Ajv's JSON pointer ("/data/ips/0") as the event path "data.ips[0]". */
function pathOfPointer(pointer: string, extra?: string): string {
  const segments: (string | number)[] = pointer === '' ? [] : pointer.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~')).map((s) => (/^\d+$/.test(s) ? Number(s) : s));
  if (extra !== undefined) segments.push(extra);
  return renderPath(segments);
}

/** An Ajv error in words: the path and what was expected there. */
export function describeSchemaError(e: ErrorObject): string {
  const p = e.params as Record<string, unknown>;
  const at = pathOfPointer(e.instancePath);
  switch (e.keyword) {
    case 'required':
      return `${pathOfPointer(e.instancePath, String(p.missingProperty))} is required`;
    case 'additionalProperties':
      return `${at} has a field ${shown(p.additionalProperty)} it may not have`;
    case 'type':
      return `${at} must be ${[p.type].flat().join(' or ')}, got ${jsonType(e.data)}`;
    case 'enum':
      return `${at} must be one of ${(p.allowedValues as unknown[]).map((v) => String(v)).join(', ')}, got ${shown(e.data)}`;
    case 'const':
      return `${at} must be ${shown(p.allowedValue)}, got ${shown(e.data)}`;
    default:
      return `${at} ${e.message ?? 'is not valid'}`;
  }
}

/**
 * Checks one event of a batch as it came off the wire: an object, within the
 * bounds, of a known kind, valid against its kind's schema. Throws Refusal.
 */
export function checkEvent(ev: unknown): { kind: (typeof KINDS)[number]; key: string } {
  if (typeof ev !== 'object' || ev === null || Array.isArray(ev)) throw new Invalid(`the event must be an object with kind, key and data, got ${jsonType(ev)}`);
  const { kind } = ev as { kind?: unknown };
  const breach = checkBounds(ev, kind === 'evidence' ? 'data.pcap_base64' : null);
  if (breach) throw new Refusal(breach.code, breach.reason);
  if (typeof kind !== 'string') throw new Invalid(`kind must be one of ${KINDS.join(', ')}, got ${jsonType(kind)}`);
  if (!(KINDS as string[]).includes(kind)) throw new Refusal('unknown_kind', `kind ${shown(kind)} is not one of ${KINDS.join(', ')}`);
  const validate = validatorOf(kind);
  if (!validate(ev)) throw new Invalid(describeSchemaError(validate.errors![0]));
  return { kind: kind as (typeof KINDS)[number], key: (ev as { key: string }).key };
}

// PostgreSQL cannot store U+0000 in text, and a device can put one in a DNS
// name: refusing it would lose the whole batch, so columns get U+FFFD on both
// backends (the JSON record keeps the exact text).
const NUL = /\u0000/g;
const column = (v: string): string => (v.includes('\u0000') ? v.replace(NUL, '\ufffd') : v);

export function str(v: unknown, what: string): string {
  if (typeof v !== 'string' || v === '') throw new Invalid(`${what} must be a non-empty string`);
  return column(v);
}
export function optStr(v: unknown, what: string): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v !== 'string') throw new Invalid(`${what} must be a string or null`);
  return column(v);
}
export function num(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Invalid(`${what} must be a finite number`);
  return v;
}
export function int(v: unknown, what: string): number {
  if (!Number.isSafeInteger(v) || (v as number) < 0) throw new Invalid(`${what} must be a non-negative integer`);
  return v as number;
}
export function obj(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Invalid(`${what} must be an object`);
  return v as Record<string, unknown>;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** The bytes of base64 text, whitespace ignored. Buffer.from(.., 'base64') skips what it does not understand; a corrupt pcap must not be stored as if it were fine. */
export function base64(v: unknown, what: string): Buffer {
  const b64 = typeof v === 'string' ? v.replace(/\s+/g, '') : null;
  if (b64 === null || !BASE64.test(b64)) throw new Invalid(`${what} must be base64`);
  return Buffer.from(b64, 'base64');
}
