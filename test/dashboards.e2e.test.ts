/**
 * Every metric a Grafana panel or a Prometheus rule selects is exported by a running platform, so no
 * panel is silently empty. Names only (labels-only counters have no sample before their first event,
 * but prom-client prints their `# TYPE` line once registered, and that counts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  allDashboardExpressions,
  allRuleExpressions,
  exposedMetricNames,
  parsePromql,
  PROMETHEUS_SERIES,
  type Expression,
} from '../scripts/promql-check.js';
import { createTestEnv, type TestEnv } from './support/env.js';
import { startPlatform, type RunningPlatform } from './support/platform.js';

let env: TestEnv;
let platform: RunningPlatform;
const exposed = new Set<string>();
const services = new Set<string>();

beforeAll(async () => {
  env = await createTestEnv('dashboards');
  platform = await startPlatform(env);
  for (const url of platform.serviceUrls) {
    const res = await fetch(`${url}/metrics`);
    expect(res.status, url).toBe(200);
    const text = await res.text();
    for (const name of exposedMetricNames(text)) exposed.add(name);
    for (const m of text.matchAll(/service="([^"]+)"/g)) services.add(m[1] ?? '');
  }
});

afterAll(async () => {
  await platform?.stop();
  await env?.cleanup();
});

const unknownMetrics = (exprs: Expression[]): string[] =>
  exprs.flatMap((e) =>
    parsePromql(e.expr)
      .metrics.filter((m) => !exposed.has(m) && !PROMETHEUS_SERIES.has(m))
      .map((m) => `${e.where}: ${m}`),
  );

describe('metric names in dashboards and rules', () => {
  it('were read from every process, the tenants worker included', () => {
    expect([...services].sort()).toEqual([
      'analytics',
      'auth',
      'gateway',
      'market-data',
      'sessions',
      'tenants',
      'tenants-worker',
      'trading',
    ]);
    // Registered, sample-less counters count (labels-only, no event yet in a fresh platform).
    expect(exposed.has('tenant_backup_failures_total')).toBe(true);
    expect(exposed.has('trading_placement_batch_orders_bucket')).toBe(true);
  });

  it('exist for every dashboard panel', () => {
    const exprs = allDashboardExpressions();
    expect(exprs.length).toBeGreaterThan(0);
    expect(unknownMetrics(exprs)).toEqual([]);
  });

  it('exist for every alerting and recording rule', () => {
    const exprs = allRuleExpressions();
    expect(exprs.length).toBeGreaterThan(0);
    expect(unknownMetrics(exprs)).toEqual([]);
  });

  it('are refused when no process exports them', () => {
    expect(unknownMetrics([{ where: 'probe', expr: 'rate(tradesage_no_such_metric_total[5m])' }])).toEqual([
      'probe: tradesage_no_such_metric_total',
    ]);
  });
});
