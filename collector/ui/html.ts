// HTML built only through the `html` tag: every interpolated value is
// escaped unless it is itself Html made by this module. Strings shown in the
// UI came off the wire (SNI, Host, DNS and DHCP names, User-Agents) and are
// hostile; there is no way to splice raw text into a page by accident.
import { terminalSafe } from '../../contract/escape.js';

export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

export type Value = Html | string | number | boolean | null | undefined | readonly Value[];

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };

/**
 * Text for HTML content or a quoted attribute: markup characters as
 * entities, and control, bidirectional and separator characters written as
 * visible escapes (`\x1b`, `\u202e`) so a name cannot hide or reorder what
 * is around it.
 */
export function escapeHtml(s: string): string {
  return terminalSafe(s).replace(/[&<>"'`]/g, (c) => ENTITIES[c]);
}

function render(v: Value): string {
  if (v instanceof Html) return v.text;
  if (v === null || v === undefined || v === false) return '';
  if (Array.isArray(v)) return v.map(render).join('');
  return escapeHtml(String(v));
}

/** A template whose interpolations are escaped (arrays joined, Html kept as it is). */
export function html(strings: TemplateStringsArray, ...values: Value[]): Html {
  let out = strings[0];
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1];
  return new Html(out);
}

/**
 * Text of several lines for a <pre>: each line escaped as any value is, the
 * line breaks kept (escapeHtml alone shows a newline as `\x0a`, so that a
 * value never starts a line of its own).
 */
export function lines(text: string): Html {
  return new Html(text.split('\n').map(escapeHtml).join('\n'));
}

/** Markup written in this code base (never a value from a request or the database). */
export function trusted(markup: string): Html {
  return new Html(markup);
}

/** A value cut to `max` characters for a table cell (the whole value in its title). */
export function cut(s: string | null | undefined, max = 120): Html {
  if (s === null || s === undefined) return html`<span class="none">–</span>`;
  return s.length <= max ? html`${s}` : html`<span title="${s.slice(0, 2000)}">${s.slice(0, max)}…</span>`;
}

/**
 * A link target inside the UI or the API: a fixed path, each dynamic segment
 * percent-encoded, and a query string. What it returns always starts with
 * `/`, so no value can turn it into a `javascript:` or another site's URL.
 */
export function href(path: readonly (string | number)[], query: Record<string, string | number | undefined | null> = {}): string {
  // Colons stay (MACs read as MACs); the path starts with '/', so a colon cannot make a scheme.
  const p = '/' + path.map((s, i) => (i === 0 ? String(s) : encodeURIComponent(String(s)).replace(/%3A/g, ':'))).join('/');
  const q = Object.entries(query)
    .filter(([, v]) => v !== undefined && v !== null && v !== '')
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
    .join('&');
  return q ? `${p}?${q}` : p;
}

/** Epoch seconds as UTC, to the second. */
export function time(ts: number | null | undefined): string {
  if (ts === null || ts === undefined || !Number.isFinite(ts)) return '–';
  return new Date(ts * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

/** Bytes for people: 1.2 MB. */
export function bytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n;
  let u = -1;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}
