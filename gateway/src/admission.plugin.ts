/**
 * Admission of a resolved operation, after parsing and validation and before any subgraph is called
 * (both the single-fetch path and the gateway's executor run later): the operation allowlist when
 * only persisted operations are accepted, persisted-query registration by signed-in clients only,
 * the static cost limit (it depends on variables, so it runs per request
 * while the shape rules run once per document), then the tenant's cost budget. Apollo stores a
 * registered query only after this hook accepts, so a refused operation leaves nothing behind.
 */
import type { ApolloServerPlugin } from '@apollo/server';
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

/** The Apollo plugin; see the module comment. */
export function admissionPlugin(deps: AdmissionDeps): ApolloServerPlugin<GatewayContext> {
  return {
    requestDidStart: () =>
      Promise.resolve({
        didResolveOperation: (ctx) => {
          const { contextValue, document, operation, request } = ctx;
          // No operation: the gateway plugin refuses it (BAD_USER_INPUT).
          if (!operation) return Promise.resolve();
          // Apollo's queryHash is the sha256 of the document's text (or the hash an APQ request named).
          if (deps.onlyPersisted && !(ctx.queryHash && deps.onlyPersisted.has(ctx.queryHash))) {
            deps.metrics.limitRefusals.inc({ limit: 'persisted_only' });
            const err = forbidden(
              'Only persisted operations are accepted here (PERSISTED_OPERATIONS_ONLY); this document is not in the manifest',
            );
            throw refusal(err, 403, []);
          }
          if (ctx.metrics.persistedQueryRegister && !contextValue.auth) {
            deps.metrics.limitRefusals.inc({ limit: 'apq_registration' });
            const err = forbidden(
              'Registering a persisted query needs a signed-in client; send the query without the persistedQuery extension',
            );
            throw refusal(err, 403, []);
          }
          const verdict = deps.limits().checkCost(document, ctx.operationName, request.variables);
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
          // Synchronous (the budget is decided in memory); Apollo catches a throw here as a rejection.
          return Promise.resolve();
        },
      }),
  };
}
