// One alert (/ui/alerts/:id): its message, why it fired, the device, the
// destination and who else contacts it, the evidence flows, the pcap, and
// the history of its status with who changed it and their notes.
import type { FastifyInstance } from 'fastify';
import type { StoredAlert } from '../../../contract/types.js';
import { NotFoundError } from '../../errors.js';
import { evidenceFlows, type EvidenceFlows } from '../../routes/flows.js';
import type { StoredFlow } from '../../store/store.js';
import { safeNext, sessionFor } from '../guard.js';
import { bytes, cut, href, html, time, type Html } from '../html.js';
import { canChange, csrfField, page, type View } from '../layout.js';
import { send, viewOf, type UiContext } from '../view.js';
import { whyItFired } from '../why.js';
import { destinationCell, STATUSES, statusBadge } from './queue.js';

/** A table of flows, with the names and fingerprints the sensor read from them. */
export function flowsTable(flows: StoredFlow[], id = 'flows'): Html {
  if (!flows.length) return html`<p class="none" id="${id}-none">No flows stored.</p>`;
  return html`<table id="${id}"><tr><th>time (UTC)</th><th>uid</th><th>from</th><th>to</th><th>name (SNI / Host / DNS)</th><th>user agent</th><th>state</th><th>packets</th><th>bytes out / in</th></tr>
${flows.map((f) => html`<tr class="flow-row"><td>${time(f.ts)}</td><td><code>${f.uid}</code></td>
  <td>${f.src_ip}:${f.src_port}</td><td>${f.proto} ${f.dst_ip}:${f.dst_port} ${f.dst_country ?? ''}</td>
  <td>${cut(f.sni ?? f.http_host ?? f.dns_name, 80)}</td><td>${cut(f.user_agent, 60)}</td><td>${f.state}</td>
  <td>${f.src_pkts} / ${f.dst_pkts}</td><td>${bytes(f.src_bytes)} / ${bytes(f.dst_bytes)}</td></tr>`)}</table>`;
}

/** Connection times of the evidence flows, for the beacon chart (assets/beacon.ts). */
function beaconChart(a: StoredAlert, flows: StoredFlow[]): Html {
  if (!['beaconing', 'strobe'].includes(a.rule) || flows.length < 2) return html``;
  const ts = flows.map((f) => f.ts).sort((x, y) => x - y);
  return html`<h2>Connection times</h2><div class="chart" id="beacon-chart" data-times="${JSON.stringify(ts)}" data-interval="${a.evidence.interval_s ?? ''}"></div>`;
}

function deviceSection(a: StoredAlert, others: StoredAlert[]): Html {
  const key = a.device.mac ?? a.device.ip;
  return html`<h2>Device</h2><dl class="facts">
<dt>device</dt><dd><a href="${href(['ui', 'devices', key])}" id="device-link">${key}</a> (${a.device.ip})</dd>
<dt>vendor</dt><dd>${a.device.vendor ?? '–'} ${a.device.vendor_country ? `(${a.device.vendor_country})` : ''}</dd>
<dt>profile</dt><dd>${a.device.profile ?? 'none'}</dd>
<dt>other alerts</dt><dd>${others.length ? others.map((o) => html`<a href="${href(['ui', 'alerts', o.id])}">${o.rule}</a> `) : 'none'}
 <a href="${href(['ui'], { device: key, muted: 'show' })}">all</a></dd></dl>`;
}

function destinationSection(a: StoredAlert, toDst: StoredFlow[]): Html {
  const d = a.destination;
  if (!d) return html``;
  const names = [...new Set(toDst.flatMap((f) => [f.sni, f.http_host, f.dns_name]).filter((n): n is string => !!n))];
  const devices = [...new Set(toDst.map((f) => f.src_mac ?? f.src_ip))];
  const seen = toDst.map((f) => f.ts);
  return html`<h2>Destination</h2><dl class="facts" id="destination">
<dt>address</dt><dd>${destinationCell(d)} ${d.proto ?? ''}</dd>
<dt>names seen</dt><dd>${names.length ? names.slice(0, 20).map((n) => html`${cut(n, 100)}<br>`) : (d.name ?? '–')}</dd>
<dt>country</dt><dd>${d.country ?? '–'}</dd><dt>AS</dt><dd>${d.asn !== null ? `AS${d.asn}` : '–'} ${d.as_org ?? ''}</dd>
<dt>first / last seen</dt><dd>${seen.length ? `${time(Math.min(...seen))} / ${time(Math.max(...seen))}` : '–'}</dd>
<dt>devices contacting it</dt><dd>${devices.map((k) => html`<a href="${href(['ui', 'devices', k])}">${k}</a> `)}</dd></dl>`;
}

function evidenceSection(a: StoredAlert, ev: EvidenceFlows): Html {
  const missing = ev.missing.length ? html`<p class="notice">${ev.missing.length} of the evidence's flows are not stored by the collector (not delivered, or removed by retention): ${ev.missing.slice(0, 20).join(', ')}</p>` : '';
  const beyond = ev.counted > (a.evidence.uids?.length ?? 0) ? html`<p class="notice">The evidence counts ${ev.counted} flows and names the first ${a.evidence.uids.length}.</p>` : '';
  return html`<h2>Evidence flows</h2>
<p><a href="${href(['api', 'v1', 'alerts', a.id, 'flows'])}" id="flows-json">as JSON</a>
${a.has_pcap ? html` · <a href="${href(['api', 'v1', 'alerts', a.id, 'pcap'])}" id="pcap-link">download the evidence pcap</a>` : html` · no evidence pcap was delivered`}</p>
${missing}${beyond}${flowsTable(ev.items, 'evidence-flows')}`;
}

function changeForms(v: View, a: StoredAlert): Html {
  if (!canChange(v)) return html``;
  const key = a.device.mac ?? a.device.ip;
  const dst = a.destination?.ip ?? a.destination?.name ?? '';
  const mute = (id: string, label: string, fields: Html) => html`<form method="post" action="/ui/mutes" class="filters" id="${id}">${csrfField(v)}
  <input type="hidden" name="back" value="${href(['ui', 'alerts', a.id])}">${fields}
  <label>Hours <input name="hours" type="number" min="0.1" step="any" value="24"></label><label>Reason <input name="reason" required maxlength="1000"></label>
  <button type="submit">${label}</button></form>`;
  return html`<h2>Triage</h2>
<form method="post" action="${href(['ui', 'alerts', a.id, 'status'])}" class="filters" id="status-form">${csrfField(v)}
  <label>Status <select name="status" id="status-select">${STATUSES.map((s) => html`<option value="${s}"${s === a.state.status ? html` selected` : ''}>${s}</option>`)}</select></label>
  <label>Note <input name="note" id="status-note" maxlength="4000"></label><button type="submit" id="status-apply">Save</button></form>
${dst ? mute('mute-destination', `Mute ${dst} (every rule, every device)`, html`<input type="hidden" name="destination" value="${dst}">`) : ''}
${mute('mute-exact', `Mute ${a.rule} for this device${dst ? ' and destination' : ''}`, html`<input type="hidden" name="rule" value="${a.rule}"><input type="hidden" name="device" value="${key}">${dst ? html`<input type="hidden" name="destination" value="${dst}">` : ''}`)}`;
}

async function historySection(ui: UiContext, id: string): Promise<Html> {
  const { items } = await ui.ctx.store.listAudit({ target: id, limit: 100 });
  if (!items.length) return html`<h2>History</h2><p class="none">No changes yet.</p>`;
  const set = (d: Record<string, unknown>) => (d.set ?? {}) as { status?: string; note?: string | null; who?: string };
  return html`<h2>History</h2><table id="history"><tr><th>when (UTC)</th><th>who</th><th>status</th><th>note</th><th>token</th></tr>
${items.map((e) => html`<tr><td>${time(e.at)}</td><td>${set(e.detail).who ?? e.actor}</td><td>${set(e.detail).status ?? ''}</td><td>${cut(set(e.detail).note ?? '', 400)}</td><td>${e.actor} (${e.role})</td></tr>`)}</table>`;
}

async function alertBody(ui: UiContext, v: View, a: StoredAlert): Promise<Html> {
  const key = a.device.mac ?? a.device.ip;
  const [ev, others, toDst, muted] = await Promise.all([
    evidenceFlows(ui.ctx, a.id),
    ui.ctx.store.listAlerts({ device: key, limit: 11 }),
    a.destination?.ip ? ui.ctx.store.listFlows({ dst: a.destination.ip, limit: 1000 }) : Promise.resolve({ items: [] }),
    ui.ctx.store.mutedAlerts([a.id], Date.now() / 1000),
  ]);
  return html`<p id="message">${a.message}</p>
<p><span class="sev-${a.severity}">${a.severity}</span> · ${a.rule} · ${time(a.ts)} · sensor ${a.sensor} · ${statusBadge(a.state.status)}
${muted.has(a.id) ? html` <span class="badge muted" id="muted-badge">muted</span> (<a href="/ui/mutes">mutes</a>)` : ''}
${a.state.note ? html`<br>Note: <q id="state-note">${a.state.note}</q> (${a.state.updated_by ?? ''})` : ''}</p>
<h2>Why it fired</h2>${whyItFired(a)}${beaconChart(a, ev!.items)}
${deviceSection(a, others.items.filter((o) => o.id !== a.id).slice(0, 10))}${destinationSection(a, toDst.items)}
${evidenceSection(a, ev!)}${changeForms(v, a)}${await historySection(ui, a.id)}`;
}

export async function alertPages(app: FastifyInstance, ui: UiContext): Promise<void> {
  app.get<{ Params: { id: string } }>('/ui/alerts/:id', async (req, reply) => {
    if (!sessionFor(ui.sessions, req, reply, 'viewer', 'reading alerts')) return reply;
    const a = await ui.ctx.store.getAlert(req.params.id);
    if (!a) throw new NotFoundError('alert', req.params.id);
    const v = viewOf(ui, req, reply);
    return send(reply, page(`Alert ${a.rule}`, v, await alertBody(ui, v, a), { scripts: ['/ui/vendor/uplot/uPlot.iife.min.js', '/ui/assets/beacon.js'] }));
  });

  app.post<{ Params: { id: string }; Body: { status?: string; note?: string } }>('/ui/alerts/:id/status', { preHandler: app.csrfProtection }, async (req, reply) => {
    const s = sessionFor(ui.sessions, req, reply, 'analyst', 'changing an alert')!;
    const status = STATUSES.find((x) => x === req.body.status) ?? 'acknowledged';
    const by = { actor: s.name, role: s.role, action: 'POST /ui/alerts/:id/status' };
    const a = await ui.ctx.store.changeAlert(req.params.id, { status, note: (req.body.note ?? '').slice(0, 4000) || null, who: s.name }, Date.now() / 1000, by);
    if (!a) throw new NotFoundError('alert', req.params.id);
    return reply.redirect(safeNext(href(['ui', 'alerts', a.id])), 303);
  });
}
