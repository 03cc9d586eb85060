// Strings that came off the wire (DHCP host names, DNS names, SNI, HTTP
// headers) are written where they can do harm: a terminal acts on ESC, CSI
// (also the one-character C1 form U+009B) and BEL, so a device could retitle,
// clear or rewrite the screen of whoever reads phonehome's report. Captures are
// decoded byte for byte (Latin-1), so every byte 0x80-0x9f arrives as a C1
// character; a lone surrogate (from anything that decoded UTF-16 badly) is
// no text at all. Bidirectional overrides and the Unicode line separators
// reorder or break what a reader sees. All of these are written as escapes.

/** C0 (with TAB, LF and CR), DEL, C1, the bidirectional controls, U+2028/U+2029 and lone surrogates. */
const UNSAFE_TEXT = /[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]/gu;

/** What JSON.stringify leaves raw of the above: it escapes C0 and lone surrogates itself. */
const UNSAFE_IN_JSON = /[\x7f-\x9f\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;

const hex = (c: string, width: number) => c.charCodeAt(0).toString(16).padStart(width, '0');

/** `\x1b` for C0 and DEL, `\u009b` for the rest (each a valid escape in JSON, YAML double quotes and JavaScript). */
function escapeChar(c: string): string {
  const code = c.charCodeAt(0);
  return code < 0x80 ? `\\x${hex(c, 2)}` : `\\u${hex(c, 4)}`;
}

/**
 * One line of text for a terminal: every character a terminal or a reader
 * could take for anything but text is written as an escape (ESC as `\x1b`,
 * CSI as `\u009b`), so the information stays readable and inert. Newlines are
 * escaped too: a value never starts a line of its own.
 */
export function terminalSafe(s: string): string {
  return s.replace(UNSAFE_TEXT, escapeChar);
}

/** Lines for a terminal: each line made safe, the line breaks between them kept. */
export function terminalSafeLines(text: string): string {
  return text.split('\n').map(terminalSafe).join('\n');
}

/**
 * JSON text (JSON.stringify's) with DEL, C1, the bidirectional controls and
 * U+2028/U+2029 written as \u escapes as well: the same JSON value, but inert
 * when printed or `cat` to a terminal. These characters can only stand inside
 * JSON strings, where \uXXXX means the character itself.
 */
export function jsonSafe(json: string): string {
  return json.replace(UNSAFE_IN_JSON, (c) => `\\u${hex(c, 4)}`);
}

const ANY_UNSAFE_IN_JSON = new RegExp(UNSAFE_IN_JSON.source);

/** True when jsonSafe would change `json`: a test is cheaper than a replace that finds nothing. */
export function needsJsonSafe(json: string): boolean {
  return ANY_UNSAFE_IN_JSON.test(json);
}

const ANY_UNSAFE_TEXT = new RegExp(UNSAFE_TEXT.source, 'u');

/** True when terminalSafe would change `s`. */
export function hasUnsafeText(s: string): boolean {
  return ANY_UNSAFE_TEXT.test(s);
}
