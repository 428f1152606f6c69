/** Entry point of the auth process (`tsx subgraphs/auth/src/index.ts`). */
import { loadConfig } from '../../../lib/config.js';
import { runUntilSignal } from '../../../lib/http.js';
import { createLogger } from '../../../lib/logger.js';
import { createAuthService } from './service.js';

const config = loadConfig();
const logger = createLogger(config, 'auth');
await runUntilSignal([createAuthService(config)], logger);
