// The one way the UI writes HTML: interpolations are escaped, controls are
// shown as escapes, links stay inside the collector whatever they carry.
import { describe, expect, it } from 'vitest';
import { cut, escapeHtml, href, html, lines, trusted } from '../../../collector/ui/html.js';

const HOSTILE = ['<script>alert(1)</script>', '"><img src=x onerror=alert(1)>', "' onmouseover='alert(1)", 'javascript:alert(1)', '`${x}`'];

describe('html', () => {
  it('escapes every interpolated string, in content and in quoted attributes', () => {
    for (const s of HOSTILE) {
      const out = html`<p title="${s}">${s}</p>`.text;
      expect(out).not.toMatch(/<script|<img|"\s*>\s*<|'\s*on/i);
      expect(out.match(/</g)).toHaveLength(2);
      expect(out.match(/"/g)).toHaveLength(2);
    }
    expect(escapeHtml('<a href="x">&\'`')).toBe('&lt;a href=&quot;x&quot;&gt;&amp;&#39;&#96;');
  });

  it('shows control and bidirectional characters as escapes, not as themselves', () => {
    expect(escapeHtml('evil\u202egpj.exe\x1b[2J')).toBe('evil\\u202egpj.exe\\x1b[2J');
  });

  it('keeps Html it is given and joins arrays, each item escaped', () => {
    expect(html`<ul>${['<a>', html`<li>ok</li>`, trusted('<br>')]}</ul>`.text).toBe('<ul>&lt;a&gt;<li>ok</li><br></ul>');
    expect(html`${null}${undefined}${false}${0}`.text).toBe('0');
  });

  it('cuts long values, keeping the start in the title, escaped', () => {
    const long = '<b>' + 'x'.repeat(5000);
    const out = cut(long, 10).text;
    expect(out).toBe(`<span title="&lt;b&gt;${'x'.repeat(1997)}">&lt;b&gt;xxxxxxx…</span>`);
  });

  it('builds links that start with / and encode each segment, whatever the values', () => {
    expect(href(['ui', 'devices', '50:c7:bf:00:c7:03'])).toBe('/ui/devices/50:c7:bf:00:c7:03');
    expect(href(['ui', 'alerts', 'javascript:alert(1)'])).toBe('/ui/alerts/javascript:alert(1)');
    expect(href(['ui', 'alerts', '../../x?y#z'])).toBe('/ui/alerts/..%2F..%2Fx%3Fy%23z');
    expect(href(['ui'], { rule: 'a&b=c', device: undefined, sensor: '' })).toBe('/ui?rule=a%26b%3Dc');
  });

  it('keeps the line breaks of text for a <pre>, escaping each line', () => {
    expect(lines('a: <b>\n  - "x"\x1b\n').text).toBe('a: &lt;b&gt;\n  - &quot;x&quot;\\x1b\n');
  });
});
