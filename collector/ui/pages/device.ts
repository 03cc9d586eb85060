// One device (/ui/devices/:mac): where it talks to by country and operator,
// how much of it its profile documents, its alerts and flows, and a draft
// profile entry built from what it did.
import type { FastifyInstance } from 'fastify';
import type { DeviceDestination } from '../../../contract/types.js';
import { NotFoundError } from '../../errors.js';
import type { StoredDevice } from '../../store/store.js';
import { draftProfile } from '../draft.js';
import { sessionFor } from '../guard.js';
import { bytes, cut, href, html, lines, time, type Html } from '../html.js';
import { page } from '../layout.js';
import { countryName, shadeOf, worldMap } from '../map.js';
import { deviceTimeline, MAX_FLOWS, TOP } from '../timeline.js';
import { send, viewOf, type UiContext } from '../view.js';
import { flowsTable } from './alert.js';

function byField(dests: DeviceDestination[], field: (d: DeviceDestination) => string): { key: string; flows: number; bytes: number; count: number }[] {
  const m = new Map<string, { key: string; flows: number; bytes: number; count: number }>();
  for (const d of dests) {
    const k = field(d);
    const g = m.get(k) ?? { key: k, flows: 0, bytes: 0, count: 0 };
    g.flows += d.flows;
    g.bytes += d.bytes_out;
    g.count++;
    m.set(k, g);
  }
  return [...m.values()].sort((a, b) => b.bytes - a.bytes || b.flows - a.flows);
}

function shareTable(id: string, title: string, rows: ReturnType<typeof byField>): Html {
  return html`<table id="${id}"><tr><th>${title}</th><th>destinations</th><th>flows</th><th>bytes out</th></tr>
${rows.map((r) => html`<tr><td>${cut(r.key, 80)}</td><td>${r.count}</td><td>${r.flows}</td><td>${bytes(r.bytes)}</td></tr>`)}</table>`;
}

function countryTable(rows: ReturnType<typeof byField>, by: 'flows' | 'bytes'): Html {
  const max = Math.max(0, ...rows.filter((r) => r.key !== '').map((r) => (by === 'flows' ? r.flows : r.bytes)));
  return html`<table id="by-country"><tr><th></th><th>country</th><th>destinations</th><th>flows</th><th>bytes out</th></tr>
${rows.map((r) => {
    const name = r.key === '' ? 'local / unknown' : (countryName(r.key) ?? `${r.key} (too small for the map)`);
    const shade = r.key === '' ? 0 : shadeOf(by === 'flows' ? r.flows : r.bytes, max);
    return html`<tr data-country="${r.key}"><td><span class="swatch shade-${shade}"></span></td><td>${r.key ? html`<b>${r.key}</b> ` : ''}${cut(name, 60)}</td>
<td>${r.count}</td><td>${r.flows}</td><td>${bytes(r.bytes)}</td></tr>`;
  })}</table>`;
}

/** The countries the device's destinations are in: a map shaded by flows or bytes, and the table of the numbers. */
function countrySection(d: StoredDevice, key: string, by: 'flows' | 'bytes'): Html {
  const rows = byField(d.destinations, (x) => x.country ?? '');
  const known = rows.filter((r) => r.key !== '').map((r) => ({ country: r.key, flows: r.flows, bytes: r.bytes }));
  const other = by === 'flows' ? 'bytes' : 'flows';
  return html`<div class="geo">${known.length ? worldMap(known, by) : html`<p class="none" id="no-countries">No destination with a known country (a GeoIP database gives countries: --geoip).</p>`}
<div class="geo-table">${countryTable(rows, by)}<p><a id="shade-by" href="${href(['ui', 'devices', key], { map: other })}">Shade by ${other}</a></p></div></div>`;
}

/** Documented vs undocumented, by the undocumented-destination alerts raised for the device. */
function documentedShare(d: StoredDevice, undocumented: Set<string>): Html {
  if (!d.profile) return html`<p id="documented-share">No profile is in force for this device: nothing it does is documented.</p>`;
  const und = d.destinations.filter((x) => undocumented.has(x.ip));
  const sum = (xs: DeviceDestination[], f: (x: DeviceDestination) => number) => xs.reduce((n, x) => n + f(x), 0);
  const totalFlows = sum(d.destinations, (x) => x.flows) || 1;
  const pct = (n: number) => `${((100 * n) / totalFlows).toFixed(1)} %`;
  return html`<p id="documented-share">Profile <b>${d.profile}</b>: ${d.destinations.length - und.length} of ${d.destinations.length} destinations documented
(${pct(totalFlows - sum(und, (x) => x.flows))} of flows); undocumented: ${und.slice(0, 20).map((x) => html`${x.name ?? x.ip} `)}</p>`;
}

function destinationsTable(dests: DeviceDestination[]): Html {
  return html`<table id="destinations"><tr><th>destination</th><th>country</th><th>operator</th><th>ports</th><th>flows</th><th>bytes out / in</th><th>first / last seen</th><th></th></tr>
${dests.map((x) => html`<tr><td>${cut(x.name, 80)}<br><small>${x.ip}</small></td><td>${x.country ?? '–'}</td><td>${x.asn ? `AS${x.asn} ` : ''}${cut(x.as_org, 50)}</td>
<td>${x.protos.join(',')} ${x.ports.slice(0, 10).join(',')}</td><td>${x.flows}</td><td>${bytes(x.bytes_out)} / ${bytes(x.bytes_in)}</td>
<td>${time(x.first_seen)}<br>${time(x.last_seen)}</td><td><a href="${href(['ui'], { destination: x.ip, muted: 'show' })}">alerts</a></td></tr>`)}</table>`;
}

async function deviceBody(ui: UiContext, d: StoredDevice, key: string, by: 'flows' | 'bytes'): Promise<Html> {
  const [alerts, und, flows] = await Promise.all([
    ui.ctx.store.listAlerts({ device: key, limit: 20 }),
    ui.ctx.store.listAlerts({ device: key, rule: 'undocumented-destination', limit: 1000 }),
    ui.ctx.store.listFlows({ device: key, limit: 50 }),
  ]);
  const undocumented = new Set(und.items.map((a) => a.destination?.ip).filter((x): x is string => !!x));
  return html`<dl class="facts" id="device">
<dt>MAC</dt><dd>${d.mac ?? '–'}</dd><dt>addresses</dt><dd>${d.ips.join(', ')}</dd>
<dt>brand / model</dt><dd>${d.brand ?? '–'} ${d.model ?? ''} ${d.brand_source ? `(from ${d.brand_source})` : ''}</dd>
<dt>vendor</dt><dd>${d.vendor ?? '–'} ${d.vendor_country ? `(${d.vendor_country})` : ''}</dd>
<dt>host names</dt><dd>${d.hostnames.map((h) => html`${cut(h, 80)} `)}</dd><dt>user agents</dt><dd>${d.user_agents.slice(0, 5).map((u) => html`${cut(u, 120)}<br>`)}</dd>
<dt>profile in force</dt><dd id="profile">${d.profile ?? 'none'}</dd><dt>seen</dt><dd>${time(d.first_seen)} to ${time(d.last_seen)} by sensor ${d.sensor}</dd></dl>
<h2>Documented share</h2>${documentedShare(d, undocumented)}
<h2>Destinations by country</h2>${countrySection(d, key, by)}
<h2>Destinations over time</h2>
<p>Flows per day (UTC) to the ${TOP} countries and operators the device reached most, from its newest ${MAX_FLOWS} flows.</p>
${(['country', 'operator'] as const).map((by) => html`<h3>By ${by}</h3><div class="chart timeline" id="timeline-${by}" data-src="${href(['ui', 'devices', key, 'timeline.json'], { by })}"></div>`)}
<h2>Destinations by operator</h2>${shareTable('by-operator', 'operator', byField(d.destinations, (x) => x.as_org ?? (x.asn ? `AS${x.asn}` : 'unknown')))}
<h2>Destinations</h2>${destinationsTable(d.destinations)}
<h2>Draft profile entry</h2>
<p><button type="button" id="draft-button" hx-get="${href(['ui', 'devices', key, 'draft'])}" hx-target="#draft" hx-swap="innerHTML">Draft a profile from what this device did</button>
<a href="${href(['ui', 'devices', key, 'draft'])}">(as a page)</a></p><div id="draft"></div>
<h2>Alerts</h2><ul id="device-alerts">${alerts.items.map((a) => html`<li><a href="${href(['ui', 'alerts', a.id])}">${time(a.ts)} ${a.rule}</a>: ${cut(a.message, 140)}</li>`)}</ul>
<p><a href="${href(['ui'], { device: key, muted: 'show' })}">All alerts of this device</a> · <a href="${href(['api', 'v1', 'flows'], { device: key })}">flows as JSON</a></p>
<h2>Latest flows</h2>${flowsTable(flows.items, 'device-flows')}`;
}

export async function devicePages(app: FastifyInstance, ui: UiContext): Promise<void> {
  const load = async (mac: string): Promise<StoredDevice> => {
    const d = await ui.ctx.store.getDevice(mac.toLowerCase());
    if (!d) throw new NotFoundError('device', mac);
    return d;
  };
  app.get<{ Params: { mac: string }; Querystring: { map?: string } }>('/ui/devices/:mac', async (req, reply) => {
    if (!sessionFor(ui.sessions, req, reply, 'viewer', 'reading devices')) return reply;
    const d = await load(req.params.mac);
    const v = viewOf(ui, req, reply);
    const by = req.query.map === 'bytes' ? 'bytes' : 'flows';
    const scripts = ['/ui/vendor/uplot/uPlot.iife.min.js', '/ui/assets/timeline.js'];
    return send(reply, page(`Device ${d.mac ?? d.ips[0]}`, v, await deviceBody(ui, d, req.params.mac.toLowerCase(), by), { scripts }));
  });
  app.get<{ Params: { mac: string }; Querystring: { by?: string } }>('/ui/devices/:mac/timeline.json', async (req, reply) => {
    if (!sessionFor(ui.sessions, req, reply, 'viewer', 'reading devices')) return reply;
    await load(req.params.mac);
    return reply.send(await deviceTimeline(ui.ctx, req.params.mac.toLowerCase(), req.query.by === 'operator' ? 'operator' : 'country'));
  });
  // htmx swaps the fragment into the device page; opened directly, it is a page of its own.
  app.get<{ Params: { mac: string } }>('/ui/devices/:mac/draft', async (req, reply) => {
    if (!sessionFor(ui.sessions, req, reply, 'viewer', 'reading devices')) return reply;
    const d = await load(req.params.mac);
    const yaml = html`<p>Check each entry against what the vendor documents before adding it to rules/devices/.</p><pre id="draft-yaml">${lines(draftProfile(d))}</pre>`;
    if (req.headers['hx-request'] === 'true') return send(reply, yaml);
    return send(reply, page(`Draft profile for ${d.mac ?? d.ips[0]}`, viewOf(ui, req, reply), yaml));
  });
}
