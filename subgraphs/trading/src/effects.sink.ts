/**
 * Where the effects of a committed account transaction go (placements, cancels, fills, cash): first
 * this replica's engine index (its own changes, at once), then subscribers, the real-time cache and the
 * other replicas' indexes through trading.publisher.ts. Built once by service.ts.
 */
import type { TenantScope } from '../../../lib/db.js';
import type { TradingPublisher } from './events/trading.publisher.js';
import type { ExecutionEngine } from './execution/engine.js';
import type { TxEffects } from './session-changes.js';

/** Called after each committed transaction that changed something. */
export type EffectsSink = (scope: TenantScope, effects: TxEffects) => Promise<void>;

/**
 * The sink of a replica.
 * @param engine this replica's engine (undefined when TRADING_ENGINE_ENABLED is off)
 */
export function createEffectsSink(
  engine: Pick<ExecutionEngine, 'sync' | 'owns'> | undefined,
  publisher: Pick<TradingPublisher, 'publish'>,
): EffectsSink {
  return async (scope, effects) => {
    engine?.sync(scope, effects);
    // Other replicas learn of resting orders in symbols this engine does not own.
    await publisher.publish(scope.tenantId, effects, (symbol) => !engine?.owns(symbol));
  };
}
