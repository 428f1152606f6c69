/**
 * A direct answer to the report queries without graphql-js field execution: the report is already a
 * plain object, so its selected fields are copied with nullability checks and scalar serialization
 * exactly as execution would. Kept for speed (BENCHMARKS.md, analytics report); anything it does not
 * handle, and every error, goes to normal execution. Upgrading graphql or @apollo/server: run
 * analytics.int.test.ts ("answers plain selections directly exactly as graphql execution would");
 * when it passes, set {@link REPORT_RESPONSE_VERIFIED_WITH} to the installed versions (the pin test
 * reads it); when it fails, fix this file or remove the plugin from service.ts.
 */
import { HeaderMap, type ApolloServerPlugin, type GraphQLRequestContext } from '@apollo/server';
import {
  getArgumentValues,
  getNamedType,
  getNullableType,
  getVariableValues,
  isLeafType,
  isListType,
  isNonNullType,
  isObjectType,
  Kind,
  OperationTypeNode,
  type GraphQLField,
  type GraphQLLeafType,
  type GraphQLObjectType,
  type GraphQLOutputType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import type { AnalyticsContext } from './context.js';
import { resolvers } from './resolvers/index.js';

/** How one selected field is copied: its response key, source property and type. */
interface FieldPlan {
  key: string;
  name: string;
  type: GraphQLOutputType;
  /** Selections of an object (or list of objects) field. */
  fields: FieldPlan[] | null;
}

/** A root field's resolver, called as execution would (it uses neither parent nor info). */
type RootResolver = (
  parent: unknown,
  args: Record<string, unknown>,
  ctx: AnalyticsContext,
  info: unknown,
) => unknown;

/** The plan of an operation this plugin answers. */
interface OperationPlan {
  root: FieldPlan;
  def: GraphQLField<unknown, unknown>;
  resolve: RootResolver;
}

/** Root fields whose resolver returns a plain report object (no resolvers below it). */
const ROOTS = new Set(['performanceReport', 'riskReport']);

function rootResolver(name: string): RootResolver | null {
  const r = (resolvers.Query as Record<string, unknown> | undefined)?.[name];
  return ROOTS.has(name) && typeof r === 'function' ? (r as RootResolver) : null;
}

/** Whether `type.field` has a resolver of its own: then only execution calls it. */
function hasResolver(type: string, field: string): boolean {
  const r = (resolvers as Record<string, unknown>)[type];
  return typeof r === 'object' && r !== null && field in r;
}

/** Thrown while copying when execution would have raised an error (e.g. null in a non-null field). */
class Unsupported extends Error {}

/** ISO-8601 UTC as `Date.prototype.toISOString` writes it: what DateTime serializes any input to. */
const CANONICAL_ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/**
 * Plans of the selections of `type`, or null when a selection needs execution (fragments,
 * directives, repeated response keys, unknown fields).
 */
function planSelections(type: GraphQLObjectType, set: SelectionSetNode): FieldPlan[] | null {
  const out: FieldPlan[] = [];
  const keys = new Set<string>();
  const fields = type.getFields();
  for (const sel of set.selections) {
    if (sel.kind !== Kind.FIELD || (sel.directives?.length ?? 0) > 0) return null;
    const key = sel.alias?.value ?? sel.name.value;
    if (keys.has(key)) return null;
    keys.add(key);
    if (sel.name.value === '__typename') {
      out.push({ key, name: '__typename', type, fields: null });
      continue;
    }
    const def = fields[sel.name.value];
    if (!def || hasResolver(type.name, def.name) || (sel.arguments?.length ?? 0) > 0) return null;
    const named = getNamedType(def.type);
    let sub: FieldPlan[] | null = null;
    if (isObjectType(named)) {
      if (!sel.selectionSet) return null;
      sub = planSelections(named, sel.selectionSet);
      if (!sub) return null;
    } else if (!isLeafType(named)) return null;
    out.push({ key, name: sel.name.value, type: def.type, fields: sub });
  }
  return out;
}

function planOperation(schema: GraphQLSchema, op: OperationDefinitionNode): OperationPlan | null {
  const query = schema.getQueryType();
  const [sel, ...rest] = op.selectionSet.selections;
  if (op.operation !== OperationTypeNode.QUERY || !query || !sel || rest.length > 0) return null;
  if (sel.kind !== Kind.FIELD || (sel.directives?.length ?? 0) > 0 || !sel.selectionSet) return null;
  const resolve = rootResolver(sel.name.value);
  const def = query.getFields()[sel.name.value];
  const named = def ? getNamedType(def.type) : undefined;
  if (!resolve || !def || !isObjectType(named)) return null;
  const fields = planSelections(named, sel.selectionSet);
  if (!fields) return null;
  return {
    root: { key: sel.alias?.value ?? sel.name.value, name: def.name, type: def.type, fields },
    def,
    resolve,
  };
}

/** The library versions this plugin was last verified against (see the module comment). */
export const REPORT_RESPONSE_VERIFIED_WITH = { graphql: '16.15.0', '@apollo/server': '5.5.1' } as const;

/** Whether the plugin answers `op` itself (true) or leaves it to execution (for tests). */
export function answersDirectly(schema: GraphQLSchema, op: OperationDefinitionNode): boolean {
  return planOperation(schema, op) !== null;
}

function serializeLeaf(type: GraphQLLeafType, value: unknown): unknown {
  // DateTime re-parses its input; a canonical ISO string (how reports store times) is its own output.
  if (type.name === 'DateTime' && typeof value === 'string' && CANONICAL_ISO.test(value)) return value;
  const out = type.serialize(value);
  if (out === undefined) throw new Unsupported();
  return out;
}

/** `value` shaped like graphql-js would complete it for `type` and the planned selections. */
function complete(type: GraphQLOutputType, fields: FieldPlan[] | null, value: unknown): unknown {
  if (isNonNullType(type)) {
    const out = complete(type.ofType, fields, value);
    if (out === null) throw new Unsupported();
    return out;
  }
  if (value === null || value === undefined) return null;
  if (isListType(type)) {
    if (!Array.isArray(value)) throw new Unsupported();
    const item = type.ofType;
    const out = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) out[i] = complete(item, fields, value[i]);
    return out;
  }
  if (isLeafType(type)) return serializeLeaf(type, value);
  if (!fields || typeof value !== 'object') throw new Unsupported();
  const source = value as Record<string, unknown>;
  const named = getNullableType(type);
  const out: Record<string, unknown> = {};
  for (const f of fields) {
    if (f.name === '__typename') {
      out[f.key] = isObjectType(named) ? named.name : undefined;
      continue;
    }
    const v = source[f.name];
    // A function would be a resolver-style property: execution calls it, a copy would not.
    if (typeof v === 'function') throw new Unsupported();
    out[f.key] = complete(f.type, f.fields, v);
  }
  return out;
}

/**
 * The Apollo plugin. It takes an operation made of one report field with plain field selections (what
 * the gateway sends: fields, aliases, `__typename`, variables), calls the root field's own resolver
 * (the report service, cache included) and copies the selected fields. Fragments, directives,
 * several root fields, mutations, a field with a resolver of its own, or a value execution would
 * reject are left to normal execution; so is every error (the operation is executed again, so an
 * error costs one extra attempt, never a different answer). Stateless apart from a cache of operation plans keyed
 * by the parsed operation, which Apollo itself caches per query text.
 */
export function reportResponsePlugin(): ApolloServerPlugin<AnalyticsContext> {
  const plans = new WeakMap<OperationDefinitionNode, OperationPlan | null>();
  const planOf = (schema: GraphQLSchema, op: OperationDefinitionNode): OperationPlan | null => {
    let plan = plans.get(op);
    if (plan === undefined) {
      plan = planOperation(schema, op);
      plans.set(op, plan);
    }
    return plan;
  };
  const respond = async (rc: GraphQLRequestContext<AnalyticsContext>): Promise<unknown> => {
    const op = rc.operation;
    if (!op) return undefined;
    const plan = planOf(rc.schema, op);
    if (!plan) return undefined;
    const vars = getVariableValues(rc.schema, op.variableDefinitions ?? [], rc.request.variables ?? {});
    if (vars.errors) return undefined;
    const fieldNode = op.selectionSet.selections[0];
    if (fieldNode?.kind !== Kind.FIELD) return undefined;
    const args = getArgumentValues(plan.def, fieldNode, vars.coerced);
    const report: unknown = await plan.resolve(undefined, args, rc.contextValue, undefined);
    return { [plan.root.key]: complete(plan.root.type, plan.root.fields, report) };
  };
  return {
    requestDidStart: () =>
      Promise.resolve({
        responseForOperation: async (rc) => {
          let data: unknown;
          try {
            data = await respond(rc);
          } catch {
            // Execution answers instead, with its own error handling (see the module comment).
            return null;
          }
          if (data === undefined) return null;
          return {
            http: { headers: new HeaderMap() },
            body: { kind: 'single', singleResult: { data: data as Record<string, unknown> } },
          };
        },
      }),
  };
}
