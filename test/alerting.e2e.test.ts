/**
 * Alerts that reach a person, end to end: the real Prometheus and Alertmanager binaries (Debian's
 * `prometheus` and `prometheus-alertmanager`) on free ports, scraping a platform started in-process,
 * with ops/prometheus/alerts/tradesage.rules.yml loaded after a generated rewrite that shortens every
 * `for:` and range window (the rules themselves are the committed ones). Two real faults, a stopped
 * MA130 during a backup and a stopped subgraph, must reach Alertmanager's API, and resolve after
 * recovery. Skipped without the binaries, except in CI.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { createGateway } from '../gateway/src/gateway.js';
import { PROJECT_ROOT } from '../lib/config.js';
import type { Service } from '../lib/http.js';
import { isRunning, signalChild } from '../lib/process-signal.js';
import { createTestEnv, freePorts, type TestEnv } from './support/env.js';
import { gql } from './support/platform.js';
import { startTestSshd, type TestSshd } from './support/sshd.js';
import { eventually } from './support/wait.js';
import {
  createAnalyticsService,
  createAuthService,
  createMarketDataService,
  createSessionsService,
  createTenantsWorker,
  createTenantsService,
  createTradingService,
  newKeyEntry,
} from './support/services.js';

const has = (cmd: string): boolean => spawnSync(cmd, ['--version'], { stdio: 'ignore' }).error === undefined;
const available = has('prometheus') && has('prometheus-alertmanager');
const inCi = process.env['CI'] !== undefined;

const RULES = path.join(PROJECT_ROOT, 'ops/prometheus/alerts/tradesage.rules.yml');
const ALERTMANAGER_CONFIG = path.join(PROJECT_ROOT, 'ops/alertmanager/alertmanager.yml');
const PROMETHEUS_CONFIG = path.join(PROJECT_ROOT, 'ops/prometheus/prometheus.yml');

interface PrometheusConfig {
  global?: Record<string, string>;
  rule_files?: string[];
  alerting?: { alertmanagers: unknown[] };
  scrape_configs: { job_name: string; static_configs: unknown[] }[];
}
/** What every `for:` and every range window (`[1h]`, `[5m]`) becomes in the test copy of the rules. */
const TEST_FOR = '2s';
const TEST_WINDOW = '15s';
/** Bounds of the waits below (failure only; Prometheus evaluates every second). */
const ALERT_WAIT_MS = 60_000;

/**
 * The committed rules with `for:` and range windows shortened, so faults alert within seconds. Only
 * durations change: expressions, labels and annotations stay the committed ones.
 */
function shortenRules(text: string): string {
  const doc = parse(text) as { groups: { rules: { for?: string; expr: string }[] }[] };
  for (const g of doc.groups)
    for (const r of g.rules) {
      if (r.for !== undefined) r.for = TEST_FOR;
      r.expr = String(r.expr).replace(/\[\d+[smhdw]\]/g, `[${TEST_WINDOW}]`);
    }
  return stringify(doc);
}

const REGISTER =
  'mutation($input: RegisterInput!) { register(input: $input) { accessToken tenant { id status } } }';
const BACKUP = 'mutation($id: ID!) { backupTenant(tenantId: $id) { id kind state } }';
const JOB = 'query($id: ID!) { job(id: $id) { id state error } }';
const TENANT = 'query($id: ID!) { tenant(id: $id) { status backups { type status } } }';

interface AmAlert {
  labels: Record<string, string>;
  status: { state: string };
}

let dir: string;
let env: TestEnv;
let sshd: TestSshd;
const children: ChildProcess[] = [];
let promUrl = '';
let amUrl = '';
let gatewayUrl = '';
/** The processes Prometheus scrapes, by its `process` label. */
const services = new Map<string, { service: Service; target: string }>();
let token = '';
let tenantId = '';

async function startBinary(name: string, args: string[], logFile: string): Promise<ChildProcess> {
  const log = createWriteStream(logFile);
  await new Promise((r) => log.once('open', r));
  const child = spawn(name, args, { stdio: ['ignore', log, log] });
  children.push(child);
  return child;
}

async function ok(url: string): Promise<boolean | undefined> {
  try {
    return (await fetch(url)).ok || undefined;
  } catch {
    return undefined;
  }
}

/** Alerts Alertmanager holds now (resolved ones are not listed). */
async function amAlerts(): Promise<AmAlert[]> {
  const res = await fetch(`${amUrl}/api/v2/alerts`);
  return (await res.json()) as AmAlert[];
}

const firing =
  (name: string, labels: Record<string, string> = {}) =>
  async (): Promise<AmAlert | undefined> =>
    (await amAlerts()).find(
      (a) =>
        a.labels['alertname'] === name &&
        a.status.state === 'active' &&
        Object.entries(labels).every(([k, v]) => a.labels[k] === v),
    );

const gone =
  (name: string, labels: Record<string, string> = {}) =>
  async (): Promise<true | undefined> =>
    (await firing(name, labels)()) ? undefined : true;

async function backupState(jobId: string): Promise<string | undefined> {
  const r = await gql<{ job: { state: string } | null }>(gatewayUrl, JOB, { id: jobId }, token);
  const s = r.data?.job?.state;
  return s === 'completed' || s === 'failed' ? s : undefined;
}

async function requestBackup(): Promise<string> {
  const r = await gql<{ backupTenant: { id: string } }>(gatewayUrl, BACKUP, { id: tenantId }, token);
  expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
  return r.data!.backupTenant.id;
}

beforeAll(async () => {
  if (!available) return;
  dir = await mkdtemp(path.join(os.tmpdir(), 'tradesage-alerting-e2e-'));
  sshd = await startTestSshd(dir);
  env = await createTestEnv('alerting_e2e', {
    ...sshd.env,
    BACKUP_ENCRYPTION_KEYS: newKeyEntry('alerting'),
    BACKUP_GZIP_LEVEL: '1',
    BACKUP_TMP_DIR: dir,
    BACKUP_SCHEDULE_ENABLED: 'false',
    BACKUP_JOB_ATTEMPTS: '2',
    BACKUP_RETRY_DELAY_MS: '200',
    MA130_CHECK_INTERVAL_MS: '500',
    MA130_CONNECT_TIMEOUT_MS: '3000',
  });
  const c = env.config;
  const list: [string, Service][] = [
    ['sessions', createSessionsService(c)],
    ['auth', createAuthService(c)],
    ['tenants', createTenantsService(c)],
    ['tenants-worker', createTenantsWorker(c)],
    ['market-data', createMarketDataService(c)],
    ['trading', createTradingService(c)],
    ['analytics', createAnalyticsService(c)],
    ['gateway', createGateway(c)],
  ];
  for (const [name, service] of list) {
    const { url } = await service.start();
    services.set(name, { service, target: new URL(url).host });
  }
  gatewayUrl = `${services.get('gateway')!.target}`;
  gatewayUrl = `http://${gatewayUrl}/graphql`;

  const [promPort, amPort] = await freePorts(2);
  promUrl = `http://127.0.0.1:${promPort}`;
  amUrl = `http://127.0.0.1:${amPort}`;
  await mkdir(path.join(dir, 'prometheus'), { recursive: true });
  await writeFile(path.join(dir, 'tradesage.rules.yml'), shortenRules(await readFile(RULES, 'utf8')));
  // The committed prometheus.yml, with the test's intervals, rules copy, Alertmanager and targets.
  const prom = parse(await readFile(PROMETHEUS_CONFIG, 'utf8')) as PrometheusConfig;
  expect(prom.rule_files, 'prometheus.yml loads the alert rules').toEqual(
    expect.arrayContaining([expect.stringContaining('alerts/')]),
  );
  expect(prom.alerting?.alertmanagers, 'prometheus.yml sends to Alertmanager').toHaveLength(1);
  prom.global = { ...prom.global, scrape_interval: '1s', evaluation_interval: '1s', scrape_timeout: '900ms' };
  prom.rule_files = [path.join(dir, 'tradesage.rules.yml')];
  prom.alerting = { alertmanagers: [{ static_configs: [{ targets: [`127.0.0.1:${amPort}`] }] }] };
  const job = prom.scrape_configs.find((j) => j.job_name === 'tradesage');
  expect(job, 'the tradesage scrape job').toBeDefined();
  prom.scrape_configs = [
    {
      ...job!,
      static_configs: [...services].map(([process, s]) => ({ targets: [s.target], labels: { process } })),
    },
  ];
  await writeFile(path.join(dir, 'prometheus.yml'), stringify(prom));
  await startBinary(
    'prometheus-alertmanager',
    [
      `--config.file=${ALERTMANAGER_CONFIG}`,
      `--storage.path=${path.join(dir, 'alertmanager')}`,
      `--web.listen-address=127.0.0.1:${amPort}`,
      '--cluster.listen-address=',
    ],
    path.join(dir, 'alertmanager.log'),
  );
  await startBinary(
    'prometheus',
    [
      `--config.file=${path.join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(dir, 'prometheus')}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
      // Alerts are sent again this often while they fire (Alertmanager expires them otherwise).
      '--rules.alert.resend-delay=1s',
    ],
    path.join(dir, 'prometheus.log'),
  );
  await eventually(() => ok(`${amUrl}/-/ready`), 'Alertmanager ready', 30_000, 200);
  await eventually(() => ok(`${promUrl}/-/ready`), 'Prometheus ready', 30_000, 200);

  const r = await gql<{ register: { accessToken: string; tenant: { id: string } } }>(gatewayUrl, REGISTER, {
    input: {
      email: 'alerting-owner@example.com',
      password: 'correct horse battery staple',
      organizationName: 'Alerting Fund',
    },
  });
  expect(r.errors).toBeUndefined();
  token = r.data!.register.accessToken;
  tenantId = r.data!.register.tenant.id;
  // Provisioned, and its INITIAL backup done, before any fault is injected.
  await eventually(
    async () => {
      const t = await gql<{ tenant: { status: string; backups: { type: string; status: string }[] } }>(
        gatewayUrl,
        TENANT,
        { id: tenantId },
        token,
      );
      const v = t.data?.tenant;
      return v?.status === 'ACTIVE' && v.backups.some((b) => b.status === 'VERIFIED') ? true : undefined;
    },
    'tenant ACTIVE with a VERIFIED initial backup',
    ALERT_WAIT_MS,
    200,
  );
}, 180_000);

afterAll(async () => {
  for (const child of children.reverse()) {
    if (!isRunning(child)) continue;
    const exited = new Promise((r) => child.once('exit', r));
    signalChild(child, 'SIGTERM');
    await exited;
  }
  for (const { service } of [...services.values()].reverse()) await service.stop().catch(() => undefined);
  await sshd?.stop();
  await env?.cleanup();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe.skipIf(!available && !inCi)('alerts reach Alertmanager (real Prometheus and Alertmanager)', () => {
  it('the binaries are installed in CI', () => {
    expect(available).toBe(true);
  });

  it('every target is up', async () => {
    const health = await eventually(
      async () => {
        const res = await fetch(`${promUrl}/api/v1/targets?state=active`);
        const body = (await res.json()) as {
          data: { activeTargets: { labels: Record<string, string>; health: string }[] };
        };
        const t = body.data.activeTargets;
        return t.length === services.size && t.every((x) => x.health === 'up') ? t : undefined;
      },
      'every target up',
      ALERT_WAIT_MS,
      250,
    );
    expect(new Set(health.map((t) => t.labels['process']))).toEqual(new Set(services.keys()));
  });

  it(
    'a backup while the MA130 is stopped fires TenantBackupFailed (and Ma130Unreachable); both resolve after recovery',
    async () => {
      await sshd.stop();
      const failed = await requestBackup();
      expect(await eventually(() => backupState(failed), `backup job ${failed}`, ALERT_WAIT_MS, 200)).toBe(
        'failed',
      );
      const alert = await eventually(
        firing('TenantBackupFailed'),
        'TenantBackupFailed in Alertmanager',
        ALERT_WAIT_MS,
        250,
      );
      expect(alert.labels['severity']).toBe('critical');
      await eventually(firing('Ma130Unreachable'), 'Ma130Unreachable in Alertmanager', ALERT_WAIT_MS, 250);

      await sshd.restart();
      const done = await requestBackup();
      expect(await eventually(() => backupState(done), `backup job ${done}`, ALERT_WAIT_MS, 200)).toBe(
        'completed',
      );
      await eventually(gone('Ma130Unreachable'), 'Ma130Unreachable resolved', ALERT_WAIT_MS, 250);
      await eventually(gone('TenantBackupFailed'), 'TenantBackupFailed resolved', ALERT_WAIT_MS, 250);
    },
    6 * ALERT_WAIT_MS,
  );

  it('a stopped subgraph fires ServiceDown for it; it resolves once the subgraph is back', async () => {
    const analytics = services.get('analytics')!;
    await analytics.service.stop();
    const alert = await eventually(
      firing('ServiceDown', { process: 'analytics' }),
      'ServiceDown{process="analytics"} in Alertmanager',
      ALERT_WAIT_MS,
      250,
    );
    expect(alert.labels).toMatchObject({ severity: 'critical', instance: analytics.target });

    await analytics.service.start();
    await eventually(
      gone('ServiceDown', { process: 'analytics' }),
      'ServiceDown resolved',
      ALERT_WAIT_MS,
      250,
    );
  });
});
