/** Entry point of the auth process (`tsx subgraphs/auth/src/index.ts`). */
import { runUntilSignal } from '../../../lib/http.js';
import { createLogger } from '../../../lib/logger.js';
import { loadAuthConfig } from './config.js';
import { createAuthService } from './service.js';

const config = loadAuthConfig();
const logger = createLogger(config, 'auth');
await runUntilSignal([createAuthService(config)], logger);
