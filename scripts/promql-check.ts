/**
 * Reads every PromQL expression of the Grafana dashboards (ops/grafana/dashboards) and the Prometheus
 * rule files (ops/prometheus/alerts, whichever exist when run), parses each with Prometheus' own
 * Lezer grammar, and lists the metric names it selects. scripts/promql-check.test.ts fails on syntax
 * errors; test/dashboards.e2e.test.ts compares the names with a running platform's /metrics, so no
 * panel or rule is silently empty because of a misspelt or vanished metric.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parser } from '@prometheus-io/lezer-promql';
import { parse as parseYaml } from 'yaml';
import { PROJECT_ROOT } from '../lib/config.js';

export const DASHBOARDS_DIR = path.join(PROJECT_ROOT, 'ops/grafana/dashboards');
export const RULES_DIR = path.join(PROJECT_ROOT, 'ops/prometheus/alerts');

/** Series Prometheus makes itself for every scrape, or for rules; no process exports them. */
export const PROMETHEUS_SERIES = new Set([
  'up',
  'scrape_duration_seconds',
  'scrape_samples_scraped',
  'scrape_samples_post_metric_relabeling',
  'scrape_series_added',
  'ALERTS',
  'ALERTS_FOR_STATE',
]);

/** One expression and where it was found (`file: panel title / refId` or `file: alert name`). */
export interface Expression {
  where: string;
  expr: string;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Grafana's built-in interval variables, replaced by a duration so the expression is plain PromQL. */
export function withoutGrafanaVariables(expr: string): string {
  return expr.replace(/\$__(rate_interval|interval|range)\b|\$\{__(rate_interval|interval|range)\}/g, '5m');
}

/** Every target expression of every panel (rows' nested panels included) of one dashboard. */
export function dashboardExpressions(dashboard: unknown, file: string): Expression[] {
  const out: Expression[] = [];
  const visit = (panels: unknown): void => {
    if (!Array.isArray(panels)) return;
    for (const p of panels as unknown[]) {
      if (!isObject(p)) continue;
      for (const target of Array.isArray(p['targets']) ? (p['targets'] as unknown[]) : []) {
        if (isObject(target) && typeof target['expr'] === 'string') {
          out.push({
            where: `${file}: ${String(p['title'])} / ${String(target['refId'])}`,
            expr: target['expr'],
          });
        }
      }
      visit(p['panels']);
    }
  };
  if (isObject(dashboard)) visit(dashboard['panels']);
  return out;
}

/** Every `expr` of every alerting and recording rule of one rule file. */
export function ruleExpressions(rules: unknown, file: string): Expression[] {
  const out: Expression[] = [];
  const groups = isObject(rules) && Array.isArray(rules['groups']) ? (rules['groups'] as unknown[]) : [];
  for (const g of groups) {
    for (const r of isObject(g) && Array.isArray(g['rules']) ? (g['rules'] as unknown[]) : []) {
      if (isObject(r) && typeof r['expr'] === 'string') {
        const name = r['alert'] ?? r['record'];
        out.push({ where: `${file}: ${typeof name === 'string' ? name : '?'}`, expr: r['expr'] });
      }
    }
  }
  return out;
}

const listFiles = (dir: string, pattern: RegExp): string[] =>
  readdirSync(dir)
    .filter((f) => pattern.test(f))
    .sort();

/** Expressions of every dashboard JSON file in `dir`. */
export function allDashboardExpressions(dir = DASHBOARDS_DIR): Expression[] {
  return listFiles(dir, /\.json$/).flatMap((f) =>
    dashboardExpressions(JSON.parse(readFileSync(path.join(dir, f), 'utf8')), f),
  );
}

/** Expressions of every rule file in `dir` (promtool's `*.test.yml` unit tests are not rule files). */
export function allRuleExpressions(dir = RULES_DIR): Expression[] {
  return listFiles(dir, /\.ya?ml$/)
    .filter((f) => !/\.test\.ya?ml$/.test(f))
    .flatMap((f) => ruleExpressions(parseYaml(readFileSync(path.join(dir, f), 'utf8')), f));
}

/** What parsing one expression found. */
export interface ParsedExpression {
  /** Offsets of syntax errors (empty: the expression parses). */
  errors: number[];
  /** Metric names selected, by name or by a `__name__="..."` matcher. */
  metrics: string[];
}

/** Parses PromQL with the Lezer grammar of the Prometheus UI; Grafana variables are substituted first. */
export function parsePromql(source: string): ParsedExpression {
  const expr = withoutGrafanaVariables(source);
  const tree = parser.parse(expr);
  const errors: number[] = [];
  const metrics = new Set<string>();
  const text = (from: number, to: number): string => expr.slice(from, to);
  const unquote = (s: string): string => s.replace(/^(["'`])(.*)\1$/s, '$2');
  tree.iterate({
    enter(node) {
      if (node.type.isError) errors.push(node.from);
      if (node.name === 'Identifier' && node.node.parent?.name === 'VectorSelector') {
        metrics.add(text(node.from, node.to));
      }
      // Prometheus 3's quoted metric name: `{"name", label="x"}`.
      if (node.name === 'QuotedLabelName' && node.node.parent?.name === 'LabelMatchers') {
        metrics.add(unquote(text(node.from, node.to)));
      }
      if (node.name === 'UnquotedLabelMatcher' || node.name === 'QuotedLabelMatcher') {
        const name = node.node.firstChild;
        const op = name?.nextSibling;
        const value = op?.nextSibling;
        if (
          name &&
          value &&
          unquote(text(name.from, name.to)) === '__name__' &&
          op?.firstChild?.name === 'EqlSingle'
        ) {
          metrics.add(unquote(text(value.from, value.to)));
        }
      }
    },
  });
  return { errors, metrics: [...metrics].sort() };
}

/**
 * Metric names a Prometheus text exposition declares or samples. A histogram named `x` is selected as
 * `x_bucket`, `x_sum` and `x_count` (and a summary as `x`, `x_sum`, `x_count`), so those count too.
 * `# TYPE` lines count: prom-client prints them for registered metrics that have no sample yet.
 */
export function exposedMetricNames(exposition: string): Set<string> {
  const names = new Set<string>();
  for (const line of exposition.split('\n')) {
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (\w+)/.exec(line);
    if (type?.[1]) {
      const [, name, kind] = type;
      names.add(name);
      if (kind === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
      if (kind === 'summary') for (const s of ['_sum', '_count']) names.add(name + s);
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/.exec(line);
    if (sample?.[1]) names.add(sample[1]);
  }
  return names;
}
