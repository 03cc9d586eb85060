// The sensors (/ui/sensors): when each last delivered, how far behind the
// packets it reads it was, what waited in its spool, and what it delivered.
import type { FastifyInstance } from 'fastify';
import { sessionFor } from '../guard.js';
import type { SensorStatus } from '../../../contract/types.js';
import { bytes, html, time } from '../html.js';
import { page } from '../layout.js';
import { send, viewOf, type UiContext } from '../view.js';

/** "3 min ago" */
function ago(seconds: number): string {
  if (seconds < 90) return `${Math.round(seconds)} s ago`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86400)} days ago`;
}

/** "3 batches (1.2 MB)"; – when the sensor did not say (an older version) */
function spool(s: SensorStatus): string {
  if (s.spool_batches === null) return '–';
  return `${s.spool_batches} batch${s.spool_batches === 1 ? '' : 'es'}${s.spool_bytes === null ? '' : ` (${bytes(s.spool_bytes)})`}`;
}

export async function sensorPages(app: FastifyInstance, ui: UiContext): Promise<void> {
  app.get('/ui/sensors', async (req, reply) => {
    if (!sessionFor(ui.sessions, req, reply, 'viewer', 'reading sensors')) return reply;
    const sensors = await ui.ctx.store.listSensors();
    const now = Date.now() / 1000;
    const body = sensors.length
      ? html`<table id="sensors"><tr><th>sensor</th><th>version</th><th>last delivery (UTC)</th><th></th><th>lag</th><th>spool</th><th>events delivered</th><th></th></tr>
${sensors.map((s) => html`<tr><td>${s.name}</td><td>${s.version}</td><td>${time(s.last_seen)}</td><td>${ago(now - s.last_seen)}</td>
<td>${s.lag_s === null ? '–' : `${s.lag_s.toFixed(1)} s`}</td><td>${spool(s)}</td><td>${s.events}</td><td><a href="/ui?sensor=${encodeURIComponent(s.name)}">alerts</a></td></tr>`)}</table>
<p>Lag: how far the sensor was behind the packets it read (capture time against its clock) at its last delivery.
Spool: the batches (and bytes) waiting in its spool as it sent that delivery, that one included: more than one means it is catching up.
Between deliveries the sensor's own metrics say it, <code>phonehome_sensor_spool_batches</code> and <code>phonehome_sensor_spool_bytes</code>.</p>`
      : html`<p class="notice">No sensor has delivered yet.</p>`;
    return send(reply, page('Sensors', viewOf(ui, req, reply), body));
  });
}
