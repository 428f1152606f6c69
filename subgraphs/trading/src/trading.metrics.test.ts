import { describe, expect, it } from 'vitest';
import { Registry } from '../../../lib/metrics.js';
import { AccountQueue, type Settled } from './account-queue.js';
import { createTradingMetrics } from './trading.metrics.js';

async function depthOf(registry: Registry): Promise<number | undefined> {
  const metric = await registry.getSingleMetric('trading_account_queue_depth')?.get();
  return metric?.values[0]?.value;
}

describe('trading_account_queue_depth', () => {
  it('counts the submissions waiting or running in the account queues at scrape time', async () => {
    const registry = new Registry();
    createTradingMetrics(registry);
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const queue = new AccountQueue<number, number>(async (_key, items) => {
      await gate;
      return items.map((value): Settled<number> => ({ ok: true, value }));
    });
    const done = Promise.all([queue.submit('a', 1), queue.submit('a', 2), queue.submit('b', 3)]);
    expect(await depthOf(registry)).toBe(3);
    release();
    await done;
    expect(await depthOf(registry)).toBe(0);
  });
});
