import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { PROJECT_ROOT } from '../lib/config.js';
import {
  allDashboardExpressions,
  allRuleExpressions,
  DASHBOARDS_DIR,
  dashboardExpressions,
  exposedMetricNames,
  parsePromql,
  ruleExpressions,
} from './promql-check.js';

const dashboards = readdirSync(DASHBOARDS_DIR)
  .filter((f) => f.endsWith('.json'))
  .map((f) => ({
    file: f,
    json: JSON.parse(readFileSync(path.join(DASHBOARDS_DIR, f), 'utf8')) as Dashboard,
  }));

interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { uid: string };
  panels?: Panel[];
}
interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
}

describe('Grafana dashboards', () => {
  it('cover every area, with unique uids and panel ids', () => {
    const uids = dashboards.map((d) => d.json.uid);
    for (const area of ['overview', 'gateway', 'trading', 'market-data', 'tenants', 'analytics']) {
      expect(uids).toContain(`tradesage-${area}`);
    }
    expect(new Set(uids).size).toBe(uids.length);
    for (const { file, json } of dashboards) {
      const ids = json.panels.flatMap((p) => [p.id, ...(p.panels ?? []).map((c) => c.id)]);
      expect(new Set(ids).size, file).toBe(ids.length);
    }
  });

  it('use the provisioned Prometheus datasource', () => {
    const provisioned = parseYaml(
      readFileSync(path.join(PROJECT_ROOT, 'ops/grafana/provisioning/datasources/prometheus.yml'), 'utf8'),
    ) as { datasources: { uid: string }[] };
    const uids = new Set(provisioned.datasources.map((d) => d.uid));
    for (const { file, json } of dashboards) {
      for (const p of json.panels.filter((q) => q.type !== 'row')) {
        expect(uids.has(p.datasource?.uid ?? ''), `${file}: ${p.title}`).toBe(true);
      }
    }
  });

  it('have PromQL that parses, in every panel', () => {
    const exprs = allDashboardExpressions();
    expect(exprs.length).toBeGreaterThan(60);
    const broken = exprs.filter(
      (e) => parsePromql(e.expr).errors.length > 0 || parsePromql(e.expr).metrics.length === 0,
    );
    expect(broken).toEqual([]);
  });
});

describe('Prometheus rule files', () => {
  it('have PromQL that parses, in every rule', () => {
    const exprs = allRuleExpressions();
    expect(exprs.length).toBeGreaterThan(0);
    expect(exprs.filter((e) => parsePromql(e.expr).errors.length > 0)).toEqual([]);
  });
});

describe('the PromQL check', () => {
  it('finds syntax errors', () => {
    expect(parsePromql('sum(rate(x_total[5m])').errors).not.toEqual([]);
    expect(parsePromql('sum by (le (rate(x_bucket[5m]))').errors).not.toEqual([]);
    expect(parsePromql('rate(x_total[5m]) +').errors).not.toEqual([]);
    expect(
      parsePromql('histogram_quantile(0.9, sum by (le) (rate(x_bucket[$__rate_interval])))').errors,
    ).toEqual([]);
  });

  it('lists metric names, by identifier or __name__, not label names or functions', () => {
    expect(
      parsePromql(
        'sum by (code) (rate(a_total{service="x"}[5m])) / on() group_left ' +
          'max({__name__="b_seconds"}) - time() + count({"c.d", job="y"}) and vector(1)',
      ).metrics,
    ).toEqual(['a_total', 'b_seconds', 'c.d']);
  });

  it('reads panels nested in collapsed rows and rule groups', () => {
    const dashboard = {
      panels: [{ type: 'row', panels: [{ title: 'p', targets: [{ refId: 'A', expr: 'x' }] }] }],
    };
    expect(dashboardExpressions(dashboard, 'd.json')).toEqual([{ where: 'd.json: p / A', expr: 'x' }]);
    const rules = {
      groups: [
        {
          rules: [
            { alert: 'A', expr: 'y > 0' },
            { record: 'r:z', expr: 'sum(z)' },
          ],
        },
      ],
    };
    expect(ruleExpressions(rules, 'r.yml').map((e) => e.expr)).toEqual(['y > 0', 'sum(z)']);
  });

  it('counts histogram series and registered metrics without samples', () => {
    const names = exposedMetricNames(
      [
        '# HELP h_seconds Help',
        '# TYPE h_seconds histogram',
        'h_seconds_bucket{le="1",service="s"} 0',
        '# HELP c_total Labels only, no sample yet',
        '# TYPE c_total counter',
        '# TYPE g gauge',
        'g{service="s"} 1',
      ].join('\n'),
    );
    expect([...names].sort()).toEqual([
      'c_total',
      'g',
      'h_seconds',
      'h_seconds_bucket',
      'h_seconds_count',
      'h_seconds_sum',
    ]);
  });
});
