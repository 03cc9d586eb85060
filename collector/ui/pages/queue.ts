// The alert queue (/ui): filters, counts by rule and severity, grouping by
// rule or device, newest first, and bulk acknowledge/resolve with a note.
// Alerts a mute covers are hidden by default and counted.
import type { FastifyInstance } from 'fastify';
import type { AlertState, StoredAlert } from '../../../contract/types.js';
import { parseTime } from '../../routes/query-time.js';
import type { AlertFilter, AlertGroup } from '../../store/store.js';
import { safeNext, sessionFor } from '../guard.js';
import { cut, href, html, time, type Html } from '../html.js';
import { canChange, csrfField, page, type View } from '../layout.js';
import { send, viewOf, type UiContext } from '../view.js';

export const SEVERITIES = ['critical', 'high', 'medium', 'low', 'info'] as const;
export const STATUSES = ['open', 'acknowledged', 'resolved'] as const;
const FILTERS = ['rule', 'device', 'severity', 'status', 'country', 'operator', 'sensor', 'destination', 'from', 'to'] as const;

/** The queue's query string, as the filter form and the links of other pages write it. */
export type QueueQuery = Partial<Record<(typeof FILTERS)[number] | 'group' | 'muted' | 'cursor', string>>;

const oneOf = <T extends string>(v: string | undefined, allowed: readonly T[]): T | undefined => (allowed as readonly string[]).includes(v ?? '') ? (v as T) : undefined;
const given = (v: string | undefined): string | undefined => (v === undefined || v.trim() === '' ? undefined : v.trim());

/** The store filter of a queue query; values a form cannot produce (an unknown severity) are left out. */
export function queueFilter(q: QueueQuery, now: number): AlertFilter {
  const muted = q.muted === 'show' ? undefined : q.muted === 'only' ? 'only' : 'hide';
  return {
    rule: given(q.rule), device: given(q.device)?.toLowerCase(), severity: oneOf(q.severity, SEVERITIES), status: oneOf(q.status, STATUSES),
    country: given(q.country)?.toUpperCase(), operator: given(q.operator), sensor: given(q.sensor), destination: given(q.destination),
    from: parseTime(given(q.from), 'from'), to: parseTime(given(q.to), 'to'), muted, now, limit: 50, cursor: given(q.cursor),
  };
}

function select(name: string, value: string | undefined, options: readonly (readonly [string, string])[], id = `f-${name}`): Html {
  return html`<select name="${name}" id="${id}">${options.map(([v, label]) => html`<option value="${v}"${v === (value ?? '') ? html` selected` : ''}>${label}</option>`)}</select>`;
}

function filterForm(q: QueueQuery, rules: string[]): Html {
  const text = (name: keyof QueueQuery, label: string, hint = '') =>
    html`<label>${label}<input name="${name}" id="f-${name}" value="${q[name] ?? ''}" placeholder="${hint}"></label>`;
  return html`<form method="get" action="/ui" class="filters" id="filters">
  <label>Rule ${select('rule', q.rule, [['', 'any'], ...rules.map((r) => [r, r] as const)])}</label>
  <label>Severity ${select('severity', q.severity, [['', 'any'], ...SEVERITIES.map((s) => [s, s] as const)])}</label>
  <label>Status ${select('status', q.status, [['', 'any'], ...STATUSES.map((s) => [s, s] as const)])}</label>
  ${text('device', 'Device', 'MAC')} ${text('destination', 'Destination', 'address or name')} ${text('country', 'Country', 'CN')} ${text('operator', 'Operator', 'AS organisation or AS16509')}
  ${text('sensor', 'Sensor')} ${text('from', 'From', 'ISO 8601 or epoch')} ${text('to', 'To')}
  <label>Group by ${select('group', q.group, [['', 'nothing'], ['rule', 'rule'], ['device', 'device']])}</label>
  <label>Muted ${select('muted', q.muted, [['', 'hidden'], ['show', 'shown'], ['only', 'only muted']])}</label>
  <button type="submit" id="apply">Apply</button> <a href="/ui">Clear</a>
</form>`;
}

function countTable(title: string, groups: AlertGroup[], link: (key: string) => string): Html {
  return html`<table class="count-${title.toLowerCase()}"><tr><th>${title}</th><th>alerts</th><th>muted</th></tr>
${groups.map((g) => html`<tr><td><a href="${link(g.key)}">${g.key}</a></td><td>${g.count}</td><td>${g.muted || ''}</td></tr>`)}</table>`;
}

/** The queue's own URL with some parameters changed (undefined removes one). */
export function queueHref(q: QueueQuery, change: QueueQuery): string {
  const next: Record<string, string | undefined> = { ...q, cursor: undefined, ...change };
  return href(['ui'], next);
}

function deviceCell(a: StoredAlert): Html {
  const key = a.device.mac ?? a.device.ip;
  return html`<a href="${href(['ui', 'devices', key])}">${key}</a>${a.device.vendor ? html`<br><small>${cut(a.device.vendor, 40)}</small>` : ''}`;
}

export function destinationCell(d: StoredAlert['destination']): Html {
  if (!d) return html`<span class="none">–</span>`;
  const operator = d.as_org ?? (d.asn !== null ? `AS${d.asn}` : null);
  const link = operator ? html`<a href="${href(['ui'], { operator })}" class="operator-link" title="alerts to this operator">${cut(operator, 40)}</a>` : '';
  return html`${d.name ? html`${cut(d.name, 60)}<br>` : ''}<small>${d.ip ?? ''}${d.port !== null ? `:${d.port}` : ''} ${d.country ?? ''} ${link}</small>`;
}

export const statusBadge = (s: AlertState['status']): Html => html`<span class="badge ${s}">${s}</span>`;

function alertRow(a: StoredAlert, muted: boolean, selectable: boolean): Html {
  return html`<tr class="alert-row" data-id="${a.id}">
  <td>${selectable ? html`<input type="checkbox" name="ids" value="${a.id}" form="bulk" aria-label="select">` : ''}</td>
  <td>${time(a.ts)}</td><td class="sev-${a.severity}">${a.severity}</td>
  <td><a href="${href(['ui', 'alerts', a.id])}" class="alert-link">${a.rule}</a></td>
  <td>${deviceCell(a)}</td><td>${destinationCell(a.destination)}</td><td>${cut(a.message, 160)}</td>
  <td>${statusBadge(a.state.status)}${muted ? html` <span class="badge muted">muted</span>` : ''}</td>
</tr>`;
}

function bulkForm(v: View, back: string): Html {
  if (!canChange(v)) return html``;
  return html`<form method="post" action="/ui/alerts/bulk" id="bulk" class="filters">
  ${csrfField(v)}<input type="hidden" name="back" value="${back}">
  <label>Selected alerts ${select('status', 'acknowledged', STATUSES.map((s) => [s, `set ${s}`] as const), 'bulk-status')}</label>
  <label>Note <input name="note" id="bulk-note" maxlength="4000"></label>
  <button type="submit" id="bulk-apply">Apply to selected</button>
</form>`;
}

/** The alerts; `selectable` (a role that may change them) adds the boxes the bulk form takes. */
function alertTable(items: StoredAlert[], muted: Set<string>, selectable: boolean): Html {
  if (!items.length) return html`<p class="notice" id="no-alerts">No alerts match.</p>`;
  return html`<table id="alerts"><tr><th></th><th>time (UTC)</th><th>severity</th><th>rule</th><th>device</th><th>destination</th><th>message</th><th>status</th></tr>
${items.map((a) => alertRow(a, muted.has(a.id), selectable))}</table>`;
}

function groupTable(q: QueueQuery, by: 'rule' | 'device', groups: AlertGroup[]): Html {
  return html`<table id="groups"><tr><th>${by}</th><th>alerts</th><th>muted</th><th>newest</th></tr>
${groups.map((g) => html`<tr><td><a href="${queueHref(q, { [by]: g.key, group: undefined })}">${g.key}</a></td><td>${g.count}</td><td>${g.muted}</td><td>${time(g.newest)}</td></tr>`)}</table>`;
}

async function queueBody(ui: UiContext, v: View, q: QueueQuery, url: string): Promise<Html> {
  const now = Date.now() / 1000;
  const f = queueFilter(q, now);
  const everything = { ...f, muted: undefined };
  const [byRule, bySeverity, allRules] = await Promise.all([
    ui.ctx.store.groupAlerts(everything, 'rule'), ui.ctx.store.groupAlerts(everything, 'severity'), ui.ctx.store.groupAlerts({ limit: 1, now }, 'rule'),
  ]);
  const mutedCount = byRule.reduce((n, g) => n + g.muted, 0);
  const counts = html`<div class="counts">${countTable('Rule', byRule, (k) => queueHref(q, { rule: k }))}${countTable('Severity', bySeverity, (k) => queueHref(q, { severity: k }))}</div>`;
  const mutedNote = f.muted === 'hide' && mutedCount
    ? html`<p class="notice" id="muted-count">${mutedCount} muted alert${mutedCount === 1 ? '' : 's'} hidden. <a href="${queueHref(q, { muted: 'show' })}">Show them</a></p>`
    : '';
  const head = html`${filterForm(q, allRules.map((g) => g.key).sort())}${counts}${mutedNote}`;
  if (q.group === 'rule' || q.group === 'device') return html`${head}${groupTable(q, q.group, await ui.ctx.store.groupAlerts(f, q.group))}`;
  const list = await ui.ctx.store.listAlerts(f);
  const muted = f.muted === 'hide' ? new Set<string>() : await ui.ctx.store.mutedAlerts(list.items.map((a) => a.id), now);
  const more = list.next_cursor ? html`<p><a href="${href(['ui'], { ...q, cursor: list.next_cursor })}" id="next-page">Older alerts</a></p>` : '';
  return html`${head}${bulkForm(v, url)}${alertTable(list.items, muted, canChange(v))}${more}`;
}

export async function queuePages(app: FastifyInstance, ui: UiContext): Promise<void> {
  app.get<{ Querystring: QueueQuery }>('/ui', async (req, reply) => {
    if (!sessionFor(ui.sessions, req, reply, 'viewer', 'reading alerts')) return reply;
    const v = viewOf(ui, req, reply);
    return send(reply, page('Alerts', v, await queueBody(ui, v, req.query, req.url)));
  });

  app.post<{ Body: { ids?: string | string[]; status?: string; note?: string; back?: string } }>(
    '/ui/alerts/bulk',
    { preHandler: app.csrfProtection },
    async (req, reply) => {
      const s = sessionFor(ui.sessions, req, reply, 'analyst', 'changing alerts')!;
      const ids = ([] as string[]).concat(req.body.ids ?? []).slice(0, 1000);
      const status = oneOf(req.body.status, STATUSES) ?? 'acknowledged';
      const note = (req.body.note ?? '').slice(0, 4000) || null;
      const by = { actor: s.name, role: s.role, action: 'POST /ui/alerts/bulk' };
      const changed = await ui.ctx.store.changeAlerts(ids, { status, note, who: s.name }, Date.now() / 1000, by);
      req.log.info({ alerts: changed.length, status, token: s.name }, 'alerts updated');
      return reply.redirect(safeNext(req.body.back), 303);
    },
  );
}
