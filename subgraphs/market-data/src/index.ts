/** Entry point of the market-data process (`tsx subgraphs/market-data/src/index.ts`). */
import { loadConfig } from '../../../lib/config.js';
import { runUntilSignal } from '../../../lib/http.js';
import { createLogger } from '../../../lib/logger.js';
import { createMarketDataService } from './service.js';

const config = loadConfig();
const logger = createLogger(config, 'market-data');
await runUntilSignal([createMarketDataService(config)], logger);
