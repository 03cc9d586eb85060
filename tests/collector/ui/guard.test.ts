// Roles in the web UI, in chromium: a viewer's token logs in and reads every
// page, is offered no form that changes anything, and a change posted anyway
// (with a valid CSRF token of its own session) is refused with 403 and
// changes nothing. Logging out ends the session on the collector.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoredAlert } from '../../../contract/types.js';
import { chromiumAvailable, clickAndWait, screenshot, uiRig, type UiRig, type WatchedPage } from '../../helpers/browser.js';
import { phonehome } from '../../helpers/cli.js';
import { api, type RunningCollector } from '../../helpers/collector.js';
import { FIXTURES } from '../../helpers/corpus.js';
import { HOSTILE_DEVICE, HOSTILE_SERVER_IP, writeHostileCapture } from '../../helpers/hostile.js';

const run = chromiumAvailable();
const tmp = mkdtempSync(join(tmpdir(), 'phonehome-ui-viewer-'));
const VIEWER = 'viewer-secret-0123456789abcdef';
const ANALYST = 'analyst-secret-0123456789abcdef';

describe.skipIf(!run)('a viewer session in the web UI', () => {
  let c: RunningCollector;
  let browser: Browser;
  let w: WatchedPage;
  let alert: StoredAlert;
  let muteId: string;

  let rig: UiRig | undefined;

  beforeAll(async () => {
    writeHostileCapture(join(tmp, 'capture.pcap'));
    writeFileSync(join(tmp, 'api.tokens'), `anna:viewer:${VIEWER}\nbob:analyst:${ANALYST}\n`);
    const geoip = ['--geoip', join(FIXTURES, 'geoip', 'GeoLite2-Country-Test.mmdb')];
    rig = await uiRig(tmp, join(tmp, 'capture.pcap'), { sensorArgs: geoip, collectorArgs: ['--api-token-file', join(tmp, 'api.tokens')] });
    ({ c, browser, w } = rig);
    const alerts = ((await (await api(c.url, '/api/v1/alerts', { token: VIEWER })).json()) as { items: StoredAlert[] }).items;
    alert = alerts.find((a) => a.rule === 'geo-callback')!;
    const mute = await api(c.url, '/api/v1/mutes', { token: ANALYST, method: 'POST', body: JSON.stringify({ rule: 'unprofiled-device', hours: 1, reason: 'lab device' }) });
    expect(mute.status).toBe(201);
    muteId = ((await mute.json()) as { id: string }).id;
  }, 120_000);

  afterAll(async () => {
    await rig?.close();
  });

  it('reads every page and is offered no change', async () => {
    const { page } = w;
    await page.goto(`${c.url}/ui/login`, { waitUntil: 'load' });
    await page.type('#token', VIEWER);
    await clickAndWait(page, '#login');
    expect(await page.$eval('.who', (e) => e.textContent)).toBe('anna (viewer)');
    const pages = ['/ui', `/ui/alerts/${alert.id}`, `/ui/devices/${HOSTILE_DEVICE.mac}`, `/ui/devices/${HOSTILE_DEVICE.mac}/draft`, '/ui/mutes', '/ui/sensors', '/ui?muted=show'];
    for (const path of pages) {
      const r = await page.goto(`${c.url}${path}`, { waitUntil: 'load' });
      expect(r?.status(), path).toBe(200);
      expect(new URL(page.url()).pathname, path).toBe(path.split('?')[0]);
      // The one form a viewer gets is the logout form.
      const posts = await page.$$eval('form[method=post]', (fs) => fs.map((f) => (f as HTMLFormElement).getAttribute('action')));
      expect(posts, path).toEqual(['/ui/logout']);
      expect(await page.$$('#bulk, #status-form, #mute-destination, #mute-exact, #new-mute, button.lift, input[name=ids]'), path).toHaveLength(0);
    }
    await page.goto(`${c.url}/ui/alerts/${alert.id}`, { waitUntil: 'load' });
    expect(await page.$eval('#destination', (e) => (e as HTMLElement).innerText)).toContain(HOSTILE_SERVER_IP);
    await screenshot(page, 'viewer-alert');
    expect(w.violations).toEqual([]);
    expect(w.errors).toEqual([]);
  }, 60_000);

  it('is refused (403) a change posted anyway, with its own valid CSRF token, and nothing changes', async () => {
    const { page } = w;
    await page.goto(`${c.url}/ui/mutes`, { waitUntil: 'load' });
    const posts: [string, Record<string, string>][] = [
      [`/ui/alerts/${alert.id}/status`, { status: 'resolved', note: 'viewer' }],
      ['/ui/alerts/bulk', { ids: alert.id, status: 'resolved', note: 'viewer' }],
      ['/ui/mutes', { destination: HOSTILE_SERVER_IP, hours: '1', reason: 'viewer' }],
      [`/ui/mutes/${muteId}/lift`, {}],
    ];
    const statuses = await page.evaluate(async (list) => {
      const csrf = (document.querySelector('form[action="/ui/logout"] input[name=_csrf]') as HTMLInputElement).value;
      const out: [number, string][] = [];
      for (const [path, fields] of list) {
        const r = await fetch(path, { method: 'POST', body: new URLSearchParams({ ...fields, _csrf: csrf }), redirect: 'manual' });
        out.push([r.status, await r.text()]);
      }
      return out;
    }, posts);
    for (const [i, [status, body]] of statuses.entries()) {
      expect(status, posts[i][0]).toBe(403);
      expect(body, posts[i][0]).toMatch(/anna.*viewer.*analyst/s);
    }
    const after = (await (await api(c.url, `/api/v1/alerts/${alert.id}`, { token: ANALYST })).json()) as StoredAlert;
    expect(after.state).toMatchObject({ status: 'open', note: null, updated_by: null });
    const mutes = (await (await api(c.url, '/api/v1/mutes', { token: ANALYST })).json()) as { items: { id: string; lifted_at: number | null }[] };
    expect(mutes.items).toEqual([expect.objectContaining({ id: muteId, lifted_at: null })]);
    // The refused posts answered 403, which the browser logs; nothing else went wrong.
    expect(w.errors.splice(0).every((e) => /status of 403/.test(e))).toBe(true);
    expect(w.violations).toEqual([]);
  }, 60_000);

  it('ends the session at logout: its cookie opens nothing afterwards', async () => {
    const { page } = w;
    await page.goto(`${c.url}/ui`, { waitUntil: 'load' });
    const cookie = (await browser.cookies()).find((k) => k.name === 'phonehome_session')!;
    await clickAndWait(page, '#logout');
    expect(new URL(page.url()).pathname).toBe('/ui/login');
    const r = await fetch(`${c.url}/ui`, { headers: { cookie: `phonehome_session=${cookie.value}` }, redirect: 'manual' });
    expect(r.status).toBe(302);
    expect(r.headers.get('location')).toMatch(/^\/ui\/login\?next=/);
  }, 60_000);
});
