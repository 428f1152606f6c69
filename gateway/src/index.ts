/**
 * Entry point of the gateway process (:8000): `tsx gateway/src/index.ts`.
 */
import { loadConfig } from '../../lib/config.js';
import { runUntilSignal } from '../../lib/http.js';
import { createLogger } from '../../lib/logger.js';
import { createGateway } from './gateway.js';

const config = loadConfig();
const logger = createLogger(config, 'gateway');

try {
  await runUntilSignal([createGateway(config, { logger })], logger);
} catch (err) {
  logger.fatal({ err }, 'gateway failed');
  process.exitCode = 1;
}
