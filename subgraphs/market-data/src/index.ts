/** Entry point of the market-data process (`tsx subgraphs/market-data/src/index.ts`). */
import { runUntilSignal } from '../../../lib/http.js';
import { createLogger } from '../../../lib/logger.js';
import { loadMarketDataConfig } from './config.js';
import { createMarketDataService } from './service.js';

const config = loadMarketDataConfig();
const logger = createLogger(config, 'market-data');
await runUntilSignal([createMarketDataService(config)], logger);
