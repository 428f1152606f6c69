import { GraphQLError, GraphQLScalarType } from 'graphql';
import { ErrorCode } from '../../../lib/errors.js';

/**
 * `JSON`: arbitrary JSON, output only here (order event details). Trading takes no JSON input, so
 * input is refused rather than passed through unchecked.
 */
export const JSONScalar = new GraphQLScalarType({
  name: 'JSON',
  description: 'Arbitrary JSON value.',
  serialize: (value) => value,
  parseValue: () => {
    throw new GraphQLError('JSON input is not accepted', { extensions: { code: ErrorCode.BadUserInput } });
  },
  parseLiteral: () => {
    throw new GraphQLError('JSON input is not accepted', { extensions: { code: ErrorCode.BadUserInput } });
  },
});
