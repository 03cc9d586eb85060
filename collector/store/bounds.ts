// Bounds on the JSON an event may carry, and serialising that never
// recurses. JSON.parse is iterative, but JSON.stringify, Ajv and whatever
// reads a record back are not: an event nested thousands of levels deep
// would overflow the stack where the collector stores it or serves it. Every
// walk here keeps its own stack.

/** The shape an event may have; beyond it the event is refused (too_deep / too_large). */
export const LIMITS = {
  /** objects and arrays nested in one another, the event itself being level 1 */
  depth: 32,
  /** characters of one string (or field name); evidence pcap_base64 is bounded by the body limit only */
  stringChars: 64 * 1024,
  /** items of one array */
  arrayItems: 10_000,
  /** fields of one object */
  objectFields: 10_000,
} as const;

/** Characters of a refused event the collector keeps (dead letters). */
export const DEAD_LETTER_EVENT_CHARS = 16 * 1024;

export interface Breach {
  code: 'too_deep' | 'too_large';
  reason: string;
}

/** A value met in a walk, with how it was reached (the path is built only when needed). */
interface Node {
  value: unknown;
  depth: number;
  parent: Node | null;
  segment: string | number;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** "data.destinations[3].name" of an event; field names that came off the wire are quoted and cut. */
export function renderPath(segments: (string | number)[]): string {
  const parts = segments.map((s) => {
    if (typeof s === 'number') return `[${s}]`;
    if (IDENTIFIER.test(s) && s.length <= 64) return `.${s}`;
    return `[${JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}…` : s)}]`;
  });
  const path = parts.join('').replace(/^\./, '');
  return path === '' ? 'the event' : path;
}

function pathOf(n: Node): string {
  const segments: (string | number)[] = [];
  for (let x: Node | null = n; x && x.parent; x = x.parent) segments.push(x.segment);
  return renderPath(segments.reverse());
}

function tooLargeString(s: string, at: Node, exempt: string | null): Breach | null {
  if (s.length <= LIMITS.stringChars) return null;
  const path = pathOf(at);
  if (path === exempt) return null;
  return { code: 'too_large', reason: `${path} is ${s.length} characters long; at most ${LIMITS.stringChars} are taken` };
}

/** The children of a container to visit next, or a breach of the container's own bounds. */
function children(n: Node): Node[] | Breach {
  const v = n.value as object;
  if (n.depth > LIMITS.depth) return { code: 'too_deep', reason: `${pathOf(n)} nests deeper than ${LIMITS.depth} levels` };
  if (Array.isArray(v)) {
    if (v.length > LIMITS.arrayItems) return { code: 'too_large', reason: `${pathOf(n)} has ${v.length} items; at most ${LIMITS.arrayItems} are taken` };
    return v.map((value, i) => ({ value, depth: n.depth + 1, parent: n, segment: i }));
  }
  const keys = Object.keys(v);
  if (keys.length > LIMITS.objectFields) return { code: 'too_large', reason: `${pathOf(n)} has ${keys.length} fields; at most ${LIMITS.objectFields} are taken` };
  const out: Node[] = [];
  for (const k of keys) {
    if (k.length > LIMITS.stringChars) return { code: 'too_large', reason: `a field name in ${pathOf(n)} is ${k.length} characters long; at most ${LIMITS.stringChars} are taken` };
    out.push({ value: (v as Record<string, unknown>)[k], depth: n.depth + 1, parent: n, segment: k });
  }
  return out;
}

/**
 * The first bound a parsed JSON value breaks, or null. `exempt` is the path
 * of a string bounded elsewhere (evidence pcap_base64, by the body limit).
 */
export function checkBounds(value: unknown, exempt: string | null = null): Breach | null {
  const stack: Node[] = [{ value, depth: 1, parent: null, segment: '' }];
  while (stack.length) {
    const n = stack.pop()!;
    if (typeof n.value === 'string') {
      const b = tooLargeString(n.value, n, exempt);
      if (b) return b;
    } else if (typeof n.value === 'object' && n.value !== null) {
      const next = children(n);
      if (!Array.isArray(next)) return next;
      for (let i = next.length - 1; i >= 0; i--) stack.push(next[i]);
    }
  }
  return null;
}

/** What is left to write: text as it is, or a value to serialise. */
type Pending = string | { value: unknown };

function pushContainer(todo: Pending[], v: object): void {
  if (Array.isArray(v)) {
    todo.push(']');
    for (let i = v.length - 1; i >= 0; i--) todo.push({ value: v[i] }, i > 0 ? ',' : '');
    todo.push('[');
    return;
  }
  const entries = Object.entries(v);
  todo.push('}');
  for (let i = entries.length - 1; i >= 0; i--) todo.push({ value: entries[i][1] }, `${i > 0 ? ',' : ''}${JSON.stringify(entries[i][0])}:`);
  todo.push('{');
}

/**
 * JSON text of a parsed JSON value, cut after `max` characters, written
 * without recursion so that any nesting can be kept (as a dead letter).
 */
export function boundedJson(value: unknown, max: number): { text: string; truncated: boolean } {
  let out = '';
  const todo: Pending[] = [{ value }];
  while (todo.length && out.length <= max) {
    const t = todo.pop()!;
    if (typeof t === 'string') out += t;
    else if (typeof t.value === 'object' && t.value !== null) pushContainer(todo, t.value);
    else out += JSON.stringify(t.value) ?? 'null';
  }
  const truncated = out.length > max || todo.length > 0;
  return { text: truncated ? out.slice(0, max) : out, truncated };
}

/**
 * A stored JSON record, parsed, with whatever is nested deeper than the
 * bound replaced by null: a record stored before the bound existed must not
 * make serving it overflow the stack.
 */
export function parseRecord<T>(text: string): T {
  const root: unknown = JSON.parse(text);
  const stack: [object, number][] = typeof root === 'object' && root !== null ? [[root, 1]] : [];
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o)) {
      const child = o[k];
      if (typeof child !== 'object' || child === null) continue;
      if (depth >= LIMITS.depth) o[k] = null;
      else stack.push([child, depth + 1]);
    }
  }
  return root as T;
}
