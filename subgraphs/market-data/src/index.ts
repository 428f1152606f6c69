/** Entry point of the market-data process (`tsx subgraphs/market-data/src/index.ts`). */
import { runUntilSignal } from '../../../lib/http.js';
import { createLogger } from '../../../lib/logger.js';
import { loadMarketDataConfig } from './config.js';
import { createMarketDataService } from './service.js';

const config = loadMarketDataConfig();
const logger = createLogger(config, 'market-data');
// Not awaited at the top level: dist/ runs this entry as a CommonJS bundle (scripts/build.ts). A
// failed start is an unhandled rejection, which ends the process with code 1 as before.
void runUntilSignal([createMarketDataService(config)], logger);
