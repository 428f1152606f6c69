import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, PROJECT_ROOT } from './config.js';
import {
  DOCUMENTED_PLACEHOLDERS,
  estimateSecretBits,
  MIN_SECRET_BITS,
  serviceTokenProblem,
} from './secret-strength.js';

const read = (file: string): string => readFileSync(path.join(PROJECT_ROOT, file), 'utf8');

describe('serviceTokenProblem', () => {
  it('accepts the tokens make setup and the tests make (32 random bytes, hex or base64)', () => {
    for (let i = 0; i < 500; i++) {
      expect(serviceTokenProblem(randomBytes(32).toString('hex'))).toBeUndefined();
      expect(serviceTokenProblem(randomBytes(32).toString('base64url'))).toBeUndefined();
    }
  });

  it('accepts a random token that holds a placeholder word run into other characters or in mixed case', () => {
    const random = randomBytes(32).toString('base64url').replace(/[-_]/g, 'x');
    for (const token of [
      `${random.slice(0, 20)}ToKeN${random.slice(20)}`,
      `Q${random}secretZ`,
      `SeCrEt${random}`,
    ]) {
      expect(serviceTokenProblem(token), token).toBeUndefined();
    }
  });

  it('counts placeholder words run into a token as no entropy', () => {
    expect(serviceTokenProblem('supersecretpassword12345678901')).toMatch(/low entropy/);
    expect(estimateSecretBits('tokentokentokentokentokentoken')).toBe(0);
  });

  it('refuses every placeholder shown in the repository, whatever its letter case', () => {
    // The values the docs and examples show, read from the files themselves so a new example is seen.
    const k8s = /SERVICE_TOKEN:\s*(\S+)/.exec(read('ops/k8s/secrets/secrets.example.yaml'))?.[1];
    const example = /^SERVICE_TOKEN=(\S+)$/m.exec(read('env.example'))?.[1];
    expect(k8s).toBeDefined();
    expect(example).toBeDefined();
    for (const value of [k8s, example, ...DOCUMENTED_PLACEHOLDERS]) {
      expect(serviceTokenProblem(String(value)), String(value)).toMatch(/placeholder/);
      expect(serviceTokenProblem(String(value).toUpperCase())).toMatch(/placeholder/);
    }
    expect(serviceTokenProblem(`change-me-${randomBytes(16).toString('hex')}`)).toMatch(/placeholder/);
  });

  it('refuses low-entropy tokens: one character, few distinct characters, repeats and runs', () => {
    for (const weak of [
      'x'.repeat(40),
      'a'.repeat(64),
      'ab'.repeat(20),
      '0123456789abcdef'.repeat(4),
      'abcdefghijklmnopqrstuvwxyz0123456789',
      `${randomBytes(4).toString('hex')}`.repeat(8),
      'P@ssw0rd'.repeat(5),
    ]) {
      expect(estimateSecretBits(weak), weak).toBeLessThan(MIN_SECRET_BITS);
      expect(serviceTokenProblem(weak), weak).toMatch(/low entropy/);
    }
  });

  it('never repeats the token in its answer', () => {
    const weak = 'q'.repeat(48);
    expect(serviceTokenProblem(weak)).not.toContain(weak);
  });
});

describe('loadConfig and SERVICE_TOKEN', () => {
  it('refuses a placeholder or weak token at start with a ConfigError naming SERVICE_TOKEN', () => {
    expect.assertions(4);
    for (const token of [
      'replace-with-64-random-hex-characters-for-example-openssl-rand-hex-32',
      'z'.repeat(64),
    ]) {
      try {
        loadConfig({ SERVICE_TOKEN: token });
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        expect((err as ConfigError).issues.join('\n')).toMatch(/SERVICE_TOKEN/);
      }
    }
  });
});
