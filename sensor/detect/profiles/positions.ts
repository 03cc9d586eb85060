// Line numbers for JSON. JSON.parse reports no line (and in current V8 often
// no position either), so a small scanner finds where the text goes wrong
// and, for errors in what the JSON means, where a given value starts.

/** Where a value sits in a JSON document: the keys and array indexes leading to it. */
export type JsonPath = Array<string | number>;

class JsonStop {
  constructor(
    readonly offset: number,
    readonly detail: string,
  ) {}
}

const NUM = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/** Walks JSON text once, noting where each value starts; throws JsonStop at the first syntax error. */
class Scanner {
  private i = 0;

  constructor(
    private readonly t: string,
    private readonly positions: Map<string, number> | null,
  ) {}

  document(): void {
    this.value([]);
    this.ws();
    if (this.i < this.t.length) this.stop(`unexpected ${this.found()} after the end of the JSON value`);
  }

  private stop(detail: string): never {
    throw new JsonStop(this.i, detail);
  }

  private found(): string {
    return this.i >= this.t.length ? 'the end of the text' : JSON.stringify(this.t[this.i]);
  }

  private ws(): void {
    const t = this.t;
    while (this.i < t.length && (t[this.i] === ' ' || t[this.i] === '\t' || t[this.i] === '\n' || t[this.i] === '\r')) this.i++;
  }

  // Objects and arrays are read here rather than in methods of their own so
  // that each level of nesting costs one stack frame: a deeply nested document
  // runs the scanner out of stack no sooner than it has to.
  private value(path: JsonPath): void {
    this.ws();
    this.positions?.set(JSON.stringify(path), this.i);
    const c = this.t[this.i];
    if (c !== '{' && c !== '[') return this.scalar();
    const close = c === '{' ? '}' : ']';
    this.i++;
    this.ws();
    if (this.t[this.i] === close) {
      this.i++;
      return;
    }
    for (let n = 0; ; n++) {
      this.value([...path, close === '}' ? this.propertyName() : n]);
      this.ws();
      if (this.t[this.i] === ',') {
        this.i++;
        continue;
      }
      if (this.t[this.i] === close) {
        this.i++;
        return;
      }
      this.stop(close === '}' ? `expected "," or "}" after a property value, found ${this.found()}` : `expected "," or "]" after an array element, found ${this.found()}`);
    }
  }

  /** `"name":` inside an object, up to the value. */
  private propertyName(): string {
    this.ws();
    if (this.t[this.i] !== '"') this.stop(`expected a property name in double quotes, found ${this.found()}`);
    const key = this.str();
    this.ws();
    if (this.t[this.i] !== ':') this.stop(`expected ":" after property name, found ${this.found()}`);
    this.i++;
    return key;
  }

  private scalar(): void {
    if (this.t[this.i] === '"') {
      this.str();
      return;
    }
    for (const lit of ['true', 'false', 'null']) {
      if (this.t.startsWith(lit, this.i)) {
        this.i += lit.length;
        return;
      }
    }
    NUM.lastIndex = this.i;
    if (NUM.exec(this.t)) {
      this.i = NUM.lastIndex;
      return;
    }
    this.stop(`expected a JSON value, found ${this.found()}`);
  }

  private str(): string {
    const t = this.t;
    const start = this.i;
    this.i++;
    while (this.i < t.length) {
      const c = t[this.i];
      if (c === '"') {
        this.i++;
        return JSON.parse(t.slice(start, this.i)) as string;
      }
      if (c === '\\') {
        const n = t[this.i + 1];
        if (n !== undefined && '"\\/bfnrt'.includes(n)) this.i += 2;
        else if (n === 'u' && /^[0-9a-fA-F]{4}$/.test(t.slice(this.i + 2, this.i + 6))) this.i += 6;
        else this.stop('invalid escape sequence in a string');
        continue;
      }
      if (c.charCodeAt(0) < 0x20) this.stop('control character in a string (a line break inside quotes?)');
      this.i++;
    }
    this.i = start;
    return this.stop('string is never closed');
  }
}

/** Scans `t`, filling `positions` (by JSON-encoded path) if given; returns the first syntax error, if any. */
function scan(t: string, positions: Map<string, number> | null): JsonStop | null {
  try {
    new Scanner(t, positions).document();
    return null;
  } catch (e) {
    if (e instanceof JsonStop) return e;
    return null; // e.g. nesting too deep for the scanner: no position, not a different verdict
  }
}

/** The 1-based line of a character offset. */
export function lineAt(t: string, offset: number): number {
  let line = 1;
  for (let k = 0; k < offset && k < t.length; k++) if (t.charCodeAt(k) === 10) line++;
  return line;
}

/** The line and description of the first syntax error in `text`, or null if the scanner finds none. */
export function jsonSyntaxError(text: string): { line: number; detail: string } | null {
  const stop = scan(text, null);
  return stop ? { line: lineAt(text, stop.offset), detail: stop.detail } : null;
}

/** The lines where a document's values start, found on the first question: most documents never need one. */
export class JsonLines {
  private positions: Map<string, number> | null = null;

  constructor(private readonly text: string) {}

  /** The line where the value at `path` starts, or null if there is none (or the scanner gave up before it). */
  line(path: JsonPath): number | null {
    if (!this.positions) {
      this.positions = new Map();
      scan(this.text, this.positions);
    }
    const off = this.positions.get(JSON.stringify(path));
    return off === undefined ? null : lineAt(this.text, off);
  }
}
