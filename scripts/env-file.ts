/** `.env` rendering for `make setup`, kept apart so tests need none of setup's key tooling. */
import { randomBytes } from 'node:crypto';

/** A fresh SERVICE_TOKEN: 32 random bytes as 64 hex characters. */
export function newServiceToken(): string {
  return randomBytes(32).toString('hex');
}

/**
 * Turns `env.example` into a `.env`: the placeholder `SERVICE_TOKEN=` line gets the token;
 * everything else (comments, commented-out defaults) is kept so the file documents itself.
 */
export function renderEnvFile(example: string, serviceToken: string): string {
  if (!/^SERVICE_TOKEN=.*$/m.test(example)) return `${example.trimEnd()}\nSERVICE_TOKEN=${serviceToken}\n`;
  return example.replace(/^SERVICE_TOKEN=.*$/m, `SERVICE_TOKEN=${serviceToken}`);
}
