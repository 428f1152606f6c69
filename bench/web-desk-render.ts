/**
 * First meaningful render of the web desk (issue 14), for bench/web-desk.ts: navigation start → the
 * frame that paints every market watch row with a price, for a returning user (session in
 * localStorage), broken down with the Navigation and Resource Timing entries and the desk's own
 * `desk:*` User Timing marks (web/src/boot-timing.ts).
 *
 * Measured in a browser context of its own without Playwright request routing: routing disables
 * Chromium's HTTP cache and sends every request through the driver, which is neither what a user has
 * nor cheap. Requests off the machine are still recorded (and the desk's CSP refuses them anyway).
 */
import type { Browser, BrowserContext, CDPSession, Page } from 'playwright-core';

/** One navigation's timeline, in milliseconds since navigation start. */
export interface RenderSample {
  /** All rows showing a price (observed in the page, on the frame it happened). */
  totalMs: number;
  /** HTML response received. */
  htmlMs: number;
  /** Scripts and stylesheets loaded (the last one), and how many came from the HTTP cache. */
  assetsMs: number;
  assetsFromCache: number;
  assetsBytes: number;
  /** The desk's marks (`desk:` stripped), e.g. boot, token, query:Accounts:end, mounted, prices. */
  marks: Record<string, number>;
  /** GraphQL HTTP requests: [start, end] each. */
  graphql: [number, number][];
  /**
   * Renderer main-thread busy time (CDP TaskDuration) and the script part of it (ScriptDuration),
   * navigation to all rows priced: work, not waiting, so less at the mercy of a loaded machine.
   */
  mainThreadBusyMs: number;
  scriptMs: number;
}

/** Cumulative renderer main-thread task and script seconds (Performance domain enabled). */
async function busySeconds(cdp: CDPSession): Promise<{ task: number; script: number }> {
  const { metrics } = await cdp.send('Performance.getMetrics');
  const of = (name: string): number => metrics.find((m) => m.name === name)?.value ?? 0;
  return { task: of('TaskDuration'), script: of('ScriptDuration') };
}

/** A context signed in as the page's user (its localStorage copied), with no request routing. */
export async function returningUserContext(
  browser: Browser,
  signedIn: Page,
  foreign: string[],
): Promise<BrowserContext> {
  const context = await browser.newContext({
    viewport: { width: 1440, height: 900 },
    storageState: await signedIn.context().storageState(),
  });
  context.on('request', (req) => {
    const url = new URL(req.url());
    if (url.hostname !== '127.0.0.1' && url.protocol !== 'data:') foreign.push(url.toString());
  });
  return context;
}

/**
 * The init script of the in-page watch that sets `__pricedAt` to the time of the frame that first
 * paints `rows` market watch prices: a MutationObserver sees the DOM change, the next animation frame
 * is the one that paints it. Polling the page from the bench instead (waitForFunction on every frame)
 * costs its main thread hundreds of milliseconds of DevTools work. Source text, not a function: tsx
 * would compile a function with helpers (`__name`) that do not exist in the page.
 */
export const watchFirstRender = (rows: number): string => `(() => {
  const priced = () => {
    const cells = document.querySelectorAll('td.price');
    if (cells.length < ${rows}) return false;
    for (const c of cells) if (c.textContent === '—' || c.textContent === '') return false;
    return true;
  };
  const observer = new MutationObserver(() => {
    if (!priced()) return;
    observer.disconnect();
    requestAnimationFrame(() => { globalThis.__pricedAt = performance.now(); });
  });
  observer.observe(document, { childList: true, subtree: true, characterData: true });
})();`;

/** How the page is entered for one sample. */
export interface Scenario {
  name: string;
  /** Empty the HTTP cache first (a first visit after a deploy). */
  coldCache: boolean;
  /** Mark the stored access token expired, so the desk refreshes it before its first query. */
  expiredToken: boolean;
}

export const SCENARIOS: Scenario[] = [
  { name: 'returning user, assets cached, access token valid', coldCache: false, expiredToken: false },
  { name: 'returning user, assets cached, access token expired', coldCache: false, expiredToken: true },
  {
    name: 'first visit after a deploy (empty cache), access token valid',
    coldCache: true,
    expiredToken: false,
  },
];

const SESSION_KEY = 'tradesage.session';

/** Navigates `page` (already on the desk's origin) to the desk afresh and times it. */
export async function sampleFirstRender(
  page: Page,
  cdp: CDPSession,
  origin: string,
  scenario: Scenario,
): Promise<RenderSample> {
  if (scenario.expiredToken)
    await page.evaluate((key) => {
      const saved = JSON.parse(localStorage.getItem(key) ?? '{}') as Record<string, unknown>;
      localStorage.setItem(key, JSON.stringify({ ...saved, expiresAt: new Date(0).toISOString() }));
    }, SESSION_KEY);
  await page.goto('about:blank');
  if (scenario.coldCache) await cdp.send('Network.clearBrowserCache');
  const before = await busySeconds(cdp);
  await page.goto(`${origin}/`, { waitUntil: 'commit' });
  const handle = await page.waitForFunction(
    () => (globalThis as unknown as { __pricedAt?: number }).__pricedAt,
    undefined,
    { timeout: 120_000, polling: 50 },
  );
  const totalMs = (await handle.jsonValue()) as number;
  const after = await busySeconds(cdp);
  // A navigation to another process restarts the counters; then all of them belong to this page.
  const busy = (a: number, b: number): number => 1000 * (a >= b ? a - b : a);
  const timeline = await page.evaluate(() => {
    const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming;
    const resources = performance.getEntriesByType('resource') as PerformanceResourceTiming[];
    const assets = resources.filter((r) => r.initiatorType === 'script' || r.initiatorType === 'link');
    const marks: Record<string, number> = {};
    for (const m of performance.getEntriesByType('mark'))
      if (m.name.startsWith('desk:')) marks[m.name.slice(5)] ??= m.startTime;
    return {
      htmlMs: nav.responseEnd,
      assetsMs: Math.max(0, ...assets.map((r) => r.responseEnd)),
      assetsFromCache: assets.filter((r) => r.transferSize === 0).length,
      assetsBytes: assets.reduce((s, r) => s + r.transferSize, 0),
      marks,
      graphql: resources
        .filter((r) => r.initiatorType === 'fetch' && new URL(r.name).pathname === '/graphql')
        .map((r): [number, number] => [r.startTime, r.responseEnd]),
    };
  });
  return {
    totalMs,
    ...timeline,
    mainThreadBusyMs: busy(after.task, before.task),
    scriptMs: busy(after.script, before.script),
  };
}

const round = (n: number): number => Math.round(n);

/** The sample with the median total, rounded for printing. */
export function medianSample(samples: RenderSample[]): RenderSample & { allTotalsMs: number[] } {
  const sorted = [...samples].sort((a, b) => a.totalMs - b.totalMs);
  const m = sorted[Math.floor((sorted.length - 1) / 2)] as RenderSample;
  return {
    totalMs: round(m.totalMs),
    htmlMs: round(m.htmlMs),
    assetsMs: round(m.assetsMs),
    assetsFromCache: m.assetsFromCache,
    assetsBytes: m.assetsBytes,
    marks: Object.fromEntries(
      Object.entries(m.marks)
        .sort((a, b) => a[1] - b[1])
        .map(([k, v]) => [k, round(v)]),
    ),
    graphql: m.graphql.map(([s, e]) => [round(s), round(e)]),
    mainThreadBusyMs: round(m.mainThreadBusyMs),
    scriptMs: round(m.scriptMs),
    allTotalsMs: sorted.map((s) => round(s.totalMs)),
  };
}
