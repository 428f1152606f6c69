import { describe, expect, it } from 'vitest';
import { isValidEmail, normalizeEmail } from './email.js';

describe('normalizeEmail', () => {
  it('trims, lower-cases and NFKC-normalizes', () => {
    expect(normalizeEmail('  Alice@Example.COM \n')).toBe('alice@example.com');
    // Full-width letters and at sign collapse to their ASCII forms.
    expect(normalizeEmail('\uFF41\uFF4C\uFF49\uFF43\uFF45\uFF20example.com')).toBe('alice@example.com');
    // The ligature ﬁ decomposes under compatibility normalization.
    expect(normalizeEmail('\uFB01n@example.com')).toBe('fin@example.com');
  });
});

describe('isValidEmail', () => {
  it.each(['a@b.co', 'first.last+tag@sub.example.org'])('accepts %s', (e) => {
    expect(isValidEmail(e)).toBe(true);
  });

  it.each([
    '',
    'plain',
    'a@b',
    '@example.com',
    'a b@example.com',
    'a@@example.com',
    'a@example..com',
    `${'x'.repeat(250)}@e.co`,
  ])('rejects %j', (e) => {
    expect(isValidEmail(e)).toBe(false);
  });
});
