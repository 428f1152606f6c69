import { GraphQLError, GraphQLScalarType, Kind, valueFromASTUntyped } from 'graphql';
import { ErrorCode } from './errors.js';

const CANONICAL_ISO = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{3}Z$/;

function toIso(value: unknown): string {
  if (value instanceof Date && !Number.isNaN(value.getTime())) return value.toISOString();
  if (typeof value === 'string' || typeof value === 'number') {
    const d = new Date(value);
    if (!Number.isNaN(d.getTime())) return d.toISOString();
  }
  throw new GraphQLError('DateTime must be an ISO-8601 date-time', {
    extensions: { code: ErrorCode.BadUserInput },
  });
}

/**
 * `DateTime`: serialized as an ISO-8601 UTC string; accepts ISO strings as input and parses them
 * into `Date`. Shared so every subgraph renders time the same way.
 */
export const DateTimeScalar = new GraphQLScalarType<Date, string>({
  name: 'DateTime',
  description: 'ISO-8601 date-time string (UTC).',
  // A string already in toISOString()'s exact form (what a cache or a JSON column holds) is sent as it is:
  // re-parsing every point of a long series was a visible cost. Input always goes through toIso.
  serialize: (value) => (typeof value === 'string' && CANONICAL_ISO.test(value) ? value : toIso(value)),
  parseValue: (value) => new Date(toIso(value)),
  parseLiteral: (ast) => {
    if (ast.kind !== Kind.STRING) {
      throw new GraphQLError('DateTime must be a string', { extensions: { code: ErrorCode.BadUserInput } });
    }
    return new Date(toIso(ast.value));
  },
});

const DECIMAL = /^-?\d{1,40}(\.\d{1,30})?$/;

function toDecimalString(value: unknown): string {
  // Numbers are refused on input (a float literal may already have lost precision), accepted on output
  // only when they are integers.
  if (typeof value === 'string' && DECIMAL.test(value)) return value;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  if (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { toFixed?: unknown }).toFixed === 'function'
  ) {
    const s = (value as { toFixed: () => string }).toFixed();
    if (DECIMAL.test(s)) return s;
  }
  throw new GraphQLError('Decimal must be a decimal number in a string, e.g. "12.34"', {
    extensions: { code: ErrorCode.BadUserInput },
  });
}

/**
 * `Decimal`: an exact decimal number serialized as a string (never a float). Accepts strings such as
 * "-12.340" as input and keeps them as strings; serializes strings, safe integers and decimal.js values.
 */
export const DecimalScalar = new GraphQLScalarType<string, string>({
  name: 'Decimal',
  description: 'Exact decimal number, serialized as a string.',
  serialize: toDecimalString,
  parseValue: (value) => {
    if (typeof value !== 'string') {
      throw new GraphQLError('Decimal input must be a string', {
        extensions: { code: ErrorCode.BadUserInput },
      });
    }
    return toDecimalString(value);
  },
  parseLiteral: (ast) => {
    if (ast.kind !== Kind.STRING) {
      throw new GraphQLError('Decimal input must be a string', {
        extensions: { code: ErrorCode.BadUserInput },
      });
    }
    return toDecimalString(ast.value);
  },
});

/**
 * `JSON`: any JSON value in and out, passed through as is (literals become plain values, variables
 * inside literals are substituted). Whoever stores input checks its shape and size.
 */
export const JSONScalar = new GraphQLScalarType({
  name: 'JSON',
  description: 'Arbitrary JSON value.',
  serialize: (value) => value,
  parseValue: (value) => value,
  parseLiteral: (ast, variables) => valueFromASTUntyped(ast, variables),
});
