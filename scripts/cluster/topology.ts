/**
 * `make cluster`'s shape, as data: which processes run, on which loopback ports, with which
 * variables. Pure (no I/O), so the plan is unit-tested and the chaos tests use the same one. The
 * services get the same configuration variables as `make dev`; only addresses change: PgBouncer and
 * the sentinels instead of PostgreSQL and Redis, the HAProxy frontends instead of the subgraphs.
 */
import path from 'node:path';
import type { Config } from '../../lib/config.js';
import { platformProcesses, type PlatformProcess } from '../platform.js';
import { tlsFiles } from './tls-ca.js';

/** Replicas of every subgraph, gateway and tenants worker. */
export const REPLICAS = 2;
/** Sentinels watching the Redis primary (a quorum of 2 decides a failover). */
export const SENTINELS = 3;

/** The subgraphs behind their own HAProxy frontend, with the variable that names their URL. */
const SUBGRAPH_URL_VARS: Record<string, string> = {
  sessions: 'SESSIONS_URL',
  auth: 'AUTH_URL',
  tenants: 'TENANTS_URL',
  'market-data': 'MARKET_DATA_URL',
  trading: 'TRADING_URL',
  analytics: 'ANALYTICS_URL',
};
const PORT_VARS: Record<string, string> = {
  sessions: 'SESSIONS_PORT',
  auth: 'AUTH_PORT',
  tenants: 'TENANTS_PORT',
  'market-data': 'MARKET_DATA_PORT',
  trading: 'TRADING_PORT',
  analytics: 'ANALYTICS_PORT',
  gateway: 'GATEWAY_PORT',
  'tenants-worker': 'TENANTS_WORKER_PORT',
};

/** A Node.js process of the platform, one replica of one {@link PlatformProcess}. */
export interface NodeReplica {
  kind: 'node';
  /** `<service>-<n>`, also its log file name. */
  name: string;
  service: string;
  spec: PlatformProcess;
  port: number;
}

/** A process of an infrastructure tool (HAProxy, PgBouncer, redis-server, redis-sentinel). */
export interface ToolProcess {
  kind: 'haproxy' | 'pgbouncer' | 'redis' | 'sentinel';
  name: string;
  port: number;
}

export type ClusterProcess = NodeReplica | ToolProcess;

/** Every port of the cluster. */
export interface ClusterPorts {
  /** HAProxy's public frontend (GATEWAY_PORT). */
  entry: number;
  haproxyStats: number;
  pgbouncer: number;
  redis: number[];
  sentinels: number[];
  /** HAProxy frontend of each subgraph. */
  frontends: Record<string, number>;
  /** Replica ports of each service (subgraphs, gateway, tenants worker). */
  replicas: Record<string, number[]>;
}

/** Where the cluster keeps its generated configuration, data and logs. */
export interface ClusterPaths {
  /** `data/cluster` (or a test's folder). */
  root: string;
  /** CA certificate, server certificate and key (`keys/tls`, made by `make setup`). */
  caCert: string;
  serverCert: string;
  serverKey: string;
}

/** The cluster's plan: ports, processes in start order, and the variables every service gets. */
export interface ClusterPlan {
  ports: ClusterPorts;
  paths: ClusterPaths;
  /** Tools first (Redis, sentinels, PgBouncer, HAProxy), then the Node processes in platform order. */
  processes: ClusterProcess[];
  /** Variables common to every Node process of the cluster. */
  env: Record<string, string>;
  /** Variables of one replica (its port). */
  replicaEnv(replica: NodeReplica): Record<string, string>;
  databaseName: string;
  sentinelName: string;
}

/**
 * Lays the cluster out on consecutive ports from `base` (HAProxy keeps `config.GATEWAY_PORT`).
 * @param take ports to use instead of consecutive ones (tests pass free ports); called once per port
 */
export function planCluster(
  config: Config,
  paths: ClusterPaths,
  take: () => number = consecutive(config.CLUSTER_PORT_BASE),
): ClusterPlan {
  const services = platformProcesses(config);
  const replicas: Record<string, number[]> = {};
  const frontends: Record<string, number> = {};
  for (const s of services) {
    if (SUBGRAPH_URL_VARS[s.name]) frontends[s.name] = take();
    replicas[s.name] = Array.from({ length: REPLICAS }, take);
  }
  const ports: ClusterPorts = {
    entry: config.GATEWAY_PORT,
    haproxyStats: take(),
    pgbouncer: take(),
    redis: [take(), take()],
    sentinels: Array.from({ length: SENTINELS }, take),
    frontends,
    replicas,
  };
  const databaseName = new URL(config.DATABASE_URL).pathname.replace(/^\//, '');
  const sentinelName = config.REDIS_SENTINEL_NAME;

  const processes: ClusterProcess[] = [
    ...ports.redis.map((port, i): ToolProcess => ({ kind: 'redis', name: `redis-${i + 1}`, port })),
    ...ports.sentinels.map((port, i): ToolProcess => ({ kind: 'sentinel', name: `sentinel-${i + 1}`, port })),
    { kind: 'pgbouncer', name: 'pgbouncer', port: ports.pgbouncer },
    // Before the services: they call each other through its frontends while they start.
    { kind: 'haproxy', name: 'haproxy', port: ports.entry },
  ];
  for (const spec of services) {
    (ports.replicas[spec.name] ?? []).forEach((port, i) => {
      processes.push({ kind: 'node', name: `${spec.name}-${i + 1}`, service: spec.name, spec, port });
    });
  }

  const tlsQuery = `sslmode=verify-full&sslrootcert=${encodeURIComponent(paths.caCert)}`;
  const viaPgbouncer = (url: string): string => {
    const u = new URL(url);
    u.hostname = '127.0.0.1';
    u.port = String(ports.pgbouncer);
    u.search = tlsQuery;
    return u.toString();
  };
  const redisUrl = new URL(config.REDIS_URL);
  redisUrl.protocol = 'rediss:';
  redisUrl.hostname = '127.0.0.1';
  redisUrl.port = String(ports.redis[0]);
  const env: Record<string, string> = {
    DATABASE_URL: viaPgbouncer(config.DATABASE_URL),
    DATABASE_OWNER_URL: viaPgbouncer(config.DATABASE_OWNER_URL),
    REDIS_URL: redisUrl.toString(),
    REDIS_SENTINELS: ports.sentinels.map((p) => `127.0.0.1:${p}`).join(','),
    REDIS_SENTINEL_NAME: sentinelName,
    REDIS_SENTINEL_TLS: 'true',
    REDIS_TLS_CA_PATH: paths.caCert,
    // HAProxy is the edge: the gateways take the client address from its X-Forwarded-For.
    TRUSTED_PROXIES: 'loopback',
  };
  for (const [service, variable] of Object.entries(SUBGRAPH_URL_VARS)) {
    env[variable] = `http://127.0.0.1:${frontends[service] ?? 0}`;
  }
  return {
    ports,
    paths,
    processes,
    env,
    replicaEnv: (replica) => ({ [PORT_VARS[replica.service] ?? 'PORT']: String(replica.port) }),
    databaseName,
    sentinelName,
  };
}

function consecutive(base: number): () => number {
  let next = base;
  return () => next++;
}

/** The default paths: `data/cluster` under DATA_DIR, certificates from `keys/tls`. */
export function defaultClusterPaths(dataDir: string, keysDir: string): ClusterPaths {
  const tls = tlsFiles(keysDir);
  return {
    root: path.join(dataDir, 'cluster'),
    caCert: tls.caCert,
    serverCert: tls.serverCert,
    serverKey: tls.serverKey,
  };
}
