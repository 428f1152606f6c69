/** Entry point of the trading subgraph process (port TRADING_PORT, 8004). */
import { runUntilSignal } from '../../../lib/http.js';
import { createLogger } from '../../../lib/logger.js';
import { loadTradingConfig } from './config.js';
import { createTradingService } from './service.js';

const config = loadTradingConfig();
const logger = createLogger(config, 'trading');
// Not awaited at the top level: dist/ runs this entry as a CommonJS bundle (scripts/build.ts). A
// failed start is an unhandled rejection, which ends the process with code 1 as before.
void runUntilSignal([createTradingService(config, { logger })], logger);
