/**
 * The platform as `make prod` starts it, for benchmarks of the deployed path: scripts/dev.ts with
 * NODE_ENV=production on a namespace of its own (real auth, sessions, tenants, worker, an MA130 sshd),
 * with the rate limits on (every request still runs its Redis checks) but set above what a load
 * generator on 127.0.0.1 reaches, and users registered through the gateway.
 */
import { randomUUID } from 'node:crypto';
import { processEnv } from '../lib/config.js';
import { TENANT_POOL_SIZE_DEFAULT } from '../subgraphs/tenants/src/config.js';
import { TRADING_DB_POOL_WARM_DEFAULT } from '../subgraphs/trading/src/config.js';
import { createTestEnv, type TestEnv } from '../test/support/env.js';
import { runCommandEnv, startRunCommand, type RunningCommand } from '../test/support/run-command.js';
import { startTestSshd } from '../test/support/sshd.js';
import { eventually } from '../test/support/wait.js';

const HIGH = '1000000000';
/**
 * The request limits set above what a load generator reaches: every client of a bench is 127.0.0.1,
 * so per-IP limits would refuse the load. The limits stay on (each request still runs its checks).
 */
export const LIMITS_ABOVE_LOAD: Readonly<Record<string, string>> = {
  RATE_LIMIT_PER_IP: HIGH,
  RATE_LIMIT_PER_USER: HIGH,
  RATE_LIMIT_PER_TENANT: HIGH,
  COST_BUDGET_PER_TENANT: HIGH,
  COST_BUDGET_PER_IP: HIGH,
  REGISTER_THROTTLE_PER_IP: HIGH,
  TENANT_CREATE_THROTTLE_PER_IP: HIGH,
  SUBSCRIPTIONS_MAX_PER_IP: HIGH,
  SUBSCRIPTIONS_MAX_PER_USER: HIGH,
  SUBSCRIPTIONS_CONNECT_RATE_PER_IP: HIGH,
  SUBSCRIPTIONS_SUBSCRIBE_RATE_PER_USER: HIGH,
};

/**
 * What `make prod` has that a test namespace turns off: the tenants worker's schemas built ahead of
 * sign-up and trading's connections kept open (TENANT_POOL_SIZE and TRADING_DB_POOL_WARM from this
 * shell, else the defaults).
 */
export function deployedDefaults(): Record<string, string> {
  return {
    TENANT_POOL_SIZE: process.env['TENANT_POOL_SIZE'] ?? String(TENANT_POOL_SIZE_DEFAULT),
    TRADING_DB_POOL_WARM: process.env['TRADING_DB_POOL_WARM'] ?? String(TRADING_DB_POOL_WARM_DEFAULT),
  };
}

/**
 * This shell's settings (and `.env`'s, as `make prod` reads it) whose names start with one of
 * `prefixes` (e.g. `GATEWAY_`), ports and URLs
 * excepted (a bench chooses its own): what an A/B of a setting passes to the platform it starts.
 */
export function shellSettings(prefixes: readonly string[]): Record<string, string> {
  return Object.fromEntries(
    Object.entries(processEnv()).filter(
      (e): e is [string, string] =>
        e[1] !== undefined && prefixes.some((p) => e[0].startsWith(p)) && !/_(PORT|URL)$/.test(e[0]),
    ),
  );
}

/**
 * Waits until the tenants worker's schema pool is full (`tenants_schema_pool_ready` on its /metrics),
 * so that no schema is built in the background of a measurement. Call it after the set-up's sign-ups.
 */
export async function schemaPoolFull(vars: Readonly<Record<string, string>>): Promise<void> {
  const size = Number(vars['TENANT_POOL_SIZE'] ?? 0);
  if (size === 0) return;
  const metrics = `http://127.0.0.1:${vars['TENANTS_WORKER_PORT']}/metrics`;
  await eventually(
    async () => {
      const text = await (await fetch(metrics)).text();
      const ready = /^tenants_schema_pool_ready(?:\{[^}]*\})? (\d+)/m.exec(text)?.[1];
      return Number(ready ?? -1) >= size ? true : undefined;
    },
    `the schema pool to be full (${size})`,
    180_000,
    250,
  );
}

/**
 * Waits until the tenants worker's queues have no job waiting or running (`tenants_queue_jobs` on its
 * /metrics, read from Redis): the set-up's sign-ups are provisioned and their INITIAL backups (pg_dump,
 * gzip, encryption, SFTP) are done, so none runs in the background of a measurement. Delayed jobs (the
 * nightly schedule) are not waited for.
 */
export async function queuesIdle(vars: Readonly<Record<string, string>>, timeoutMs = 600_000): Promise<void> {
  const metrics = `http://127.0.0.1:${vars['TENANTS_WORKER_PORT']}/metrics`;
  await eventually(
    async () => {
      const text = await (await fetch(metrics)).text();
      const busy = [...text.matchAll(/^tenants_queue_jobs\{([^}]*)\} (\d+)/gm)]
        .filter((m) => /state="(waiting|active|prioritized|waiting-children)"/.test(m[1] ?? ''))
        .reduce((n, m) => n + Number(m[2]), 0);
      return text.includes('tenants_queue_jobs{') && busy === 0 ? true : undefined;
    },
    "the tenants worker's queues to be idle (set-up provisioning and INITIAL backups done)",
    timeoutMs,
    500,
  );
}

/** The set-up's background work done: the schema pool refilled and the worker's queues idle. */
export async function backgroundSettled(vars: Readonly<Record<string, string>>): Promise<void> {
  await queuesIdle(vars);
  await schemaPoolFull(vars);
}

export interface DeployedPlatform {
  env: TestEnv;
  vars: Record<string, string>;
  platform: RunningCommand;
  /** The gateway's GraphQL endpoint. */
  graphqlUrl: string;
  /** Stops the platform, the sshd and removes the namespace. */
  stop(): Promise<void>;
}

/**
 * Starts the platform on namespace `name`; `extra` variables win over the bench's (a function gets the
 * namespace, for variables naming files in it).
 */
export async function startDeployedPlatform(
  name: string,
  extra: Record<string, string> | ((env: TestEnv) => Promise<Record<string, string>>) = {},
): Promise<DeployedPlatform> {
  const env = await createTestEnv(name);
  const sshd = await startTestSshd(env.tmpDir);
  const vars = await runCommandEnv(env, {
    NODE_ENV: 'production',
    LOG_LEVEL: 'error',
    ...LIMITS_ABOVE_LOAD,
    ...deployedDefaults(),
    ...sshd.env,
    ...(typeof extra === 'function' ? await extra(env) : extra),
  });
  const platform = await startRunCommand(vars).catch(async (err: unknown) => {
    await sshd.stop();
    await env.cleanup();
    throw err;
  });
  return {
    env,
    vars,
    platform,
    graphqlUrl: `${platform.gatewayUrl}/graphql`,
    async stop() {
      await platform.stop();
      await sshd.stop();
      await env.cleanup();
    },
  };
}

/** Registers user `i` (a new organization) through the gateway; its access token. */
export async function registerUser(graphqlUrl: string, i: number): Promise<string> {
  return (await registerOwner(graphqlUrl, i)).token;
}

/** Registers user `i` as the owner of a new organization; its access token and tenant. */
export async function registerOwner(
  graphqlUrl: string,
  i: number,
): Promise<{ token: string; tenantId: string }> {
  const res = await fetch(graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      query: 'mutation R($input: RegisterInput!) { register(input: $input) { accessToken tenant { id } } }',
      variables: {
        input: {
          email: `bench${i}-${randomUUID().slice(0, 8)}@bench.example`,
          password: 'correct horse battery staple',
          organizationName: `Bench ${i}`,
        },
      },
    }),
  });
  const body = (await res.json()) as {
    data?: { register?: { accessToken: string; tenant: { id: string } } };
    errors?: unknown;
  };
  const r = body.data?.register;
  if (!r) throw new Error(`register ${i}: ${JSON.stringify(body)}`);
  return { token: r.accessToken, tenantId: r.tenant.id };
}

/**
 * Waits until the tenant of every token is provisioned (its paper account answers), then until the
 * schema pool has refilled (with the platform's `vars`), so neither the provisioning jobs registration
 * started nor the pool's refills run during a measurement.
 */
export async function provisioned(
  graphqlUrl: string,
  tokens: readonly string[],
  vars?: Readonly<Record<string, string>>,
): Promise<void> {
  for (const token of tokens) {
    await eventually(
      async () => {
        const res = await fetch(graphqlUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify({ query: '{ accounts { id } }' }),
        });
        const body = (await res.json()) as { data?: { accounts?: unknown[] } };
        return body.data?.accounts?.length ? true : undefined;
      },
      'every registered tenant provisioned',
      120_000,
      200,
    );
  }
  if (vars) await backgroundSettled(vars);
}
