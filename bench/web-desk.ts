/**
 * Web desk benchmark (issue 14), in Debian's Chromium against a local platform: initial JavaScript
 * (gzip, what index.html loads before any lazy screen), first meaningful render (navigation to a
 * market watch with prices, signed in), and, with 50 instruments ticking at 50 ticks/s in total,
 * main-thread long tasks (PerformanceObserver `longtask`) and the renderer's main-thread CPU share
 * (CDP `Performance.getMetrics` TaskDuration over wall time). Targets: < 300 KB, < 1 s, no task over
 * 50 ms, < 30 % of one core.
 *
 * Run: `npx tsx bench/web-desk.ts [seconds=30]`. Uses its own namespace (test support) and cleans up.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import pg from 'pg';
import { PROJECT_ROOT } from '../lib/config.js';
import { adminUrlOf } from '../test/support/env.js';
import { startDesk } from '../test/support/web-desk.js';
import {
  medianSample,
  returningUserContext,
  sampleFirstRender,
  SCENARIOS,
  watchFirstRender,
  type RenderSample,
} from './web-desk-render.js';

const seconds = Number(process.argv[2] ?? 30);
const INSTRUMENTS = 50;
/** Navigations per first-render scenario (the median is printed). */
const RENDER_SAMPLES = 5;

/** Gzip bytes of the scripts index.html loads up front (entry and module preloads). */
async function initialScriptGzipBytes(): Promise<{ files: string[]; bytes: number }> {
  const dist = path.join(PROJECT_ROOT, 'web', 'dist');
  const html = await readFile(path.join(dist, 'index.html'), 'utf8');
  const files = [
    ...html.matchAll(/<script[^>]+src="([^"]+\.js)"/g),
    ...html.matchAll(/<link[^>]+rel="modulepreload"[^>]+href="([^"]+\.js)"/g),
  ].map((m) => m[1] ?? '');
  let bytes = 0;
  for (const f of files) bytes += gzipSync(await readFile(path.join(dist, f)), { level: 9 }).length;
  return { files, bytes };
}

/** Adds simulated instruments until the catalog has `n` (the seed has fewer). */
async function catalogOf(adminUrl: string, n: number): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(
      `INSERT INTO market.instruments (symbol, name, asset_class, currency, tick_size, lot_size, base_price, drift, volatility, spread_bps)
       SELECT 'SIM' || lpad(g::text, 2, '0'), 'Simulated ' || g, 'EQUITY', 'USD', 0.01, 1, 50 + g, 0.05, 0.3, 1
       FROM generate_series(1, greatest(0, $1 - (SELECT count(*) FROM market.instruments WHERE tradable))) AS g
       ON CONFLICT (symbol) DO NOTHING`,
      [n],
    );
  } finally {
    await client.end();
  }
}

/** Waits until every instrument has a quote, read through the API as the desk reads it. */
async function quotesSeeded(origin: string, session: string | null): Promise<void> {
  const { accessToken } = JSON.parse(session ?? '{}') as { accessToken?: string };
  if (!accessToken) throw new Error('the signed-up page kept no session');
  const deadline = Date.now() + 120_000;
  for (;;) {
    const res = await fetch(`${origin}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${accessToken}` },
      body: JSON.stringify({ query: '{ instruments { symbol quote { last } } }' }),
    });
    const body = (await res.json()) as { data?: { instruments: { quote: unknown }[] } };
    const instruments = body.data?.instruments ?? [];
    const quoted = instruments.filter((i) => i.quote !== null).length;
    if (instruments.length >= INSTRUMENTS && quoted === instruments.length) return;
    if (Date.now() > deadline) throw new Error(`only ${quoted} of ${INSTRUMENTS} instruments quoted`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const run = await startDesk(
  'bench_web_desk',
  { MARKET_FEED_TICKS_PER_SECOND: '50' },
  { email: 'bench@example.com', organizationName: 'Bench Desk' },
  (env) => catalogOf(adminUrlOf(env.config), INSTRUMENTS),
);
try {
  const { browser: desk } = run;
  const js = await initialScriptGzipBytes();

  // A deployed platform has quotes: wait until the feed has ticked every instrument once.
  await quotesSeeded(run.origin, await run.page.evaluate(() => localStorage.getItem('tradesage.session')));

  // First meaningful render, in a context of its own as the same (returning) user; see web-desk-render.
  const context = await returningUserContext(desk.browser, run.page, desk.foreign);
  await run.page.close(); // its refresh token now belongs to the bench context
  await context.addInitScript(() => {
    const w = globalThis as unknown as { __longTasks: number[] };
    w.__longTasks = [];
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) w.__longTasks.push(e.duration);
    }).observe({ type: 'longtask', buffered: true });
  });
  await context.addInitScript({ content: watchFirstRender(INSTRUMENTS) });
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Performance.enable');
  await page.goto(`${run.origin}/`);
  const firstRender: Record<string, ReturnType<typeof medianSample>> = {};
  for (const scenario of SCENARIOS) {
    const samples: RenderSample[] = [];
    for (let n = 0; n < RENDER_SAMPLES; n++)
      samples.push(await sampleFirstRender(page, cdp, run.origin, scenario));
    firstRender[scenario.name] = medianSample(samples);
  }
  const rows = await page.locator('td.price').count();

  // Steady state with every instrument ticking.
  const taskSeconds = async (): Promise<number> => {
    const { metrics } = await cdp.send('Performance.getMetrics');
    return metrics.find((m) => m.name === 'TaskDuration')?.value ?? 0;
  };
  await page.evaluate(() => {
    (globalThis as unknown as { __longTasks: number[] }).__longTasks = [];
  });
  const t0 = await taskSeconds();
  const wall0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const cpu = (await taskSeconds()) - t0;
  const wall = (performance.now() - wall0) / 1000;
  const longTasks = await page.evaluate(
    () => (globalThis as unknown as { __longTasks: number[] }).__longTasks,
  );

  console.log(
    JSON.stringify(
      {
        initialJsGzipKB: +(js.bytes / 1024).toFixed(1),
        initialJsFiles: js.files,
        firstMeaningfulRenderMs: Math.max(...Object.values(firstRender).map((r) => r.totalMs)),
        firstRender,
        instrumentsShown: rows,
        steadySeconds: +wall.toFixed(1),
        mainThreadCpuPercentOfOneCore: +((cpu / wall) * 100).toFixed(1),
        longTasksOver50ms: longTasks.length,
        longestTaskMs: Math.round(Math.max(0, ...longTasks)),
        blockedRequestsOffMachine: desk.foreign.length,
      },
      null,
      2,
    ),
  );
} finally {
  await run.stop();
}
