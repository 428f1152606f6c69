/**
 * `make cluster` for tests: a plan on free ports with its own CA and folders under a temporary
 * directory, started (fully or in part) through scripts/cluster/cluster.ts, so tests kill the same
 * processes the cluster runs.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { processEnv, PROJECT_ROOT } from '../../lib/config.js';
import { ensureBuilt } from '../../scripts/build.js';
import { createCluster, type RunningCluster } from '../../scripts/cluster/cluster.js';
import { ensureLocalCa, tlsFiles } from '../../scripts/cluster/tls-ca.js';
import { planCluster, type ClusterProcess } from '../../scripts/cluster/topology.js';
import { loadPlatformConfig, type PlatformConfig } from '../../scripts/platform-config.js';
import { freePorts } from './env.js';

/** A test cluster and the configuration its processes run with. */
export interface TestCluster {
  cluster: RunningCluster;
  /** The base configuration with the cluster's variables applied (PgBouncer, sentinels, frontends). */
  config: PlatformConfig;
  /** The variables of {@link config}, for child processes. */
  env: Record<string, string>;
}

/**
 * Plans and starts a cluster in `dir`.
 * @param env configuration variables of the platform (the test's namespace), before the cluster's
 * @param only the processes to start (default: all)
 * @param onCreated receives the cluster before its start finishes, so a test whose setup hook times
 *   out mid-start can still stop it (the members are detached and would outlive the test otherwise)
 */
export async function startTestCluster(
  dir: string,
  env: Record<string, string>,
  only?: (p: ClusterProcess) => boolean,
  onCreated?: (cluster: RunningCluster) => void,
): Promise<TestCluster> {
  // PgBouncer runs as `postgres` when the tests run as root: it must be able to reach its folder.
  await chmod(dir, 0o711);
  const keys = path.join(dir, 'keys');
  await ensureLocalCa(keys);
  const tls = tlsFiles(keys);
  const [entry = 0, ...ports] = await freePorts(40);
  const base = loadPlatformConfig({
    ...processEnv(),
    SERVICE_TOKEN: randomBytes(32).toString('hex'),
    ...env,
    GATEWAY_PORT: String(entry),
  });
  const plan = planCluster(
    base,
    {
      root: path.join(dir, 'cluster'),
      caCert: tls.caCert,
      serverCert: tls.serverCert,
      serverKey: tls.serverKey,
    },
    () => {
      const port = ports.shift();
      if (port === undefined) throw new Error('test cluster: out of ports');
      return port;
    },
  );
  // The services run from dist/ as in `make cluster`: built first when stale (atomic writes, so test
  // files building at once are safe).
  if (plan.processes.some((p) => p.kind === 'node' && (only?.(p) ?? true))) await ensureBuilt();
  const childEnv = { ...env, GATEWAY_PORT: String(entry), SERVICE_TOKEN: base.SERVICE_TOKEN };
  const cluster = createCluster({
    config: base,
    plan,
    env: { ...processEnv(), ...childEnv, TRADESAGE_SKIP_DOTENV: '1' },
    cwd: PROJECT_ROOT,
    ...(only ? { only } : {}),
  });
  onCreated?.(cluster);
  // Last resort when the test process ends without stopping it.
  process.once('exit', () => cluster.killNow());
  await cluster.start();
  const merged = { ...childEnv, ...plan.env };
  return { cluster, config: loadPlatformConfig({ ...processEnv(), ...merged }), env: merged };
}

/** The variables that reach a test cluster's Redis through its sentinels (TLS). */
export type SentinelRedisVars = Pick<
  PlatformConfig,
  'REDIS_URL' | 'REDIS_SENTINELS' | 'REDIS_SENTINEL_NAME' | 'REDIS_SENTINEL_TLS' | 'REDIS_TLS_CA_PATH'
>;

/**
 * The cluster's Redis alone (TLS primary and replica under three sentinels) in a new temporary
 * directory, for a test that kills its primary, and the variables that reach it.
 */
export async function startSentinelRedis(
  label: string,
): Promise<{ dir: string; tc: TestCluster; redis: SentinelRedisVars }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `tradesage-${label}-`));
  const tc = await startTestCluster(dir, {}, (p) => p.kind === 'redis' || p.kind === 'sentinel');
  const { REDIS_URL, REDIS_SENTINELS, REDIS_SENTINEL_NAME, REDIS_SENTINEL_TLS, REDIS_TLS_CA_PATH } =
    tc.config;
  return {
    dir,
    tc,
    redis: {
      REDIS_URL,
      REDIS_SENTINELS,
      REDIS_SENTINEL_NAME,
      REDIS_SENTINEL_TLS,
      ...(REDIS_TLS_CA_PATH ? { REDIS_TLS_CA_PATH } : {}),
    },
  };
}
