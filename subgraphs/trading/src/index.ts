/** Entry point of the trading subgraph process (port TRADING_PORT, 8004). */
import { runUntilSignal } from '../../../lib/http.js';
import { createLogger } from '../../../lib/logger.js';
import { loadTradingConfig } from './config.js';
import { createTradingService } from './service.js';

const config = loadTradingConfig();
const logger = createLogger(config, 'trading');
await runUntilSignal([createTradingService(config, { logger })], logger);
