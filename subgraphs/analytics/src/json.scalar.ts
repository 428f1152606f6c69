import { GraphQLScalarType, valueFromASTUntyped } from 'graphql';

/**
 * `JSON`: arbitrary JSON in and out (dashboard widget config and layout). Input is only passed
 * through here; the dashboard service checks shape and size.
 */
export const JSONScalar = new GraphQLScalarType({
  name: 'JSON',
  description: 'Arbitrary JSON value.',
  serialize: (value) => value,
  parseValue: (value) => value,
  parseLiteral: (ast, variables) => valueFromASTUntyped(ast, variables),
});
