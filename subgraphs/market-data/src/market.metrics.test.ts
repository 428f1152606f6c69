import { describe, expect, it } from 'vitest';
import { Registry } from '../../../lib/metrics.js';
import { createMarketMetrics, observeFeedLag } from './market.metrics.js';

describe('market_feed_lag_seconds', () => {
  it("observes now minus each tick's timestamp, by stage, never below zero", async () => {
    const registry = new Registry();
    const metrics = createMarketMetrics(registry);
    observeFeedLag(metrics, 'publish', [{ ts: Date.now() - 2000 }, { ts: Date.now() + 60_000 }]);
    observeFeedLag(metrics, 'arrival', [{ ts: Date.now() - 500 }]);
    const { values } = await metrics.feedLag.get();
    const value = (name: string, stage: string): number | undefined =>
      values.find((v) => v.metricName === name && v.labels['stage'] === stage)?.value;
    expect(value('market_feed_lag_seconds_count', 'publish')).toBe(2);
    // The tick from the future counts as 0: the sum is the 2 s tick's lag alone.
    expect(value('market_feed_lag_seconds_sum', 'publish')).toBeGreaterThanOrEqual(2);
    expect(value('market_feed_lag_seconds_sum', 'publish')).toBeLessThan(60);
    expect(value('market_feed_lag_seconds_count', 'arrival')).toBe(1);
  });
});
