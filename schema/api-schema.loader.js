// @ts-check
/**
 * GraphQL Code Generator schema loader: the public API schema of the committed supergraph (join
 * directives stripped, @inaccessible fields removed), which is what web clients can really send.
 * Plain JavaScript because graphql-codegen imports custom loaders without a TypeScript loader.
 */
import { readFileSync } from 'node:fs';
import { printSchema, Supergraph } from '@apollo/federation-internals';
import { buildSchema } from 'graphql';

/**
 * Loads the API schema of the supergraph SDL at `file`.
 * @param {string} file
 * @returns {import('graphql').GraphQLSchema}
 */
export function loadApiSchema(file) {
  return buildSchema(printSchema(Supergraph.build(readFileSync(file, 'utf8')).apiSchema()));
}

// graphql-codegen calls a custom loader through the module's default export.
// eslint-disable-next-line no-restricted-syntax
export default loadApiSchema;
