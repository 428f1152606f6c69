/** Entry point of the trading subgraph process (port TRADING_PORT, 8004). */
import { loadConfig } from '../../../lib/config.js';
import { runUntilSignal } from '../../../lib/http.js';
import { createLogger } from '../../../lib/logger.js';
import { createTradingService } from './service.js';

const config = loadConfig();
const logger = createLogger(config, 'trading');
await runUntilSignal([createTradingService(config, { logger })], logger);
