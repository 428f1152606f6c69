import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'graphql';
import { beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../../lib/config.js';
import { isPublicPlan, SubscriptionPlanner } from './subscription.planner.js';

let planner: SubscriptionPlanner;

beforeAll(() => {
  // The committed supergraph: the policy is checked against the real subgraph layout.
  planner = new SubscriptionPlanner(
    readFileSync(path.join(PROJECT_ROOT, 'schema', 'supergraph.graphql'), 'utf8'),
  );
});

function plan(source: string): ReturnType<SubscriptionPlanner['plan']> {
  return planner.plan(parse(source), source, undefined);
}

describe('subscription plans and who may share them', () => {
  it('plans priceUpdated with instrument fields from market-data alone, and calls it public', () => {
    const p = plan(
      'subscription { priceUpdated(symbols: ["AAPL"]) { symbol price timestamp instrument { name } } }',
    );
    expect(p.primary.serviceName).toBe('market-data');
    expect(p.rest).toBeUndefined();
    expect([...p.services]).toEqual(['market-data']);
    expect(p.rootFields).toEqual(['priceUpdated']);
    expect(isPublicPlan(p)).toBe(true);
  });

  it('does not call priceUpdated public when an event is completed with the caller position', () => {
    const p = plan(
      'subscription { priceUpdated(symbols: ["AAPL"]) { symbol instrument { name position { quantity } } } }',
    );
    expect(p.rest).toBeDefined();
    expect(p.services.has('trading')).toBe(true);
    expect(isPublicPlan(p)).toBe(false);
  });

  it('never calls tenant-scoped subscriptions public', () => {
    expect(isPublicPlan(plan('subscription { orderUpdated(accountId: "a") { id status } }'))).toBe(false);
    expect(isPublicPlan(plan('subscription { tradeExecuted(accountId: "a") { id price } }'))).toBe(false);
  });

  it('follows the policy it is given', () => {
    const p = plan('subscription { priceUpdated(symbols: ["AAPL"]) { symbol } }');
    expect(isPublicPlan(p, new Set(), new Set(['market-data']))).toBe(false);
    expect(isPublicPlan(p, new Set(['priceUpdated']), new Set())).toBe(false);
  });
});
