/**
 * Takes the README's screenshot of the web desk (docs/web-desk.png): a platform on a test namespace,
 * a new organization signed up through the page, a filled market order and a resting limit order,
 * a few seconds of ticks for the sparklines, then the desk at 1440x900 in Chromium.
 *
 * Run: `npx tsx scripts/web-screenshot.ts [out=docs/web-desk.png]`.
 */
import path from 'node:path';
import { PROJECT_ROOT } from '../lib/config.js';
import { placeOrder, startDesk } from '../test/support/web-desk.js';

const out = path.resolve(PROJECT_ROOT, process.argv[2] ?? 'docs/web-desk.png');

const desk = await startDesk(
  'web_screenshot',
  {},
  { email: 'ada@example.com', organizationName: 'Lovelace Capital' },
);
const { page } = desk;
try {
  await page.waitForFunction(
    () => document.querySelectorAll('svg[aria-label$="rising"], svg[aria-label$="falling"]').length > 5,
  );
  for (const [symbol, quantity] of [
    ['AAPL', '40'],
    ['NVDA', '120'],
    ['SPY', '25'],
  ] as const) {
    await placeOrder(page, { symbol, side: 'BUY', type: 'MARKET', quantity, tif: 'DAY' });
    await page
      .getByRole('table', { name: 'Orders' })
      .locator('tbody tr', { hasText: symbol })
      .getByText('FILLED')
      .first()
      .waitFor();
  }
  const msft = Number((await page.getByTestId('price-MSFT').innerText()).replaceAll(',', ''));
  const limitPrice = (Math.floor(msft * 0.97 * 100) / 100).toFixed(2);
  await placeOrder(
    page,
    { symbol: 'MSFT', side: 'BUY', type: 'LIMIT', quantity: '10', limitPrice, tif: 'GTC' },
    'Preview',
  );
  await page.locator('.preview').first().waitFor();
  // Let the sparklines fill in.
  await new Promise((r) => setTimeout(r, 8000));
  await page.screenshot({ path: out });
  console.log(`wrote ${path.relative(PROJECT_ROOT, out)}`);
} finally {
  await desk.stop();
}
