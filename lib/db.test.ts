import { describe, expect, it } from 'vitest';
import { ident, tenantSchemaName } from './db.js';

describe('identifiers', () => {
  it('derives the tenant schema from the tenant id', () => {
    expect(tenantSchemaName('0f8fad5b-d9cb-469f-a165-70867728950e')).toBe('t_0f8fad5bd9cb469f');
  });

  it('refuses anything but plain lower-case identifiers', () => {
    expect(ident('t_abc123')).toBe('"t_abc123"');
    for (const bad of ['T_abc', 'a"b', 'x; drop table y', '', '1abc', 'a'.repeat(64)]) {
      expect(() => ident(bad)).toThrow(/invalid SQL identifier/);
    }
  });
});
