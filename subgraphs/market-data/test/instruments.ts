/** Simulated instruments shared by the feed tests, by symbol. */
import type { SimulatedInstrument } from '../src/feed/simulator.js';

export const SIMULATED = {
  AAPL: {
    symbol: 'AAPL',
    tickSize: '0.01',
    lotSize: '1',
    priceDecimals: 2,
    assetClass: 'EQUITY',
    drift: 0.08,
    volatility: 0.25,
    spreadBps: 1,
    startPrice: '190.00',
  },
  EURUSD: {
    symbol: 'EURUSD',
    tickSize: '0.00001',
    lotSize: '1000',
    priceDecimals: 5,
    assetClass: 'FX',
    drift: 0,
    volatility: 0.07,
    spreadBps: 0.8,
    startPrice: '1.08500',
  },
  BTCUSD: {
    symbol: 'BTCUSD',
    tickSize: '0.01',
    lotSize: '0.0001',
    priceDecimals: 2,
    assetClass: 'CRYPTO',
    drift: 0.1,
    volatility: 0.6,
    spreadBps: 5,
    startPrice: '65000.00',
  },
} satisfies Record<string, SimulatedInstrument>;
