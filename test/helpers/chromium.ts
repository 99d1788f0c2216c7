/**
 * Real headless Chromium for browser tests: Debian's `chromium` package driven by playwright-core (no browser of
 * Playwright's own: none can be downloaded here). A fresh profile per browser, in a temp folder.
 *
 * When Chromium is missing: under CI=true `chromiumAvailability()` throws (the suite must fail, not skip); elsewhere
 * it returns the reason, and suites skip with it in their name.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import type { Availability } from './redis-server.js';
import { tempDir } from './temp.js';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

export function chromiumAvailability(): Availability {
  if (existsSync(CHROMIUM)) return { ok: true, reason: null };
  const reason = `${CHROMIUM} not found (apt-get install chromium, or set CHROMIUM_PATH)`;
  if (process.env.CI === 'true') throw new Error(`CI=true and the browser tests cannot run: ${reason}`);
  return { ok: false, reason };
}

export interface Tab {
  page: Page;
  /** Its console errors and uncaught exceptions. */
  problems: string[];
  /** Every request it made (to check that nothing left this machine's server). */
  requests: string[];
}

export interface Browser {
  context: BrowserContext;
  /** A new tab, watched. */
  tab(): Promise<Tab>;
  /** Saves a full-page screenshot as `<dir>/<name>.png` and returns its path. */
  screenshot(page: Page, name: string): Promise<string>;
  close(): Promise<void>;
}

export async function launchChromium(o: { viewport?: { width: number; height: number }; shots?: string } = {}): Promise<Browser> {
  const profile = tempDir('chromium-profile');
  const shots = o.shots ?? tempDir('screenshots');
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport: o.viewport ?? { width: 1440, height: 1000 },
  });
  return {
    context,
    async tab() {
      const page = await context.newPage();
      const tab: Tab = { page, problems: [], requests: [] };
      page.on('request', (r) => tab.requests.push(r.url()));
      page.on('console', (m) => {
        if (m.type() === 'error') tab.problems.push(`console: ${m.text()}`);
      });
      page.on('pageerror', (e) => tab.problems.push(`uncaught: ${e.message}`));
      return tab;
    },
    async screenshot(page, name) {
      const path = join(shots, `${name}.png`);
      await page.screenshot({ path, fullPage: true });
      return path;
    },
    close: () => context.close(),
  };
}
