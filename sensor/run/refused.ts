import { terminalSafe } from '../../contract/escape.js';

/** One event the collector did not store, and why. */
export interface Refusal {
  /** the event's key in the batch sent (null when unknown) */
  key: string | null;
  /** a stable code: the collector's, http_<status> for a whole batch, garbled_spool */
  code: string;
  reason: string;
}

/** What a 200 answer of POST /api/v1/events says, read defensively: the answer came off the wire. */
export interface Answer200 {
  accepted: number | null;
  duplicates: number | null;
  /** by index in the batch sent; an older collector sends none */
  refused: Map<number, Refusal>;
}

const MAX_REASON = 500;
const CODE_RE = /^[A-Za-z0-9_.-]{1,64}$/;

/** A code fit for a log field and a metric label; anything else is reported as 'other'. */
export const safeCode = (code: unknown): string => (typeof code === 'string' && CODE_RE.test(code) ? code : 'other');

/** Control characters escaped, length bounded: the text is logged and written to files a human reads. */
export function safeText(s: unknown, max = MAX_REASON): string {
  const text = typeof s === 'string' ? s : String(s ?? '');
  return terminalSafe(text.slice(0, max));
}

const count = (v: unknown): number | null => (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : null);

const KEY_RE = /^\{"kind":"[a-z]+","key":("(?:[^"\\]|\\.)*")/;

/** The key of an event, from its text (our own serialisation: kind, then key). */
export function keyOf(event: string): string | null {
  const m = KEY_RE.exec(event);
  if (!m) return null;
  try {
    return JSON.parse(m[1]) as string;
  } catch {
    return null;
  }
}

/** The kind of an event, from its text. */
export const kindOf = (event: string): string => /^\{"kind":"([a-z]+)"/.exec(event)?.[1] ?? 'other';

/**
 * Reads a 200 answer for the events sent (their text, in order). Entries
 * with an index outside the batch are ignored (nothing to keep for them);
 * an index given twice keeps its first reason.
 */
export function readAnswer(text: string, events: readonly string[]): Answer200 {
  let a: unknown;
  try {
    a = JSON.parse(text);
  } catch {
    a = null;
  }
  const o = (typeof a === 'object' && a !== null ? a : {}) as Record<string, unknown>;
  const refused = new Map<number, Refusal>();
  for (const r of Array.isArray(o.refused) ? o.refused : []) {
    if (typeof r !== 'object' || r === null) continue;
    const { index, code, reason } = r as Record<string, unknown>;
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= events.length || refused.has(index)) continue;
    refused.set(index, { key: keyOf(events[index]), code: safeCode(code), reason: safeText(reason) });
  }
  return { accepted: count(o.accepted), duplicates: count(o.duplicates), refused };
}

/** A rejected/ file: a batch body of just the refused events, with why each was refused (same order). */
export function rejectedRecord(prefix: string, events: readonly string[], why: readonly Refusal[]): string {
  return `${prefix}${events.join(',')}],"refused":${JSON.stringify(why)}}\n`;
}

/** Refusals per code, for one log line. */
export function byCode(why: readonly Refusal[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of why) out[r.code] = (out[r.code] ?? 0) + 1;
  return out;
}
