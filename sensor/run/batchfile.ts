import * as crypto from 'node:crypto';

/**
 * How a batch is stored in the spool: a first line that is a small JSON
 * object with the sha256 of the body and a short hash of each event, then the
 * body, byte for byte the IngestBatch JSON sent to the collector. The first
 * line lets a garbled file be detected before it is sent, and lets each event
 * that is still whole be told from one that is not.
 *
 *   {"spool":1,"sha256":"<64 hex>","events":["<16 hex>",...]}\n
 *   {"batch_id":...,"sensor":{...},"events":[...]}
 */
export const SPOOL_FORMAT = 1;
const HEADER_START = '{"spool":';
/** a 64-bit prefix of an event's sha256: enough to tell a damaged event from a whole one */
const EVENT_HASH_HEX = 16;

// One-shot hashing (Node >= 20.12) is cheaper per event than a Hash object; older Node falls back.
const oneShot = (crypto as { hash?: (alg: string, data: string | Buffer, enc: 'hex') => string }).hash;
const sha256 = oneShot ? (s: string | Buffer): string => oneShot('sha256', s, 'hex') : (s: string | Buffer): string => crypto.createHash('sha256').update(s).digest('hex');
const eventHash = (s: string): string => sha256(s).slice(0, EVENT_HASH_HEX);

export interface SplitBody {
  /** the body up to and including the '[' of its "events" array */
  prefix: string;
  /** each element of that array, as its exact text */
  events: string[];
}

/**
 * The events of a well-formed batch body as their exact text (not
 * re-serialised: a resent or split event is byte-identical to the one
 * produced). null when the body has no top-level "events" array.
 */
export function splitBody(body: string): SplitBody | null {
  let depth = 0;
  let inString = false;
  let escaped = false;
  let stringStart = -1;
  let lastString = '';
  let arrayAt = -1;
  let elementAt = -1;
  const events: string[] = [];
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (inString) {
      if (escaped) escaped = false;
      else if (c === '\\') escaped = true;
      else if (c === '"') {
        inString = false;
        if (depth === 1) lastString = body.slice(stringStart + 1, i);
      }
      continue;
    }
    if (c === '"') {
      inString = true;
      stringStart = i;
    } else if (c === '{' || c === '[') {
      if (arrayAt >= 0 && depth === 2 && elementAt < 0) elementAt = i;
      depth++;
      if (c === '[' && depth === 2 && arrayAt < 0 && lastString === 'events') arrayAt = i;
    } else if (c === '}' || c === ']') {
      depth--;
      if (arrayAt >= 0 && depth === 1 && c === ']') {
        if (elementAt >= 0) events.push(body.slice(elementAt, i).trim());
        return { prefix: body.slice(0, arrayAt + 1), events };
      }
    } else if (c === ',' && arrayAt >= 0 && depth === 2) {
      events.push(body.slice(elementAt, i).trim());
      elementAt = -1;
    }
  }
  return null;
}

/** A batch body from a prefix (see splitBody) and events' text. */
export const joinBody = (prefix: string, events: readonly string[]): string => `${prefix}${events.join(',')}]}`;

/** The spool file of a body; events: its events' text when the caller has it (else found by splitBody). */
export function encodeBatchFile(body: string, events?: readonly string[]): Buffer {
  const list = events ?? splitBody(body)?.events ?? [];
  // The body is encoded once and hashed as bytes: hashing the string encoded it again, and cost
  // seven times as much as the bytes' hash on a batch of 500 events.
  const bytes = Buffer.from(body);
  return withHeader(bytes, list.map(eventHash));
}

function withHeader(body: Buffer, eventHashes: string[]): Buffer {
  const header = { spool: SPOOL_FORMAT, sha256: sha256(body), events: eventHashes };
  return Buffer.concat([Buffer.from(`${JSON.stringify(header)}\n`), body]);
}

/** Where batch bodies are encoded: reused, grown to the largest batch seen up to a bound (a large evidence capture gets its own). */
let scratch = Buffer.allocUnsafe(0);
const SCRATCH_MAX = 8 << 20;

/**
 * The spool file of the body joinBody(prefix, events) gives, byte for byte
 * the same as encodeBatchFile's, without making that string: each event is
 * encoded once into the body's bytes and hashed there.
 */
export function encodeBatchParts(prefix: string, events: readonly string[]): Buffer {
  let worst = 3 * (prefix.length + events.length + 2);
  for (const e of events) worst += 3 * e.length;
  if (scratch.length < worst && worst <= SCRATCH_MAX) scratch = Buffer.allocUnsafe(worst);
  const buf = scratch.length >= worst ? scratch : Buffer.allocUnsafe(worst);
  let at = buf.write(prefix, 0);
  const hashes: string[] = new Array<string>(events.length);
  for (let i = 0; i < events.length; i++) {
    if (i > 0) buf[at++] = 0x2c; // ','
    const start = at;
    at += buf.write(events[i], at);
    hashes[i] = sha256(buf.subarray(start, at)).slice(0, EVENT_HASH_HEX);
  }
  at += buf.write(']}', at);
  // withHeader copies the body out, so the scratch buffer is free again.
  return withHeader(buf.subarray(0, at), hashes);
}

export type DecodedBatch =
  | { ok: true; body: string }
  /**
   * The file does not hold what was written. salvaged: the events still
   * whole, in order; expected: how many the batch had (null when the first
   * line is unreadable too); prefix: a body prefix to send them with.
   */
  | { ok: false; why: string; salvaged: string[]; expected: number | null; prefix: string | null };

interface Header {
  sha256: string;
  events: string[];
}

function readHeader(line: string): Header | null {
  try {
    const h = JSON.parse(line) as Partial<Header> & { spool?: unknown };
    if (h.spool !== SPOOL_FORMAT || typeof h.sha256 !== 'string' || !Array.isArray(h.events) || !h.events.every((e) => typeof e === 'string')) return null;
    return { sha256: h.sha256, events: h.events };
  } catch {
    return null;
  }
}

/**
 * Verifies a spool file. A file without the first line (written by an
 * older sensor) is taken when its body is valid JSON.
 */
export function decodeBatchFile(text: string): DecodedBatch {
  if (!text.startsWith(HEADER_START)) {
    if (validJson(text)) return { ok: true, body: text };
    return garbled('not valid JSON and no checksum line', text, null);
  }
  const nl = text.indexOf('\n');
  const header = nl < 0 ? null : readHeader(text.slice(0, nl));
  const body = nl < 0 ? '' : text.slice(nl + 1);
  if (!header) return garbled('its checksum line is damaged', body, null);
  if (sha256(body) === header.sha256) return { ok: true, body };
  return garbled(`its sha256 is not the one written (${header.events.length} events)`, body, header.events);
}

function validJson(s: string): boolean {
  try {
    JSON.parse(s);
    return true;
  } catch {
    return false;
  }
}

const EVENT_START = '{"kind":"';
const EVENT_KINDS = new Set(['flow', 'alert', 'device', 'evidence']);

/**
 * What can still be read from a damaged body: each event whose hash is
 * one of those written (or, with no hashes, that parses as an event), in
 * order. An event starts with {"kind":" right after '[' or ',' (a quote
 * inside a string is escaped, so that text cannot occur inside one); it ends
 * before a later event's start or the array's end.
 */
function garbled(why: string, body: string, hashes: string[] | null): DecodedBatch {
  const starts: number[] = [];
  for (let i = body.indexOf(EVENT_START); i >= 0; i = body.indexOf(EVENT_START, i + 1)) {
    if (body[i - 1] === '[' || body[i - 1] === ',') starts.push(i);
  }
  const ends = [...starts.slice(1).map((s) => s - 1), body.lastIndexOf(']')].filter((e) => e > 0);
  const want = hashes ? new Set(hashes) : null;
  const salvaged: string[] = [];
  for (const s of starts) {
    // A damaged event's text may hide the next start: try a few ends, not all of them.
    for (const e of ends.filter((x) => x > s).slice(0, 8)) {
      const text = body.slice(s, e);
      if (want ? want.has(eventHash(text)) : isEvent(text)) {
        salvaged.push(text);
        break;
      }
    }
  }
  const head = starts.length > 0 ? body.slice(0, starts[0]) : '';
  const prefix = head.endsWith('"events":[') && validJson(`${head}]}`) ? head : null;
  return { ok: false, why, salvaged, expected: hashes ? hashes.length : null, prefix };
}

function isEvent(text: string): boolean {
  try {
    const e = JSON.parse(text) as { kind?: unknown; key?: unknown; data?: unknown };
    return typeof e.kind === 'string' && EVENT_KINDS.has(e.kind) && typeof e.key === 'string' && typeof e.data === 'object' && e.data !== null;
  } catch {
    return false;
  }
}
