// The page around every view: navigation, who is logged in, the logout form
// and the assets, all from the collector itself (no CDN, no inline script or
// style: the Content-Security-Policy allows 'self' only).
import { html, type Html } from './html.js';
import type { Session } from './session.js';

/** What a page is rendered for: the session (null on the login page) and the CSRF token of its forms. */
export interface View {
  session: Session | null;
  csrf: string;
}

export const canChange = (v: View): boolean => v.session !== null && v.session.role !== 'viewer';

/** A hidden field carrying the CSRF token; every form that changes something has one. */
export const csrfField = (v: View): Html => html`<input type="hidden" name="_csrf" value="${v.csrf}">`;

function nav(v: View): Html {
  if (!v.session) return html``;
  return html`<nav>
  <a href="/ui">Alerts</a> <a href="/ui/mutes">Mutes</a> <a href="/ui/sensors">Sensors</a>
  <span class="who">${v.session.name} (${v.session.role})</span>
  <form method="post" action="/ui/logout" class="inline">${csrfField(v)}<button type="submit" id="logout">Log out</button></form>
</nav>`;
}

/** A page; `scripts` are loaded after htmx (the UI's own, compiled as ES modules, as modules). */
export function page(title: string, v: View, body: Html, opts: { scripts?: string[] } = {}): Html {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="htmx-config" content='{"includeIndicatorStyles":false,"allowEval":false,"allowScriptTags":false,"selfRequestsOnly":true}'>
<title>${title} · phonehome</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/ui/assets/app.css">
<link rel="stylesheet" href="/ui/vendor/uplot/uPlot.min.css">
<script src="/ui/vendor/htmx/htmx.min.js" defer></script>
${(opts.scripts ?? []).map((s) => (s.startsWith('/ui/assets/') ? html`<script type="module" src="${s}"></script>` : html`<script src="${s}" defer></script>`))}
</head>
<body>
<header><a class="brand" href="/ui">phonehome</a>${nav(v)}</header>
<main>
<h1>${title}</h1>
${body}
</main>
</body>
</html>`;
}

/** The UI's one style sheet (served as /ui/assets/app.css). */
export const STYLESHEET = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1d1d1f; background: #fafafa; }
header { display: flex; gap: 1.5em; align-items: center; padding: .5em 1em; background: #22303c; color: #fff; }
header a { color: #fff; text-decoration: none; margin-right: 1em; }
header .brand { font-weight: bold; }
header nav { display: flex; align-items: center; gap: .5em; flex: 1; }
header .who { margin-left: auto; opacity: .8; }
main { padding: 1em 1.5em; max-width: 1400px; }
h1 { font-size: 1.4em; margin: .2em 0 .6em; word-break: break-all; }
h2 { font-size: 1.1em; margin-top: 1.5em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; width: 100%; margin: .5em 0; background: #fff; }
th, td { text-align: left; padding: .25em .5em; border-bottom: 1px solid #eee; vertical-align: top; overflow-wrap: anywhere; }
th { background: #f0f2f4; }
form.inline { display: inline; }
form.filters { display: flex; flex-wrap: wrap; gap: .5em; align-items: end; background: #fff; padding: .5em; border: 1px solid #ddd; }
form.filters label, form.stack label { display: flex; flex-direction: column; font-size: .85em; }
form.stack { display: grid; gap: .5em; max-width: 40em; }
.sev-critical, .sev-high { color: #b00020; font-weight: bold; }
.sev-medium { color: #b35c00; }
.badge { display: inline-block; padding: 0 .4em; border-radius: .3em; background: #e3e6ea; font-size: .85em; }
.badge.muted { background: #d8d0f0; }
.badge.open { background: #fde2e1; }
.badge.acknowledged { background: #fff3c4; }
.badge.resolved { background: #d9f2dc; }
.none { color: #999; }
.error { color: #b00020; font-weight: bold; }
.notice { background: #eef6ff; border: 1px solid #b6d4fe; padding: .5em; }
.counts { display: flex; flex-wrap: wrap; gap: 1em; }
.counts table { width: auto; }
pre { background: #fff; border: 1px solid #ddd; padding: .5em; overflow: auto; white-space: pre-wrap; overflow-wrap: anywhere; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .2em 1em; }
dl.facts dt { font-weight: bold; }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
.chart { min-height: 220px; }
.geo { display: flex; flex-wrap: wrap; gap: 1em; align-items: flex-start; }
.geo-table { flex: 1; min-width: 22em; }
figure.world-map { margin: 0; flex: 0 1 640px; }
figure.world-map svg { width: 100%; height: auto; background: #eef3f7; border: 1px solid #ddd; }
figure.world-map path { stroke: #fff; stroke-width: .5; }
figure.world-map path:hover { stroke: #22303c; stroke-width: 1.2; }
figure.world-map figcaption { font-size: .85em; color: #555; }
ul.map-legend { list-style: none; padding: 0; margin: .3em 0; display: flex; flex-wrap: wrap; gap: .2em 1em; font-size: .85em; }
.swatch { display: inline-block; width: 1em; height: 1em; vertical-align: middle; margin-right: .3em; border: 1px solid #ccc; }
.shade-0 { fill: #d9dde1; background: #d9dde1; }
.shade-1 { fill: #fde0c5; background: #fde0c5; }
.shade-2 { fill: #facba6; background: #facba6; }
.shade-3 { fill: #f59e72; background: #f59e72; }
.shade-4 { fill: #e4643c; background: #e4643c; }
.shade-5 { fill: #b22a1c; background: #b22a1c; }
`;
