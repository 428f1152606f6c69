import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../lib/config.js';
import { loadPlatformConfig, platformVariableNames } from './platform-config.js';

const token = randomBytes(32).toString('hex');

describe('loadPlatformConfig', () => {
  it("holds the kernel's and every subgraph's settings", () => {
    const c = loadPlatformConfig({ SERVICE_TOKEN: token, TRADING_FEE_BPS: '2.5' });
    expect(c).toMatchObject({
      GATEWAY_PORT: 8000,
      SESSION_TTL_SECONDS: 2_592_000,
      ACCESS_TOKEN_TTL_SECONDS: 900,
      MA130_PORT: 22,
      TRADING_FEE_BPS: '2.5',
      MARKET_FEED_PROVIDER: 'simulator',
      ANALYTICS_BENCHMARK_SYMBOL: 'SPY',
    });
  });

  it('lists every bad variable of every section at once, as `make dev` prints them', () => {
    expect.assertions(2);
    try {
      loadPlatformConfig({
        SERVICE_TOKEN: 'short',
        GATEWAY_PORT: 'eighty',
        SESSION_EVENTS_MAX: '0',
        ARGON2_TIME_COST: 'two',
        MA130_PORT: '-1',
        TRADING_DAY_END_UTC: '25:00',
        MARKET_FEED_PROVIDER: 'carrier-pigeon',
        ANALYTICS_ROLLING_WINDOW_DAYS: '1',
      });
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const names = (err as ConfigError).issues.map((i) => i.split(':')[0]);
      expect(names.sort()).toEqual([
        'ANALYTICS_ROLLING_WINDOW_DAYS',
        'ARGON2_TIME_COST',
        'GATEWAY_PORT',
        'MA130_PORT',
        'MARKET_FEED_PROVIDER',
        'SERVICE_TOKEN',
        'SESSION_EVENTS_MAX',
        'TRADING_DAY_END_UTC',
      ]);
    }
  });

  it('names each variable once', () => {
    const names = platformVariableNames();
    expect(new Set(names).size).toBe(names.length);
    expect(names).toEqual(
      expect.arrayContaining([
        'REDIS_URL',
        'SESSION_TTL_SECONDS',
        'OIDC_ISSUER',
        'MA130_HOST',
        'TRADING_FEE_BPS',
      ]),
    );
  });
});
