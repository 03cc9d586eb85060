// Debian's chromium driven through puppeteer-core (nothing is downloaded),
// with every Content-Security-Policy violation and console error of a page
// collected, so a test can prove the UI runs under its CSP.
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { phonehome } from './cli.js';
import { SENSOR_TOKEN, startCollector, type RunningCollector } from './collector.js';

export const CHROMIUM = process.env.PHONEHOME_CHROMIUM ?? '/usr/bin/chromium';

/** Where browser tests write screenshots of the UI (git-ignored). */
export const SCREENSHOTS = resolve(import.meta.dirname, '../collector/ui/screenshots');

export function chromiumAvailable(): boolean {
  if (existsSync(CHROMIUM)) return true;
  console.warn(`skipping browser tests: ${CHROMIUM} is not there (apt-get install chromium, or set PHONEHOME_CHROMIUM)`);
  return false;
}

export interface WatchedPage {
  page: Page;
  /** CSP violations the page reported (securitypolicyviolation events) */
  violations: string[];
  /** console errors and uncaught exceptions */
  errors: string[];
}

export async function launch(): Promise<Browser> {
  return puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--window-size=1400,1000'], defaultViewport: { width: 1400, height: 1000 } });
}

export async function watchedPage(browser: Browser): Promise<WatchedPage> {
  const page = await browser.newPage();
  const violations: string[] = [];
  const errors: string[] = [];
  await page.exposeFunction('__cspViolation', (s: string) => violations.push(s));
  // Runs in the page before its own scripts, through the DevTools protocol (not subject to the page's CSP).
  await page.evaluateOnNewDocument(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      (window as unknown as { __cspViolation: (s: string) => void }).__cspViolation(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
    });
  });
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`${m.text()} ${m.location().url ?? ''}`);
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  return { page, violations, errors };
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** Submits the form a button belongs to by clicking it, and waits for the page it leads to. */
export async function clickAndWait(page: Page, selector: string): Promise<void> {
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click(selector)]);
}

/** What every browser test of the UI starts from: a real collector fed by the real sensor with one capture, and a watched chromium page. */
export interface UiRig {
  c: RunningCollector;
  browser: Browser;
  w: WatchedPage;
  /** stops the browser and the collector (exit 0 expected) and removes the folder */
  close(): Promise<void>;
}

/**
 * Starts a collector on SQLite in `dir` (with `collectorArgs`), has `phonehome
 * sensor --once` deliver `capture` to it (with `sensorArgs`), then opens
 * chromium on a watched page.
 */
export async function uiRig(dir: string, capture: string, o: { sensorArgs?: string[]; collectorArgs?: string[] } = {}): Promise<UiRig> {
  const c = await startCollector(`sqlite:${join(dir, 'ui.db')}`, o.collectorArgs ?? []);
  const sensor = phonehome(['sensor', '--input', capture, '--collector', c.url, '--token', SENSOR_TOKEN, '--spool', join(dir, 'spool'), '--once', '--name', 'lab', '--log-level', 'warn', ...(o.sensorArgs ?? [])]);
  if (sensor.code !== 0) {
    await c.stop();
    throw new Error(`the sensor exited ${sensor.code}: ${sensor.stderr}`);
  }
  const browser = await launch();
  const w = await watchedPage(browser);
  return {
    c,
    browser,
    w,
    async close() {
      await browser.close();
      const code = await c.stop();
      rmSync(dir, { recursive: true, force: true });
      if (code !== 0) throw new Error(`the collector exited ${code}`);
    },
  };
}
