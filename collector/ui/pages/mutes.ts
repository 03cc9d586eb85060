// Mutes (/ui/mutes): a rule, device and/or destination hidden from the
// alert queue for some hours, with a reason. Muted alerts are still stored
// and counted; lifting a mute shows them again.
import type { FastifyInstance } from 'fastify';
import { addMute, MAX_MUTE_HOURS } from '../../routes/mutes.js';
import type { Mute } from '../../store/store.js';
import { safeNext, sessionFor } from '../guard.js';
import { cut, href, html, time, type Html } from '../html.js';
import { canChange, csrfField, page, type View } from '../layout.js';
import { send, viewOf, type UiContext } from '../view.js';

interface MuteForm {
  rule?: string;
  device?: string;
  destination?: string;
  hours?: string;
  reason?: string;
  back?: string;
}

function muteRow(v: View, m: Mute, now: number): Html {
  const state = m.lifted_at !== null ? `lifted ${time(m.lifted_at)} by ${m.lifted_by ?? ''}` : m.expires_at <= now ? 'expired' : 'in force';
  const lift = canChange(v) && state === 'in force'
    ? html`<form method="post" action="${href(['ui', 'mutes', m.id, 'lift'])}" class="inline">${csrfField(v)}<button type="submit" class="lift">Lift</button></form>`
    : '';
  const scope = (x: string | null) => (x === null ? html`<span class="none">any</span>` : cut(x, 80));
  return html`<tr class="mute-row"><td>${scope(m.rule)}</td><td>${scope(m.device)}</td><td>${scope(m.destination)}</td><td>${cut(m.reason, 200)}</td>
<td>${m.created_by}<br>${time(m.created_at)}</td><td>${time(m.expires_at)}</td><td>${state}</td>
<td><a href="${href(['ui'], { rule: m.rule, device: m.device, destination: m.destination, muted: 'only' })}">alerts</a> ${lift}</td></tr>`;
}

function newMuteForm(v: View, error: string | null): Html {
  if (!canChange(v)) return html``;
  return html`<h2>New mute</h2>${error ? html`<p class="error" id="mute-error">${error}</p>` : ''}
<form method="post" action="/ui/mutes" class="stack" id="new-mute">${csrfField(v)}
<label>Rule <input name="rule" placeholder="any"></label><label>Device <input name="device" placeholder="MAC; any"></label>
<label>Destination <input name="destination" placeholder="address or name; any"></label>
<label>Hours <input name="hours" type="number" min="0.1" step="any" value="24" max="${MAX_MUTE_HOURS}"></label>
<label>Reason <input name="reason" required maxlength="1000"></label><button type="submit">Mute</button></form>`;
}

async function mutesPage(ui: UiContext, v: View, error: string | null): Promise<Html> {
  const mutes = await ui.ctx.store.listMutes();
  const now = Date.now() / 1000;
  const table = mutes.length
    ? html`<table id="mutes"><tr><th>rule</th><th>device</th><th>destination</th><th>reason</th><th>by</th><th>until (UTC)</th><th>state</th><th></th></tr>${mutes.map((m) => muteRow(v, m, now))}</table>`
    : html`<p class="none">No mutes yet.</p>`;
  return page('Mutes', v, html`<p>A mute hides the alerts it covers from the queue while it is in force; they are still stored and counted.
Each of rule, device and destination is matched when given (destination: the alert's address or name).</p>${table}${newMuteForm(v, error)}`);
}

/** The form's mute, or what is wrong with it. */
function parseForm(b: MuteForm): { hours: number; reason: string } | string {
  const hours = Number(b.hours);
  if (!Number.isFinite(hours) || hours <= 0 || hours > MAX_MUTE_HOURS) return `hours must be a number above 0 and at most ${MAX_MUTE_HOURS}`;
  const reason = (b.reason ?? '').trim();
  if (!reason || reason.length > 1000) return 'a reason (at most 1000 characters) is required';
  if (![b.rule, b.device, b.destination].some((x) => x && x.trim())) return 'give at least one of rule, device and destination';
  if ([b.rule, b.device, b.destination].some((x) => x && x.length > 300)) return 'rule, device and destination are at most 300 characters';
  return { hours, reason };
}

export async function mutePages(app: FastifyInstance, ui: UiContext): Promise<void> {
  app.get('/ui/mutes', async (req, reply) => {
    if (!sessionFor(ui.sessions, req, reply, 'viewer', 'reading mutes')) return reply;
    return send(reply, await mutesPage(ui, viewOf(ui, req, reply), null));
  });
  app.post<{ Body: MuteForm }>('/ui/mutes', { preHandler: app.csrfProtection }, async (req, reply) => {
    const s = sessionFor(ui.sessions, req, reply, 'analyst', 'muting alerts')!;
    const ok = parseForm(req.body);
    if (typeof ok === 'string') return send(reply, await mutesPage(ui, viewOf(ui, req, reply), ok), 400);
    const by = { actor: s.name, role: s.role, action: 'POST /ui/mutes' };
    const m = await addMute(ui.ctx, { rule: req.body.rule, device: req.body.device, destination: req.body.destination, ...ok }, by);
    req.log.info({ mute: m.id, token: s.name }, 'mute created');
    return reply.redirect(safeNext(req.body.back ?? '/ui/mutes'), 303);
  });
  app.post<{ Params: { id: string } }>('/ui/mutes/:id/lift', { preHandler: app.csrfProtection }, async (req, reply) => {
    const s = sessionFor(ui.sessions, req, reply, 'analyst', 'lifting mutes')!;
    await ui.ctx.store.liftMute(req.params.id, s.name, Date.now() / 1000, { actor: s.name, role: s.role, action: 'POST /ui/mutes/:id/lift' });
    return reply.redirect('/ui/mutes', 303);
  });
}
