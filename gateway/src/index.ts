/**
 * Entry point of the gateway process (:8000): `tsx gateway/src/index.ts`.
 */
import { loadConfig } from '../../lib/config.js';
import { runUntilSignal } from '../../lib/http.js';
import { createLogger } from '../../lib/logger.js';
import { createGateway } from './gateway.js';

const config = loadConfig();
const logger = createLogger(config, 'gateway');

// Not awaited at the top level: dist/ runs this entry as a CommonJS bundle (scripts/build.ts).
runUntilSignal([createGateway(config, { logger })], logger).catch((err: unknown) => {
  logger.fatal({ err }, 'gateway failed');
  process.exitCode = 1;
});
