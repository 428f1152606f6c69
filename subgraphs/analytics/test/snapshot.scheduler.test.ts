import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../../lib/logger.js';
import { TradeSnapshotScheduler } from '../src/snapshot.scheduler.js';

const logger = createLogger({ LOG_LEVEL: 'silent' }, 'test');
const scope = { tenantId: 't1', schemaName: 't_t1' };
const other = { tenantId: 't2', schemaName: 't_t2' };

/** A snapshot function that records each call and finishes when told. */
function recorder() {
  const calls: string[] = [];
  const finish: (() => void)[] = [];
  const take = (s: { schemaName: string }, accountId: string): Promise<void> => {
    calls.push(`${s.schemaName}:${accountId}@${Date.now()}`);
    return new Promise<void>((resolve) => finish.push(resolve));
  };
  const finishAll = async (): Promise<void> => {
    finish.splice(0).forEach((f) => f());
    await vi.advanceTimersByTimeAsync(0);
  };
  return { calls, take, finishAll };
}

describe('TradeSnapshotScheduler', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('snapshots the first trade at once and a burst once more, after the interval', async () => {
    const r = recorder();
    const s = new TradeSnapshotScheduler(r.take, 1000, logger);
    s.request(scope, 'a');
    expect(r.calls).toEqual(['t_t1:a@0']);
    for (let i = 0; i < 50; i++) s.request(scope, 'a');
    await r.finishAll();
    expect(r.calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(999);
    expect(r.calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(r.calls).toEqual(['t_t1:a@0', 't_t1:a@1000']);
    await r.finishAll();
    // Nothing arrived since: no third snapshot.
    await vi.advanceTimersByTimeAsync(5000);
    expect(r.calls).toHaveLength(2);
  });

  it('keeps accounts and tenants apart', () => {
    const r = recorder();
    const s = new TradeSnapshotScheduler(r.take, 1000, logger);
    s.request(scope, 'a');
    s.request(scope, 'b');
    s.request(other, 'a');
    s.request(scope, 'a');
    expect(r.calls).toEqual(['t_t1:a@0', 't_t1:b@0', 't_t2:a@0']);
  });

  it('bounds the rate of trades that each arrive after the previous snapshot finished', async () => {
    const r = recorder();
    const s = new TradeSnapshotScheduler(r.take, 1000, logger);
    for (let t = 0; t < 3000; t += 100) {
      s.request(scope, 'a');
      await r.finishAll();
      await vi.advanceTimersByTimeAsync(100);
    }
    // Trades every 100 ms for 3 s: one snapshot per second, not one per trade.
    expect(r.calls).toEqual(['t_t1:a@0', 't_t1:a@1000', 't_t1:a@2000', 't_t1:a@3000']);
  });

  it('with no interval, coalesces trades that arrive while a snapshot runs', async () => {
    const r = recorder();
    const s = new TradeSnapshotScheduler(r.take, 0, logger);
    s.request(scope, 'a');
    s.request(scope, 'a');
    s.request(scope, 'a');
    expect(r.calls).toHaveLength(1);
    await r.finishAll();
    expect(r.calls).toHaveLength(2);
    await r.finishAll();
    expect(r.calls).toHaveLength(2);
    expect(s.busy).toBe(0);
  });

  it('on stop, takes the snapshots still waiting for their turn', async () => {
    const r = recorder();
    const s = new TradeSnapshotScheduler(r.take, 60_000, logger);
    s.request(scope, 'a');
    await r.finishAll();
    s.request(scope, 'a');
    expect(r.calls).toHaveLength(1);
    const stopped = s.stop();
    await r.finishAll();
    await stopped;
    expect(r.calls).toHaveLength(2);
    s.request(scope, 'a');
    expect(r.calls).toHaveLength(2);
  });

  it('a failed snapshot does not stop the next one', async () => {
    let n = 0;
    const s = new TradeSnapshotScheduler(
      () => (++n === 1 ? Promise.reject(new Error('database down')) : Promise.resolve()),
      0,
      logger,
    );
    s.request(scope, 'a');
    await vi.advanceTimersByTimeAsync(0);
    s.request(scope, 'a');
    await vi.advanceTimersByTimeAsync(0);
    expect(n).toBe(2);
  });
});
