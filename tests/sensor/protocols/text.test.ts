// Wire bytes and strings shown in alerts: printable ASCII kept, the rest escaped, bounded.
import { describe, expect, it } from 'vitest';
import { printable, printableText, validRange } from '../../../sensor/protocols/text.js';

describe('printable', () => {
  it('keeps printable ASCII, escapes control bytes, bytes above ASCII and the backslash', () => {
    const b = Buffer.from('ok \x00\x1b[1m\\\xff~', 'latin1');
    expect(printable(b, 0, b.length, 100)).toBe('ok \\x00\\x1b[1m\\x5c\\xff~');
    expect(printableText('é\u202e\u{1f600}\n', 100)).toBe('\\xe9\\u{202e}\\u{1f600}\\x0a');
  });

  it('never returns more than max characters, even cutting an escape', () => {
    expect(printable(Buffer.alloc(50, 0), 0, 50, 10)).toBe('\\x00\\x00\\x');
    expect(printableText('\n'.repeat(50), 9)).toHaveLength(9);
  });

  it('validRange refuses ranges outside the buffer', () => {
    const b = Buffer.alloc(4);
    expect([validRange(b, 0, 4), validRange(b, 4, 0), validRange(b, 1, 4), validRange(b, -1, 1), validRange(b, 0.5, 1), validRange(b, 0, Number.NaN)]).toEqual([true, true, false, false, false, false]);
  });
});
