/**
 * Takes the README's screenshot of the web desk (docs/web-desk.png): a platform on a test namespace,
 * a new organization signed up through the page, a filled market order and a resting limit order,
 * a few seconds of ticks for the sparklines, then the desk at 1440x900 in Chromium.
 *
 * Run: `npx tsx scripts/web-screenshot.ts [out=docs/web-desk.png]`.
 */
import path from 'node:path';
import { PROJECT_ROOT } from '../lib/config.js';
import { createTestEnv } from '../test/support/env.js';
import { startPlatform } from '../test/support/platform.js';
import {
  ensureWebDeskBuilt,
  launchDeskBrowser,
  originOf,
  signUpThroughDesk,
} from '../test/support/web-desk.js';

const out = path.resolve(PROJECT_ROOT, process.argv[2] ?? 'docs/web-desk.png');

await ensureWebDeskBuilt();
const env = await createTestEnv('web_screenshot', { BACKUP_SCHEDULE_ENABLED: 'false' });
const platform = await startPlatform(env);
const desk = await launchDeskBrowser();
try {
  const { page } = await desk.newPage();
  await signUpThroughDesk(page, originOf(platform.gatewayUrl), {
    email: 'ada@example.com',
    password: 'correct horse battery staple',
    organizationName: 'Lovelace Capital',
  });
  await page.waitForFunction(
    () => document.querySelectorAll('svg[aria-label$="rising"], svg[aria-label$="falling"]').length > 5,
  );
  for (const [symbol, quantity] of [
    ['AAPL', '40'],
    ['NVDA', '120'],
    ['SPY', '25'],
  ] as const) {
    await page.getByLabel('Symbol').selectOption(symbol);
    await page.getByLabel('Quantity').fill(quantity);
    await page.getByRole('button', { name: 'Place order' }).click();
    await page
      .getByRole('table', { name: 'Orders' })
      .locator('tbody tr', { hasText: symbol })
      .getByText('FILLED')
      .first()
      .waitFor();
  }
  const msft = Number((await page.getByTestId('price-MSFT').innerText()).replaceAll(',', ''));
  await page.getByLabel('Symbol').selectOption('MSFT');
  await page.getByLabel('Order type').selectOption('LIMIT');
  await page.getByLabel('Quantity').fill('10');
  await page.getByLabel('Limit price').fill((Math.floor(msft * 0.97 * 100) / 100).toFixed(2));
  await page.getByLabel('Time in force').selectOption('GTC');
  await page.getByRole('button', { name: 'Preview' }).click();
  await page.locator('.preview').first().waitFor();
  // Let the sparklines fill in.
  await new Promise((r) => setTimeout(r, 8000));
  await page.screenshot({ path: out });
  console.log(`wrote ${path.relative(PROJECT_ROOT, out)}`);
} finally {
  await desk.close();
  await platform.stop();
  await env.cleanup();
}
