import { buildSchema, Kind, parse, type OperationDefinitionNode } from 'graphql';
import { describe, expect, it } from 'vitest';
import { ValidatedDocuments } from './lean-graphql.js';

const schema = buildSchema('type Query { hello: String }');

function validated(text: string, against = schema) {
  const document = parse(text);
  const operation = document.definitions.find(
    (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION,
  );
  if (!operation) throw new Error('no operation');
  return { schema: against, document, queryHash: `hash of ${text}`, operation };
}

describe('ValidatedDocuments', () => {
  it('answers by text and operation name, only for the schema the document was validated against', () => {
    const docs = new ValidatedDocuments(10, 1000);
    const entry = validated('query A { hello }');
    docs.remember('query A { hello }', 'A', entry);
    expect(docs.get('query A { hello }', 'A', schema)).toBe(entry);
    expect(docs.get('query A { hello }', undefined, schema)).toBeUndefined();
    expect(docs.get('query A { hello } ', 'A', schema)).toBeUndefined();
    expect(docs.get('query A { hello }', 'A', buildSchema('type Query { hello: String }'))).toBeUndefined();
  });

  it('forgets the oldest texts beyond its entries and its bytes', () => {
    const byCount = new ValidatedDocuments(2, 1000);
    for (const t of ['{ a: hello }', '{ b: hello }', '{ c: hello }'])
      byCount.remember(t, undefined, validated(t));
    expect(byCount.size).toBe(2);
    expect(byCount.get('{ a: hello }', undefined, schema)).toBeUndefined();
    expect(byCount.get('{ c: hello }', undefined, schema)).toBeDefined();

    const byBytes = new ValidatedDocuments(100, 25);
    for (const t of ['{ a: hello }', '{ b: hello }', '{ c: hello }'])
      byBytes.remember(t, undefined, validated(t));
    expect(byBytes.size).toBe(2);
    expect(byBytes.get('{ b: hello }', undefined, schema)).toBeDefined();
    // Longer than the bound alone: never kept.
    byBytes.remember(`{ ${'x: hello '.repeat(5)}}`, undefined, validated('{ hello }'));
    expect(byBytes.size).toBe(2);
  });

  it('counts the operations of one text apart', () => {
    const docs = new ValidatedDocuments(2, 1000);
    const text = 'query A { hello } query B { hello }';
    docs.remember(text, 'A', validated('query A { hello }'));
    docs.remember(text, 'B', validated('query B { hello }'));
    docs.remember(text, 'B', validated('query B { hello }'));
    expect(docs.size).toBe(2);
    docs.remember('{ hello }', undefined, validated('{ hello }'));
    expect(docs.size).toBe(1);
    expect(docs.get(text, 'A', schema)).toBeUndefined();
  });
});
