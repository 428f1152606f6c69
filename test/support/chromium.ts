/**
 * Debian's Chromium, headless through playwright-core (no download), for every browser test: its
 * pages reach nothing but 127.0.0.1 (any other request is aborted and recorded), and their console
 * and page errors are collected, so a test can assert that both lists stay empty.
 */
import {
  chromium,
  type Browser,
  type BrowserContext,
  type BrowserContextOptions,
  type Page,
} from 'playwright-core';

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** A browser whose pages may only reach 127.0.0.1. */
export interface LoopbackBrowser {
  browser: Browser;
  /** URLs of blocked requests off the machine (must stay empty). */
  foreign: string[];
  /** Console errors and page errors of every page opened through {@link LoopbackBrowser.newPage}. */
  consoleErrors: string[];
  /**
   * A page in a context of its own.
   * @param options.allowDataUrls let `data:` URLs through as well
   */
  newPage(
    options?: BrowserContextOptions & { allowDataUrls?: boolean },
  ): Promise<{ context: BrowserContext; page: Page }>;
  close(): Promise<void>;
}

/** Launches /usr/bin/chromium headless. */
export async function launchLoopbackBrowser(): Promise<LoopbackBrowser> {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  const foreign: string[] = [];
  const consoleErrors: string[] = [];
  return {
    browser,
    foreign,
    consoleErrors,
    async newPage({ allowDataUrls = false, ...options } = {}) {
      const context = await browser.newContext(options);
      await context.route('**/*', async (route) => {
        const url = new URL(route.request().url());
        if (url.hostname === '127.0.0.1' || (allowDataUrls && url.protocol === 'data:')) {
          await route.continue();
          return;
        }
        foreign.push(url.toString());
        await route.abort('blockedbyclient');
      });
      const page = await context.newPage();
      page.on('console', (msg) => {
        if (msg.type() === 'error') consoleErrors.push(msg.text());
      });
      page.on('pageerror', (err) => consoleErrors.push(err.message));
      return { context, page };
    },
    close: () => browser.close(),
  };
}
