import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { ident, sqlLiteral, tenantSchemaName } from './db.js';

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

describe('sqlLiteral', () => {
  it("answers exactly pg.escapeLiteral's literal, quotes and backslashes included", () => {
    const doc = JSON.stringify({ id: 'a1', message: 'it\'s "quoted"\n', path: 'C:\\x', n: '1.5' });
    const values = [doc, '', 'plain', "a'b", "''", 'a\\b', '\\', "x'); COMMIT; SELECT ('", "\\'", 'é ü 😀'];
    for (const v of values) expect(sqlLiteral(v)).toBe(pg.escapeLiteral(v));
    expect(sqlLiteral(null)).toBe('NULL');
  });
});
