// Debian's chromium driven through puppeteer-core (nothing is downloaded),
// with every Content-Security-Policy violation and console error of a page
// collected, so a test can prove the UI runs under its CSP.
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';

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
