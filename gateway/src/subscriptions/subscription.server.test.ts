import { GraphQLError, parse, validate, buildSchema } from 'graphql';
import { areGraphQLErrors } from 'graphql-ws';
import { describe, expect, it } from 'vitest';
import { rateLimited, toGraphQLError } from '../../../lib/errors.js';

// The subscription server returns a refused subscribe's errors from graphql-ws' `onSubscribe`, which
// answers them on the subscribe's id only when they are GraphQLErrors of graphql-ws' own graphql-js
// (otherwise it fails the socket): one graphql-js for both, as the bundles and vitest.config.ts load it.
describe('refusals returned to graphql-ws', () => {
  it('are GraphQLErrors of the graphql-js graphql-ws checks against', () => {
    const refusal = toGraphQLError(rateLimited(1, 'Subscribes per user exceed the limit of 34 per 1 s'));
    const invalid = validate(buildSchema('type Query { a: Int }'), parse('{ b }'));
    expect(invalid.length).toBeGreaterThan(0);
    expect(areGraphQLErrors([refusal, new GraphQLError('Socket closed'), ...invalid])).toBe(true);
  });
});
