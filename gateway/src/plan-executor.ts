/**
 * A lean run of query plans (issue 15): @apollo/gateway's `executeQueryPlan` for plans of `Fetch`,
 * `Sequence`, `Parallel`, `Flatten` and `Condition` nodes, built from the library's own pieces
 * (`computeResponse`, `deepMerge`, `applyRewrites`, `generateHydratedPaths`, its error codes) and a
 * copy of its control flow, minus what it redoes on every request for nothing: parsing the operation
 * into the federation model again (cached here with the plan), OpenTelemetry spans (this path is not
 * taken while tracing is on), usage-reporting trace nodes, and the executor's plan-cache look-up.
 * Answers must equal the library executor's byte for byte: gateway/test/lean-executor.int.test.ts
 * compares both. Kept in step with SINGLE_FETCH_VERIFIED_WITH (single-fetch.gateway.ts).
 */
import type { Operation } from '@apollo/federation-internals';
import { ERRORS, assert, errorCodeDef } from '@apollo/federation-internals';
import type { GraphQLDataSource } from '@apollo/gateway';
import { applyRewrites, isObjectOfType } from '@apollo/gateway/dist/dataRewrites.js';
import { GraphQLDataSourceRequestKind } from '@apollo/gateway/dist/datasources/types.js';
import { generateHydratedPaths } from '@apollo/gateway/dist/executeQueryPlan.js';
import { computeResponse } from '@apollo/gateway/dist/resultShaping.js';
import { deepMerge } from '@apollo/gateway/dist/utilities/deepMerge.js';
import { getOwn, hasOwn } from '@apollo/gateway/dist/utilities/own.js';
import {
  evaluateCondition,
  getResponseName,
  type FetchNode,
  type PlanNode,
  type QueryPlan,
  type QueryPlanSelectionNode,
  type ResponsePath,
} from '@apollo/query-planner';
import type { GatewayExecutionResult, GatewayGraphQLRequestContext } from '@apollo/server-gateway-interface';
import { GraphQLError, TypeNameMetaFieldDef, type GraphQLFormattedError, type GraphQLSchema } from 'graphql';

/** Plain JSON objects as the executor builds and merges them. */
type ResultMap = Record<string, unknown>;

/** Where a plan node works in the result (the library's `ResultCursor`). */
interface Cursor {
  path: ResponsePath;
  data: ResultMap | ResultMap[];
  fullResult: ResultMap;
}

/** A plan the lean executor can run, and what the library would rebuild for it on every request. */
export interface LeanPlan {
  plan: QueryPlan;
  /** The operation as the library's executor parses it (`validate: false`, used fragments only). */
  operation: Operation;
}

/** True when every node of the plan is one this executor runs (no `Defer`, no subscription). */
export function isLeanPlan(plan: QueryPlan): boolean {
  const ok = (node: PlanNode): boolean => {
    switch (node.kind) {
      case 'Fetch':
        return true;
      case 'Sequence':
      case 'Parallel':
        return node.nodes.every(ok);
      case 'Flatten':
        return ok(node.node);
      case 'Condition':
        return (!node.ifClause || ok(node.ifClause)) && (!node.elseClause || ok(node.elseClause));
      case 'Defer':
        return false;
    }
  };
  const node = plan.node;
  return !node || (node.kind !== 'Subscription' && ok(node));
}

/** One request's run: what every node reads, and the errors the fetches collected. */
interface Run {
  ctx: GatewayGraphQLRequestContext;
  operation: Operation;
  supergraph: GraphQLSchema;
  dataSource: (serviceName: string) => GraphQLDataSource | undefined;
  errors: unknown[];
}

/**
 * Runs `lean` for the request as `executeQueryPlan` would (its `tracer` spans and traces aside).
 * @param supergraph the supergraph as a graphql-js schema (entity type conditions, rewrites)
 */
export async function executeLeanPlan(
  lean: LeanPlan,
  ctx: GatewayGraphQLRequestContext,
  supergraph: GraphQLSchema,
  dataSource: (serviceName: string) => GraphQLDataSource | undefined,
): Promise<GatewayExecutionResult> {
  const run: Run = { ctx, operation: lean.operation, supergraph, dataSource, errors: [] };
  const unfilteredData = Object.create(null) as ResultMap;
  if (lean.plan.node && lean.plan.node.kind !== 'Subscription') {
    await executeNode(run, lean.plan.node, { path: [], data: unfilteredData, fullResult: unfilteredData });
  }
  // Defined: the input is an object.
  let data: ResultMap | null;
  try {
    const computed = computeResponse({
      operation: lean.operation,
      ...(ctx.request.variables ? { variables: ctx.request.variables } : {}),
      input: unfilteredData,
      // Documents that select __schema or __type are left to the library (see SingleFetchPlanner).
      introspectionHandling: () => {
        throw new Error('introspection is not run by the lean executor');
      },
    });
    data = computed.data as ResultMap | null;
    if (run.errors.length === 0 && computed.errors.length > 0) {
      return { extensions: { valueCompletion: computed.errors }, data };
    }
  } catch (error) {
    if (error instanceof GraphQLError) return { errors: [error] };
    if (error instanceof Error)
      return { errors: [new GraphQLError(error.message, { originalError: error })] };
    ctx.logger.error(`Unexpected error during query plan execution: ${String(error)}`);
    return { errors: [new GraphQLError('Unexpected error during query plan execution')] };
  }
  // The library returns whatever its fetches threw, GraphQLError or not; Apollo Server formats them.
  return run.errors.length === 0 ? { data } : { errors: run.errors as GraphQLError[], data };
}

async function executeNode(run: Run, node: PlanNode, cursor: Cursor | undefined): Promise<void> {
  if (!cursor) return;
  switch (node.kind) {
    case 'Sequence':
      for (const child of node.nodes) await executeNode(run, child, cursor);
      return;
    case 'Parallel':
      await Promise.all(node.nodes.map((child) => executeNode(run, child, cursor)));
      return;
    case 'Flatten':
      await executeNode(run, node.node, moveIntoCursor(cursor, node.path));
      return;
    case 'Fetch':
      try {
        await executeFetch(run, node, cursor);
      } catch (error) {
        run.errors.push(error);
      }
      return;
    case 'Condition': {
      const variables = run.ctx.request.variables;
      const branch = evaluateCondition(node, run.operation.variableDefinitions, variables)
        ? node.ifClause
        : node.elseClause;
      if (branch) await executeNode(run, branch, cursor);
      return;
    }
    case 'Defer':
      throw new Error('@defer support is not available in the gateway');
  }
}

async function executeFetch(run: Run, fetch: FetchNode, cursor: Cursor): Promise<void> {
  const service = run.dataSource(fetch.serviceName);
  if (!service) throw new Error(`Couldn't find service with name "${fetch.serviceName}"`);
  const entities: (ResultMap | null | undefined)[] = Array.isArray(cursor.data)
    ? cursor.data.filter((e) => e !== null && e !== undefined)
    : [cursor.data];
  if (entities.length < 1) return;
  const variables = Object.create(null) as ResultMap;
  const provided = run.ctx.request.variables;
  for (const name of fetch.variableUsages ?? []) {
    if (provided && hasOwn(provided, name) && typeof provided[name] !== 'undefined') {
      variables[name] = provided[name];
    }
  }
  if (!fetch.requires) {
    const received = await sendOperation(run, service, fetch, cursor, variables);
    if (received) applyRewrites(run.supergraph, fetch.outputRewrites, received);
    for (const entity of entities) deepMerge(entity, received);
    return;
  }
  const representations: ResultMap[] = [];
  const representationToEntity: number[] = [];
  entities.forEach((entity, index) => {
    const representation = executeSelectionSet(run.supergraph, entity, fetch.requires ?? []);
    if (representation?.[TypeNameMetaFieldDef.name]) {
      applyRewrites(run.supergraph, fetch.inputRewrites, representation);
      representations.push(representation);
      representationToEntity.push(index);
    }
  });
  if (representations.length < 1) return;
  if ('representations' in variables) throw new Error(`Variables cannot contain key "representations"`);
  const received = await sendOperation(run, service, fetch, cursor, { ...variables, representations });
  if (!received) return;
  const receivedEntities = received['_entities'];
  if (!Array.isArray(receivedEntities))
    throw new Error(`Expected "data._entities" in response to be an array`);
  if (receivedEntities.length !== representations.length) {
    throw new Error(`Expected "data._entities" to contain ${representations.length} elements`);
  }
  // As the library does, up to entities.length (not representations.length).
  for (let i = 0; i < entities.length; i++) {
    const receivedEntity = receivedEntities[i] as ResultMap | null | undefined;
    const at = representationToEntity[i];
    const existingEntity = at === undefined ? undefined : entities[at];
    if (receivedEntity && !receivedEntity['__typename']) {
      receivedEntity['__typename'] = existingEntity?.['__typename'];
    }
    applyRewrites(run.supergraph, fetch.outputRewrites, receivedEntity as ResultMap);
    deepMerge(existingEntity, receivedEntity);
  }
}

async function sendOperation(
  run: Run,
  service: GraphQLDataSource,
  fetch: FetchNode,
  cursor: Cursor,
  variables: ResultMap,
): Promise<ResultMap | null | undefined> {
  const response = await service.process({
    kind: GraphQLDataSourceRequestKind.INCOMING_OPERATION,
    request: {
      query: fetch.operation,
      variables,
      ...(fetch.operationName !== undefined ? { operationName: fetch.operationName } : {}),
    },
    incomingRequestContext: run.ctx,
    context: run.ctx.context,
    ...(fetch.operationDocumentNode ? { document: fetch.operationDocumentNode } : {}),
    pathInIncomingRequest: cursor.path,
  });
  if (response.errors) {
    const pathOf = lazyErrorPath(fetch, cursor);
    run.errors.push(...response.errors.map((e) => downstreamServiceError(e, fetch.serviceName, pathOf)));
    if (!response.extensions?.['ftv1']) {
      const paths = response.errors.map((e) => ({ subgraph: fetch.serviceName, path: e.path }));
      const metrics = run.ctx.metrics;
      if (metrics.nonFtv1ErrorPaths) metrics.nonFtv1ErrorPaths.push(...paths);
      else metrics.nonFtv1ErrorPaths = paths;
    }
  }
  return response.data as ResultMap | null | undefined;
}

/** The library's `makeLazyErrorPathGenerator`: an entity error's path in the client's answer. */
function lazyErrorPath(
  fetch: FetchNode,
  cursor: Cursor,
): (path: GraphQLFormattedError['path']) => ResponsePath | undefined {
  let hydrated: ResponsePath[] | undefined;
  return (errorPath) => {
    if (fetch.requires && typeof errorPath?.[1] === 'number') {
      if (!hydrated) {
        hydrated = [];
        generateHydratedPaths([], cursor.path, cursor.fullResult, hydrated);
      }
      return [...(hydrated[errorPath[1]] ?? []), ...errorPath.slice(2)];
    }
    return errorPath ? [...cursor.path, ...errorPath.slice()] : undefined;
  };
}

/** The library's `downstreamServiceError`. */
function downstreamServiceError(
  original: GraphQLFormattedError,
  serviceName: string,
  pathOf: (path: GraphQLFormattedError['path']) => ResponsePath | undefined,
): GraphQLError {
  const { extensions } = original;
  const message = original.message || `Error while fetching subquery from service "${serviceName}"`;
  const options = {
    // The library passes the subgraph's formatted error as `originalError`; kept for the formatter.
    originalError: original as unknown as Error,
    path: pathOf(original.path),
    extensions: { ...extensions, serviceName },
  };
  const codeDef = errorCodeDef(original);
  if (!codeDef && extensions?.['code']) return new GraphQLError(message, options);
  return (codeDef ?? ERRORS.DOWNSTREAM_SERVICE_ERROR).err(message, options);
}

/** The library's `executeSelectionSet`: an entity's representation from its `requires`. */
function executeSelectionSet(
  schema: GraphQLSchema,
  source: ResultMap | null | undefined,
  selections: readonly QueryPlanSelectionNode[],
): ResultMap | null {
  if (source === null) return null;
  const result = Object.create(null) as ResultMap;
  for (const selection of selections) {
    if (selection.kind === 'Field') {
      const responseName = getResponseName(selection);
      const inner = selection.selections;
      // Throws on an undefined source, as the library's does.
      if (!hasOwn(source as ResultMap, responseName) || typeof source?.[responseName] === 'undefined') {
        return null;
      }
      const value = source?.[responseName];
      if (Array.isArray(value)) {
        result[responseName] = value.map((v: ResultMap | null) =>
          inner ? executeSelectionSet(schema, v, inner) : v,
        );
      } else if (inner) {
        result[responseName] = executeSelectionSet(schema, value as ResultMap | null, inner);
      } else {
        result[responseName] = value;
      }
    } else {
      if (!selection.typeCondition || !source) continue;
      if (isObjectOfType(schema, source, selection.typeCondition)) {
        deepMerge(result, executeSelectionSet(schema, source, selection.selections));
      }
    }
  }
  return result;
}

/** The library's `moveIntoCursor`. */
function moveIntoCursor(cursor: Cursor, pathInCursor: ResponsePath): Cursor | undefined {
  const data = flattenResultsAtPath(cursor.data, pathInCursor);
  return data
    ? { path: cursor.path.concat(pathInCursor), data: data as ResultMap, fullResult: cursor.fullResult }
    : undefined;
}

function flattenResultsAtPath(value: unknown, path: ResponsePath): unknown {
  if (path.length === 0) return value;
  if (value === undefined || value === null) return value;
  const [current, ...rest] = path;
  if (current === '@') return (value as unknown[]).flatMap((element) => flattenResultsAtPath(element, rest));
  assert(typeof current === 'string', () => `Unexpected ${typeof current} found in path`);
  assert(!Array.isArray(value), () => `Unexpected array in result for path element ${current}`);
  return flattenResultsAtPath(getOwn(value as ResultMap, current), rest);
}
