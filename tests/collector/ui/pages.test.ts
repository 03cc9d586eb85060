// The web UI in a real chromium against a real collector fed by the real
// sensor with a corpus capture: an analyst logs in, filters the queue, opens
// an alert, follows it to its flows, device and pcap, acknowledges it with a
// note and mutes its destination; after a reload the changes are still
// there. Every page runs under the strict CSP without a violation.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoredAlert } from '../../../contract/types.js';
import type { StoredDevice, StoredFlow } from '../../../collector/store/store.js';
import { chromiumAvailable, clickAndWait, screenshot, uiRig, type UiRig, type WatchedPage } from '../../helpers/browser.js';
import { phonehome } from '../../helpers/cli.js';
import { api, API_TOKEN, type RunningCollector } from '../../helpers/collector.js';
import { CORPUS_DIR, corpusAvailable } from '../../helpers/corpus.js';

const run = corpusAvailable() && chromiumAvailable();
const tmp = mkdtempSync(join(tmpdir(), 'phonehome-ui-'));
const CAPTURE = join(CORPUS_DIR, 'TP-LinkPlugHS110', 'Setup-A-1-STA.pcap');

async function json<T>(c: RunningCollector, path: string): Promise<T> {
  const r = await api(c.url, path);
  expect(r.status, path).toBe(200);
  return (await r.json()) as T;
}

const texts = (page: Page, sel: string): Promise<string[]> => page.$$eval(sel, (els) => els.map((e) => (e as HTMLElement).innerText.trim()));

describe.skipIf(!run)('web UI in chromium', () => {
  let c: RunningCollector;
  let browser: Browser;
  let w: WatchedPage;

  let rig: UiRig | undefined;

  beforeAll(async () => {
    rig = await uiRig(tmp, CAPTURE, { sensorArgs: ['--watch-countries', 'US,CN'] });
    ({ c, browser, w } = rig);
  }, 120_000);

  afterAll(async () => {
    await rig?.close();
  });

  it('logs in, filters, follows an alert to its flows, device and pcap, acknowledges and mutes it, and keeps that over a reload', async () => {
    const { page } = w;
    await page.goto(`${c.url}/`);
    expect(new URL(page.url()).pathname, '/ leads to the login page through /ui').toBe('/ui/login');
    await page.type('#token', 'not-a-token');
    await clickAndWait(page, '#login');
    expect(await page.$eval('#login-error', (e) => e.textContent)).toContain('not an API token');
    // The refused login answered 401, which the browser logs; nothing else may be logged from here on.
    expect(w.errors.splice(0)).toEqual([expect.stringMatching(/status of 401 .*\/ui\/login$/)]);
    await page.type('#token', API_TOKEN);
    await clickAndWait(page, '#login');
    expect(new URL(page.url()).pathname).toBe('/ui');
    const cookies = await browser.cookies();
    const session = cookies.find((k) => k.name === 'phonehome_session');
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
    await screenshot(page, 'queue');

    // Filter the queue to one rule: the rows are that rule's alerts, as the API lists them.
    const all = (await json<{ items: StoredAlert[] }>(c, '/api/v1/alerts?limit=1000')).items;
    const withPcap = all.filter((a) => a.has_pcap && a.destination?.ip && a.evidence.uids.length > 0);
    expect(withPcap.length, 'the capture raises alerts with evidence').toBeGreaterThan(0);
    const target = withPcap[0];
    await page.select('#f-rule', target.rule);
    await clickAndWait(page, '#apply');
    expect(new URL(page.url()).searchParams.get('rule')).toBe(target.rule);
    const ruleCells = await texts(page, '#alerts tr.alert-row td:nth-child(4)');
    expect(ruleCells.length).toBe(all.filter((a) => a.rule === target.rule).length);
    expect(new Set(ruleCells)).toEqual(new Set([target.rule]));

    // Filter by operator, through the form (the AS organisation) and by AS number: the alerts to that operator, as the API has them.
    const operator = target.destination!.as_org!;
    expect(operator, 'the corpus alert has an operator').toBeTruthy();
    await page.goto(`${c.url}/ui?muted=show`, { waitUntil: 'load' });
    await page.type('#f-operator', operator);
    await clickAndWait(page, '#apply');
    const ofOperator = (as: (a: StoredAlert) => boolean) => all.filter(as).map((a) => a.id).sort();
    const shown = async () => (await page.$$eval('tr.alert-row', (rows) => rows.map((r) => (r as HTMLElement).dataset.id!))).sort();
    expect(await shown()).toEqual(ofOperator((a) => a.destination?.as_org === operator));
    await page.goto(`${c.url}/ui?muted=show&operator=AS${target.destination!.asn}`, { waitUntil: 'load' });
    expect(await shown()).toEqual(ofOperator((a) => a.destination?.asn === target.destination!.asn));
    await page.goto(`${c.url}/ui?rule=${encodeURIComponent(target.rule)}`, { waitUntil: 'load' });

    // Open the alert: its message, why it fired, and its evidence flows as the flows API has them.
    await clickAndWait(page, `tr.alert-row[data-id="${target.id}"] a.alert-link`);
    expect(new URL(page.url()).pathname).toBe(`/ui/alerts/${target.id}`);
    expect(await page.$eval('#message', (e) => e.textContent)).toBe(target.message);
    expect(await page.$('#why')).not.toBeNull();
    const flows = await json<{ items: { uid: string }[]; missing: string[] }>(c, `/api/v1/alerts/${target.id}/flows`);
    expect(flows.items.length).toBeGreaterThan(0);
    const uids = await texts(page, '#evidence-flows tr.flow-row td:nth-child(2)');
    expect(uids.sort()).toEqual(flows.items.map((f) => f.uid).sort());
    await screenshot(page, 'alert');

    // The pcap link works with the session cookie alone and gives the capture the API gives.
    const href = await page.$eval('#pcap-link', (a) => (a as HTMLAnchorElement).href);
    const fromBrowser = await page.evaluate(async (u) => {
      const r = await fetch(u, { credentials: 'same-origin' });
      return { status: r.status, bytes: Array.from(new Uint8Array(await r.arrayBuffer())) };
    }, href);
    expect(fromBrowser.status).toBe(200);
    const fromApi = Buffer.from(await (await api(c.url, `/api/v1/alerts/${target.id}/pcap`)).arrayBuffer());
    expect(Buffer.from(fromBrowser.bytes).equals(fromApi)).toBe(true);
    expect((await fetch(href)).status, 'without the cookie or a token').toBe(401);

    // Follow to the device, and draft a profile from what it did (htmx swaps the YAML in).
    await clickAndWait(page, '#device-link');
    const mac = target.device.mac!;
    expect(new URL(page.url()).pathname).toBe(`/ui/devices/${mac}`);
    await page.click('#draft-button');
    await page.waitForSelector('#draft-yaml');
    const yaml = await page.$eval('#draft-yaml', (e) => e.textContent ?? '');
    expect(yaml).toContain(`- ${mac}`);
    expect(yaml).toContain('documented:');
    // The map shades exactly the countries of the device's destinations; shaded by bytes, the one it sent most to is darkest.
    const dev = await json<StoredDevice>(c, `/api/v1/devices/${mac}`);
    const countries = [...new Set(dev.destinations.map((d) => d.country).filter((x): x is string => !!x))].sort();
    expect(countries.length).toBeGreaterThan(0);
    const shadedCountries = async () => [...new Set(await page.$$eval('#country-map path:not(.shade-0)', (ps) => ps.map((p) => p.getAttribute('data-country'))))].sort();
    expect(await shadedCountries()).toEqual(countries);
    expect((await texts(page, '#by-country tr[data-country] td:nth-child(2)')).map((t) => t.split(' ')[0]).sort()).toEqual(countries);
    // The charts of flows per day by country and operator, from the flows the API lists.
    await page.waitForSelector('#timeline-country[data-drawn] canvas');
    await page.waitForSelector('#timeline-operator[data-drawn] canvas');
    const flowsOfDevice = (await json<{ items: StoredFlow[] }>(c, `/api/v1/flows?device=${mac}&limit=1000`)).items.filter((f) => f.dst_country);
    const perCountry = new Map<string, number>();
    for (const f of flowsOfDevice) perCountry.set(f.dst_country!, (perCountry.get(f.dst_country!) ?? 0) + 1);
    const timeline = await page.evaluate(async (u) => (await fetch(u)).json(), `/ui/devices/${mac}/timeline.json?by=country`) as { series: { label: string; flows: number[] }[] };
    expect(new Map(timeline.series.map((x) => [x.label, x.flows.reduce((a, b) => a + b, 0)]))).toEqual(perCountry);
    expect(await texts(page, '#timeline-country .u-legend .u-series:not(:first-child) .u-label')).toEqual(timeline.series.map((x) => x.label));
    await screenshot(page, 'device');
    await clickAndWait(page, '#shade-by');
    expect(new URL(page.url()).searchParams.get('map')).toBe('bytes');
    const most = dev.destinations.filter((d) => d.country).sort((a, b) => b.bytes_out - a.bytes_out)[0].country;
    expect(await page.$eval(`#country-map path[data-country="${most}"]`, (p) => p.getAttribute('class'))).toBe('shade-5');
    await page.goto(`${c.url}/ui/alerts/${target.id}`, { waitUntil: 'load' });

    // Acknowledge with a note.
    await page.select('#status-select', 'acknowledged');
    await page.type('#status-note', 'NTP of the vendor <b>checked</b>');
    await clickAndWait(page, '#status-apply');
    const history = await texts(page, '#history tr td:nth-child(4)');
    expect(history).toContain('NTP of the vendor <b>checked</b>');
    const stored = await json<StoredAlert>(c, `/api/v1/alerts/${target.id}`);
    expect(stored.state).toMatchObject({ status: 'acknowledged', note: 'NTP of the vendor <b>checked</b>', updated_by: 'api-token' });

    // Mute the destination: the alert is muted, kept, and hidden from the queue with a count.
    await page.type('#mute-destination input[name=reason]', 'vendor time servers');
    await clickAndWait(page, '#mute-destination button');
    expect(await page.$('#muted-badge')).not.toBeNull();
    await page.goto(`${c.url}/ui`, { waitUntil: 'load' });
    await page.reload({ waitUntil: 'load' });
    const shownIds = await page.$$eval('tr.alert-row', (rows) => rows.map((r) => (r as HTMLElement).dataset.id));
    expect(shownIds).not.toContain(target.id);
    const muted = all.filter((a) => a.destination?.ip === target.destination!.ip || (a.destination?.name ?? null) === target.destination!.ip);
    expect(await page.$eval('#muted-count', (e) => e.textContent)).toContain(`${muted.length} muted alert`);
    expect((await json<{ items: StoredAlert[] }>(c, '/api/v1/alerts?limit=1000')).items.length, 'muted alerts are kept').toBe(all.length);
    await page.goto(`${c.url}/ui/alerts/${target.id}`, { waitUntil: 'load' });
    await page.reload({ waitUntil: 'load' });
    expect(await page.$('#muted-badge')).not.toBeNull();
    expect(await page.$eval('#state-note', (e) => e.textContent)).toBe('NTP of the vendor <b>checked</b>');

    for (const [name, path] of [['mutes', '/ui/mutes'], ['sensors', '/ui/sensors']] as const) {
      await page.goto(`${c.url}${path}`, { waitUntil: 'load' });
      await screenshot(page, name);
    }
    expect(await texts(page, '#sensors tr td:first-child')).toEqual(['lab']);
    expect(w.violations).toEqual([]);
    expect(w.errors).toEqual([]);
  }, 120_000);

  it('refuses a change without the CSRF token, and no page carries inline script', async () => {
    const { page } = w;
    await page.goto(`${c.url}/ui`, { waitUntil: 'load' });
    const status = await page.evaluate(async () => {
      const r = await fetch('/ui/mutes', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'destination=1.2.3.4&hours=1&reason=x' });
      return r.status;
    });
    expect(status).toBe(403);
    expect((await json<{ items: unknown[] }>(c, '/api/v1/mutes')).items).toHaveLength(1);
    for (const path of ['/ui', '/ui/mutes', '/ui/sensors', '/ui/login']) {
      await page.goto(`${c.url}${path}`, { waitUntil: 'load' });
      const inline = await page.$$eval('script:not([src]), [onclick], [onload], [onerror], [style]', (els) => els.length);
      expect(inline, path).toBe(0);
    }
    expect(w.violations).toEqual([]);
  }, 60_000);
});
