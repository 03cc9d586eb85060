// A device that controls every string the UI shows (DHCP host name and
// vendor class, DNS names, SNI, HTTP Host and User-Agent carrying markup,
// script URLs, very long and non-UTF-8 text) is fed through the real sensor
// into a real collector; in chromium, every page that shows those strings
// shows them as text: nothing runs, no element of the payloads exists, no
// CSP violation is reported, and long values are cut.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { StoredAlert } from '../../../contract/types.js';
import { chromiumAvailable, clickAndWait, screenshot, uiRig, type UiRig, type WatchedPage } from '../../helpers/browser.js';
import { phonehome } from '../../helpers/cli.js';
import { api, API_TOKEN, type RunningCollector } from '../../helpers/collector.js';
import { FIXTURES } from '../../helpers/corpus.js';
import { HOSTILE, HOSTILE_DEVICE, HOSTILE_SERVER_IP, writeHostileCapture } from '../../helpers/hostile.js';

const run = chromiumAvailable();
const tmp = mkdtempSync(join(tmpdir(), 'phonehome-ui-hostile-'));
const MAC = HOSTILE_DEVICE.mac;

/** How the UI writes the non-UTF-8 name: bytes are read as Latin-1, and the C1 byte 0x80 is shown as an escape. */
const BYTES_SHOWN = 'badÿþ\\u0080name';
/** The start of the long User-Agent as stored (one character per byte); cuts count these characters. */
const RAW_BYTES_PREFIX = `${HOSTILE.bytes} `;

/** What a page would have if a payload had become markup or script. */
async function payloadTraces(page: Page): Promise<Record<string, unknown>> {
  return page.evaluate(() => {
    const all = [...document.querySelectorAll('*')];
    const ours = (s: HTMLScriptElement) => s.src !== '' && new URL(s.src).origin === location.origin && new URL(s.src).pathname.startsWith('/ui/');
    return {
      pwned: (window as unknown as { __pwned?: unknown }).__pwned,
      imgX: document.querySelectorAll('img[src="x"], img[onerror]').length,
      svgOnload: document.querySelectorAll('svg[onload]').length,
      foreignScripts: [...document.scripts].filter((s) => !ours(s)).map((s) => s.outerHTML),
      jsLinks: document.querySelectorAll('a[href^="javascript:" i], [href*="javascript:" i], [src*="javascript:" i], [action*="javascript:" i]').length,
      handlers: all.flatMap((e) => [...e.attributes].filter((a) => a.name.startsWith('on')).map((a) => `${e.tagName} ${a.name}`)),
      // uPlot sizes its charts through the CSSOM (which the CSP allows); anywhere else a style attribute came from markup.
      styles: [...document.querySelectorAll('[style]')].filter((e) => !e.closest('.chart')).length,
    };
  });
}

const clean = { pwned: undefined, imgX: 0, svgOnload: 0, foreignScripts: [], jsLinks: 0, handlers: [], styles: 0 };

describe.skipIf(!run)('hostile strings in the web UI', () => {
  let c: RunningCollector;
  let browser: Browser;
  let w: WatchedPage;
  const dialogs: string[] = [];
  let alerts: StoredAlert[];

  /** Opens a path and checks that nothing of the payloads became markup or ran; returns the page's visible text. */
  async function visit(path: string): Promise<string> {
    await w.page.goto(`${c.url}${path}`, { waitUntil: 'load' });
    return checked(path);
  }

  async function checked(where: string): Promise<string> {
    expect(await payloadTraces(w.page), where).toEqual(clean);
    expect(dialogs, where).toEqual([]);
    expect(w.violations, where).toEqual([]);
    expect(w.errors, where).toEqual([]);
    return w.page.evaluate(() => document.body.innerText);
  }

  let rig: UiRig | undefined;

  beforeAll(async () => {
    writeHostileCapture(join(tmp, 'hostile.pcap'));
    const geoip = ['Country', 'ASN'].flatMap((k) => ['--geoip', join(FIXTURES, 'geoip', `GeoLite2-${k}-Test.mmdb`)]);
    rig = await uiRig(tmp, join(tmp, 'hostile.pcap'), { sensorArgs: geoip });
    ({ c, browser, w } = rig);
    alerts = ((await (await api(c.url, '/api/v1/alerts?limit=1000')).json()) as { items: StoredAlert[] }).items;
    w.page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    await w.page.goto(`${c.url}/ui/login`, { waitUntil: 'load' });
    await w.page.type('#token', API_TOKEN);
    await clickAndWait(w.page, '#login');
  }, 120_000);

  afterAll(async () => {
    await rig?.close();
  });

  it('raises the alerts whose pages show the strings', () => {
    expect(alerts.map((a) => a.rule).sort()).toEqual(['geo-callback', 'unprofiled-device']);
    const geo = alerts.find((a) => a.rule === 'geo-callback')!;
    expect(geo.destination).toMatchObject({ ip: HOSTILE_SERVER_IP, country: 'CN', name: HOSTILE.img });
  });

  it('shows the queue, and a queue filtered by the hostile values, as text', async () => {
    const text = await visit('/ui');
    expect(text).toContain(HOSTILE.img);
    expect(text).toContain(`${MAC} connected to ${HOSTILE.img}`);
    await screenshot(w.page, 'hostile-queue');
    // The filter form writes the query back into its fields: values in attributes.
    const q = new URLSearchParams({ destination: HOSTILE.img, rule: HOSTILE.script, sensor: HOSTILE.svg, from: '', muted: 'show' });
    await visit(`/ui?${q}`);
    expect(await w.page.$eval('#f-destination', (e) => (e as HTMLInputElement).value)).toBe(HOSTILE.img);
    expect(await w.page.$eval('#f-sensor', (e) => (e as HTMLInputElement).value)).toBe(HOSTILE.svg);
  });

  it("shows values of the URL that a page repeats (a 404's id, the login page's next) as text", async () => {
    for (const [path, id] of [['alerts', HOSTILE.script], ['devices', HOSTILE.img]] as const) {
      const r = await w.page.goto(`${c.url}/ui/${path}/${encodeURIComponent(id)}`, { waitUntil: 'load' });
      expect(r?.status()).toBe(404);
      // The browser logs the 404 itself; nothing else may be logged.
      expect(w.errors.splice(0)).toEqual([expect.stringMatching(/status of 404/)]);
      expect(await checked(`404 of ${path}`)).toContain(id);
    }
    const next = `/ui"><script>window.__pwned=5</script>`;
    await visit(`/ui/login?next=${encodeURIComponent(next)}`);
    expect(await w.page.$eval('input[name=next]', (e) => (e as HTMLInputElement).value)).toBe(next);
  });

  it('shows each alert page, with its destination and evidence flows, as text', async () => {
    for (const a of alerts) {
      const text = await visit(`/ui/alerts/${a.id}`);
      expect(await w.page.$eval('#message', (e) => e.textContent)).toBe(a.message);
      // The evidence flows carry every HTTP Host and SNI the device sent (cut to 80 characters).
      const names = await w.page.$$eval('#evidence-flows tr.flow-row td:nth-child(5)', (tds) => tds.map((td) => (td as HTMLElement).innerText));
      expect(names).toEqual(expect.arrayContaining([HOSTILE.img, HOSTILE.js, HOSTILE.svg]));
      expect(names.find((n) => n.startsWith('AAAA'))).toMatch(/^A{60}\.A{19}…$/);
      const agents = await w.page.$$eval('#evidence-flows tr.flow-row td:nth-child(6)', (tds) => tds.map((td) => (td as HTMLElement).innerText));
      expect(agents).toEqual(expect.arrayContaining([HOSTILE.script, HOSTILE.img, `${BYTES_SHOWN} ${'U'.repeat(60 - RAW_BYTES_PREFIX.length)}…`]));
      if (a.rule === 'geo-callback') {
        const dst = await w.page.$eval('#destination', (e) => (e as HTMLElement).innerText);
        for (const s of [HOSTILE.img, HOSTILE.js, HOSTILE.svg, 'CN', 'AS58448']) expect(dst).toContain(s);
        expect(text).toContain(`connected to ${HOSTILE.img}`);
        await screenshot(w.page, 'hostile-alert');
      }
    }
  });

  it('shows the device page, its names, user agents, destinations and flows, and the draft profile, as text', async () => {
    const text = await visit(`/ui/devices/${MAC}`);
    const device = await w.page.$eval('#device', (e) => (e as HTMLElement).innerText);
    expect(device).toContain(HOSTILE.script);
    for (const ua of [HOSTILE.img, HOSTILE.script]) expect(device).toContain(ua);
    // The 3000-character User-Agent is cut at 120 characters; the whole value is never shown.
    expect(device).toContain(`${BYTES_SHOWN} ${'U'.repeat(120 - RAW_BYTES_PREFIX.length)}…`);
    expect(text).not.toContain('U'.repeat(200));
    const dests = await w.page.$eval('#destinations', (e) => (e as HTMLElement).innerText);
    expect(dests).toContain(HOSTILE.img);
    expect(dests).toContain(HOSTILE_SERVER_IP);
    // The map shades China, where every destination is, with the most flows; the table says so in numbers.
    const shaded = await w.page.$$eval('#country-map path:not(.shade-0)', (ps) => ps.map((p) => [p.getAttribute('data-country'), p.getAttribute('class'), p.textContent]));
    expect(shaded).toEqual([['CN', 'shade-5', 'China (CN): 5 flows, 5.2 kB out']]);
    expect(await w.page.$eval('#by-country tr[data-country="CN"]', (e) => (e as HTMLElement).innerText.split('\t'))).toEqual(['', 'CN China', '1', '5', '5.2 kB']);
    // The charts over time draw the same: the device's five flows to China, its operator's name as a label.
    await w.page.waitForSelector('#timeline-operator[data-drawn] canvas');
    const labels = await w.page.$$eval('.timeline .u-legend .u-series:not(:first-child) .u-label', (ls) => ls.map((l) => l.textContent));
    expect(labels).toEqual(['CN', 'CONAC (China Organizational Name Administration Center)']);
    const flows = await w.page.$$eval('#device-flows tr.flow-row', (rows) => rows.length);
    expect(flows).toBeGreaterThanOrEqual(5);
    // htmx swaps the draft in. A name that is not a host name is no domain of a profile: the address documents it.
    await w.page.click('#draft-button');
    await w.page.waitForSelector('#draft-yaml');
    const yaml = await w.page.$eval('#draft-yaml', (e) => e.textContent ?? '');
    expect(parse(yaml)).toMatchObject({ match: { mac: [MAC] }, documented: [{ cidr: HOSTILE_SERVER_IP, proto: 'tcp', ports: [80, 443, 8080] }] });
    expect(yaml).not.toMatch(/domain:|<img|<script|<svg|javascript:/);
    await checked('device page after the draft');
    await screenshot(w.page, 'hostile-device');
    const draftPage = await visit(`/ui/devices/${MAC}/draft`);
    expect(draftPage).toContain(`- ${MAC}`);
  });

  it('mutes the destination by its hostile name and shows the mute as text', async () => {
    await visit('/ui/mutes');
    await w.page.type('#new-mute input[name=destination]', HOSTILE.img);
    await w.page.type('#new-mute input[name=reason]', HOSTILE.svg);
    await clickAndWait(w.page, '#new-mute button[type=submit]');
    const text = await checked('mutes page');
    const row = await w.page.$eval('tr.mute-row', (e) => (e as HTMLElement).innerText);
    expect(row).toContain(HOSTILE.img);
    expect(row).toContain(HOSTILE.svg);
    expect(text).toContain('in force');
    // The mute covers the geo-callback alert, whose destination has that name.
    const queue = await visit('/ui');
    expect(queue).toContain('1 muted alert hidden');
    await visit(`/ui?${new URLSearchParams({ destination: HOSTILE.img, muted: 'only' })}`);
    const ids = await w.page.$$eval('tr.alert-row', (rows) => rows.map((r) => (r as HTMLElement).dataset.id));
    expect(ids).toEqual([alerts.find((a) => a.rule === 'geo-callback')!.id]);
    await visit('/ui/mutes');
    await screenshot(w.page, 'hostile-mutes');
  });
});
