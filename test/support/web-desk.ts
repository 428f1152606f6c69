/**
 * The web desk (web/) in a real browser for end-to-end tests, the bench and the README screenshot:
 * builds web/dist (`vite build`) when it is missing or older than its sources, launches Debian's chromium
 * through playwright-core (no download, no network but loopback), and signs a new user up through
 * the page as a person would.
 */
import { execFile } from 'node:child_process';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { BrowserContext, Page } from 'playwright-core';
import { processEnv, PROJECT_ROOT } from '../../lib/config.js';
import { launchLoopbackBrowser, type LoopbackBrowser } from './chromium.js';
import { createTestEnv } from './env.js';
import { startPlatform } from './platform.js';

const execFileAsync = promisify(execFile);

const WEB = path.join(PROJECT_ROOT, 'web');

async function newestMtime(dir: string): Promise<number> {
  let newest = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, await newestMtime(file));
    else if (entry.isFile()) newest = Math.max(newest, (await stat(file)).mtimeMs);
  }
  return newest;
}

/** Builds web/dist (vite build, programmatically) unless it is newer than every source file. */
export async function ensureWebDeskBuilt(): Promise<void> {
  const built = await stat(path.join(WEB, 'dist', 'index.html')).then(
    (s) => s.mtimeMs,
    () => 0,
  );
  const sources = Math.max(
    await newestMtime(path.join(WEB, 'src')),
    (await stat(path.join(WEB, 'index.html'))).mtimeMs,
    (await stat(path.join(WEB, 'vite.config.ts'))).mtimeMs,
  );
  if (built > sources) return;
  // A child process: under vitest NODE_ENV=test, and Vite would bundle React's development build.
  await execFileAsync(
    process.execPath,
    [
      path.join(PROJECT_ROOT, 'node_modules/vite/bin/vite.js'),
      'build',
      '--config',
      path.join(WEB, 'vite.config.ts'),
      '--logLevel',
      'warn',
    ],
    { cwd: PROJECT_ROOT, env: { ...processEnv(), NODE_ENV: 'production' } },
  );
}

/** The desk's browser: a {@link LoopbackBrowser} whose pages open at the size of the screenshots. */
export interface DeskBrowser extends Omit<LoopbackBrowser, 'newPage'> {
  newPage(): Promise<{ context: BrowserContext; page: Page }>;
}

/** Launches /usr/bin/chromium headless. */
export async function launchDeskBrowser(): Promise<DeskBrowser> {
  const loopback = await launchLoopbackBrowser();
  return {
    ...loopback,
    newPage: () => loopback.newPage({ viewport: { width: 1440, height: 900 }, allowDataUrls: true }),
  };
}

/** The gateway's origin (`http://127.0.0.1:<port>`) from the platform's /graphql URL. */
export const originOf = (gatewayUrl: string): string => new URL(gatewayUrl).origin;

/**
 * Opens the desk at `origin`, creates an account with a new organization, and waits for the market
 * watch (the organization is provisioned by then).
 */
export async function signUpThroughDesk(
  page: Page,
  origin: string,
  user: { email: string; password: string; organizationName: string },
): Promise<void> {
  await page.goto(`${origin}/`);
  await page.getByLabel('Email').fill(user.email);
  await page.getByLabel('Password').fill(user.password);
  await page.getByLabel('Organization name').fill(user.organizationName);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.getByRole('table', { name: 'Market watch' }).waitFor({ timeout: 60_000 });
}

/** An order as the ticket takes it. */
export interface TicketOrder {
  symbol: string;
  side: 'BUY' | 'SELL';
  type: 'MARKET' | 'LIMIT' | 'STOP' | 'STOP_LIMIT';
  quantity: string;
  limitPrice?: string;
  tif: 'DAY' | 'GTC' | 'IOC' | 'FOK';
}

/** Fills the order ticket by its field names, then presses "Place order" (or "Preview"). */
export async function placeOrder(
  page: Page,
  o: TicketOrder,
  button: 'Place order' | 'Preview' = 'Place order',
): Promise<void> {
  await page.getByLabel('Symbol').selectOption(o.symbol);
  await page.getByLabel('Side').selectOption(o.side);
  await page.getByLabel('Order type').selectOption(o.type);
  await page.getByLabel('Quantity').fill(o.quantity);
  if (o.limitPrice) await page.getByLabel('Limit price').fill(o.limitPrice);
  await page.getByLabel('Time in force').selectOption(o.tif);
  await page.getByRole('button', { name: button }).click();
}

/** A platform on its own namespace, the desk built, and a browser page signed up to a new organization. */
export interface RunningDesk {
  origin: string;
  page: Page;
  browser: DeskBrowser;
  stop(): Promise<void>;
}

/**
 * Starts everything a bench or a script needs to look at the desk (tests start theirs themselves).
 * @param prepare runs on the namespace's admin database URL before the platform starts
 */
export async function startDesk(
  name: string,
  overrides: Record<string, string>,
  user: { email: string; organizationName: string },
  prepare?: (env: Awaited<ReturnType<typeof createTestEnv>>) => Promise<void>,
): Promise<RunningDesk> {
  const built = ensureWebDeskBuilt();
  const env = await createTestEnv(name, { BACKUP_SCHEDULE_ENABLED: 'false', ...overrides });
  const cleanups: (() => Promise<void>)[] = [() => env.cleanup()];
  const stop = async (): Promise<void> => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  };
  try {
    await prepare?.(env);
    await built;
    const platform = await startPlatform(env);
    cleanups.push(() => platform.stop());
    const browser = await launchDeskBrowser();
    cleanups.push(() => browser.close());
    const { page } = await browser.newPage();
    const origin = originOf(platform.gatewayUrl);
    await signUpThroughDesk(page, origin, { ...user, password: 'correct horse battery staple' });
    return { origin, page, browser, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
