/**
 * Admission of a resolved operation, after parsing and validation and before any subgraph is called
 * (both the single-fetch path and the gateway's executor run later): the operation allowlist when
 * only persisted operations are accepted, persisted-query registration by signed-in clients only,
 * the static cost limit (it depends on variables, so it runs per request
 * while the shape rules run once per document), then the tenant's cost budget. Apollo stores a
 * registered query only after this hook accepts, so a refused operation leaves nothing behind.
 * The gateway's lean pipeline (lean-pipeline.ts) admits with the same function.
 */
import type { ApolloServerPlugin } from '@apollo/server';
import type { DocumentNode } from 'graphql';
import { forbidden } from '../../lib/errors.js';
import type { CostBudget } from './cost-budget.service.js';
import { refusal, unavailableRefusal, type GatewayContext } from './gateway.context.js';
import type { GatewayMetrics } from './gateway.metrics.js';
import type { OperationLimits } from './operation-limits.js';
import type { PersistedOperations } from './persisted-operations.js';

/** What the plugin needs; `limits` is read per request (it follows supergraph reloads). */
export interface AdmissionDeps {
  limits: () => OperationLimits;
  budget: CostBudget;
  metrics: GatewayMetrics;
  /** When set, only these operations are accepted (PERSISTED_OPERATIONS_ONLY). */
  onlyPersisted?: PersistedOperations | undefined;
}

/** What admission looks at: the operation as resolved, and who asks. */
export interface AdmissionRequest {
  contextValue: GatewayContext;
  document: DocumentNode;
  operationName: string | null;
  variables: Record<string, unknown> | undefined;
  /** Apollo's queryHash: the sha256 of the document's text (or the hash an APQ request named). */
  queryHash: string | undefined;
  /** An APQ request that registers its query. */
  registers: boolean;
}

/**
 * Admits a resolved operation or throws its refusal (a GraphQLError with its HTTP status); see the
 * module comment. Shared by the plugin and the gateway's lean pipeline (lean-pipeline.ts).
 */
export function admit(deps: AdmissionDeps, request: AdmissionRequest): void {
  const { contextValue, document } = request;
  if (deps.onlyPersisted && !(request.queryHash && deps.onlyPersisted.has(request.queryHash))) {
    deps.metrics.limitRefusals.inc({ limit: 'persisted_only' });
    const err = forbidden(
      'Only persisted operations are accepted here (PERSISTED_OPERATIONS_ONLY); this document is not in the manifest',
    );
    throw refusal(err, 403, []);
  }
  if (request.registers && !contextValue.auth) {
    deps.metrics.limitRefusals.inc({ limit: 'apq_registration' });
    const err = forbidden(
      'Registering a persisted query needs a signed-in client; send the query without the persistedQuery extension',
    );
    throw refusal(err, 403, []);
  }
  const verdict = deps.limits().checkCost(document, request.operationName, request.variables);
  if (verdict.cost !== undefined) deps.metrics.queryCost.observe(verdict.cost);
  // Counted by limit in the gateway plugin, with every other QUERY_TOO_COMPLEX.
  if (!verdict.ok) throw refusal(verdict.error, 400, []);
  let over;
  try {
    over = deps.budget.spend(
      {
        tenantId: contextValue.auth?.tenantId,
        ip: contextValue.clientIp,
        budget: contextValue.tenantLimits?.cost,
      },
      verdict.cost,
    );
  } catch (err) {
    // The counters went stale (Redis unreachable) between the rate limits, which passed, and
    // here: refused retryably, as the rate limits refuse then, not a masked 500.
    const unavailable = unavailableRefusal(err);
    if (!unavailable) throw err;
    contextValue.logger.warn({ err }, 'cost budget not checked: Redis is unavailable');
    throw unavailable;
  }
  if (over) {
    deps.metrics.limitRefusals.inc({ limit: 'cost_budget' });
    contextValue.logger.info({ cost: verdict.cost }, 'cost budget exhausted');
    throw refusal(over, 429, [['retry-after', String(over.details['retryAfter'])]]);
  }
}

/** The Apollo plugin; see the module comment. */
export function admissionPlugin(deps: AdmissionDeps): ApolloServerPlugin<GatewayContext> {
  return {
    requestDidStart: () =>
      Promise.resolve({
        didResolveOperation: (ctx) => {
          const { contextValue, document, operation, request } = ctx;
          // No operation: the gateway plugin refuses it (BAD_USER_INPUT).
          if (!operation) return Promise.resolve();
          // Decided already by the lean pipeline, which handed the request over: its verdict stands
          // (admitting twice would spend the cost budget twice).
          const decided = contextValue.leanDone?.admission;
          if (decided !== undefined) {
            if (decided !== 'admitted') throw decided.refused;
            return Promise.resolve();
          }
          admit(deps, {
            contextValue,
            document,
            operationName: ctx.operationName,
            variables: request.variables,
            queryHash: ctx.queryHash,
            registers: ctx.metrics.persistedQueryRegister === true,
          });
          // Synchronous (the budget is decided in memory); Apollo catches a throw here as a rejection.
          return Promise.resolve();
        },
      }),
  };
}
