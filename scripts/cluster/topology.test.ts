import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config.js';
import { haproxyConfig, pgbouncerConfig, redisConfig, sentinelConfig } from './tool-configs.js';
import { planCluster, type ClusterPaths } from './topology.js';

const config = loadConfig({
  SERVICE_TOKEN: randomBytes(32).toString('hex'),
  DATABASE_URL: 'postgres://tradesage_app@127.0.0.1:5432/tradesage',
  DATABASE_OWNER_URL: 'postgres://tradesage_owner@127.0.0.1:5432/tradesage',
  GATEWAY_PORT: '8000',
  CLUSTER_PORT_BASE: '19000',
});
const paths: ClusterPaths = {
  root: '/tmp/c',
  caCert: '/k/tls/ca.crt',
  serverCert: '/k/tls/server.crt',
  serverKey: '/k/tls/server.key',
};
const plan = planCluster(config, paths);

describe('planCluster', () => {
  it('runs two replicas of every service, two workers, two gateways, Redis x2, sentinels x3', () => {
    const names = plan.processes.map((p) => p.name);
    for (const s of [
      'sessions',
      'auth',
      'tenants',
      'tenants-worker',
      'market-data',
      'trading',
      'analytics',
      'gateway',
    ]) {
      expect(names).toContain(`${s}-1`);
      expect(names).toContain(`${s}-2`);
    }
    expect(names.slice(0, 7)).toEqual([
      'redis-1',
      'redis-2',
      'sentinel-1',
      'sentinel-2',
      'sentinel-3',
      'pgbouncer',
      'haproxy',
    ]);
    const ports = plan.processes.map((p) => p.port);
    expect(new Set(ports).size).toBe(ports.length);
    expect(plan.processes.find((p) => p.name === 'haproxy')?.port).toBe(8000);
  });

  it('points every service at PgBouncer over verified TLS, the sentinels and the HAProxy frontends', () => {
    const db = new URL(plan.env['DATABASE_URL'] ?? '');
    expect(db.port).toBe(String(plan.ports.pgbouncer));
    expect(db.searchParams.get('sslmode')).toBe('verify-full');
    expect(db.searchParams.get('sslrootcert')).toBe(paths.caCert);
    expect(new URL(plan.env['DATABASE_OWNER_URL'] ?? '').username).toBe('tradesage_owner');
    expect(plan.env['REDIS_URL']).toMatch(/^rediss:\/\//);
    expect(plan.env['REDIS_SENTINELS']?.split(',')).toHaveLength(3);
    expect(plan.env['TRADING_URL']).toBe(`http://127.0.0.1:${plan.ports.frontends['trading']}`);
    // The configuration the services would load from it is valid.
    const c = loadConfig({ SERVICE_TOKEN: config.SERVICE_TOKEN, ...plan.env });
    expect(c.REDIS_SENTINELS).toHaveLength(3);
    expect(c.tradingUrl).toBe(plan.env['TRADING_URL']);
  });
});

describe('tool configurations', () => {
  it('HAProxy: WebSocket tunnels of at least an hour, /ready checks, a frontend per subgraph', () => {
    const cfg = haproxyConfig(plan);
    expect(cfg).toMatch(/timeout tunnel (\d+)h/);
    expect(Number(/timeout tunnel (\d+)h/.exec(cfg)?.[1])).toBeGreaterThanOrEqual(1);
    expect(cfg.match(/option httpchk GET \/ready/g)).toHaveLength(7);
    expect(cfg).toContain(`bind 127.0.0.1:${plan.ports.frontends['market-data']}`);
    // A replica marked down (all of them, while Redis fails over) keeps its open sockets.
    expect(cfg).not.toContain('shutdown-sessions');
    // Trading by caller (an account's orders batched in one replica), the others by least connections.
    const trading = cfg.slice(
      cfg.indexOf('\nbackend trading'),
      cfg.indexOf('\n\n', cfg.indexOf('\nbackend trading')),
    );
    expect(trading).toContain('balance hdr(authorization)');
    expect(trading).toContain('hash-type consistent');
    expect(cfg.match(/balance leastconn/g)).toHaveLength(6);
    // Every replica is also an unchecked backup, used only while all of them fail /ready (a shared
    // dependency failing over); scripts/cluster/haproxy-failover.int.test.ts runs it.
    expect(trading).toContain('option allbackups');
    for (const [i, port] of (plan.ports.replicas['trading'] ?? []).entries()) {
      // Checked, and marked down at the first refused connection (observe layer4).
      expect(trading).toContain(
        `server trading-${i + 1} 127.0.0.1:${port} check observe layer4 error-limit 1 on-error mark-down\n`,
      );
      expect(trading).toContain(`server trading-${i + 1}-unchecked 127.0.0.1:${port} backup`);
    }
    expect(cfg.match(/option allbackups/g)).toHaveLength(7);
    // A refused connection is retried on another replica at once; a busy replica has 3 s to answer /ready.
    expect(cfg).toContain('option redispatch 1\n');
    expect(cfg).toContain('timeout check 3s\n');
    expect(cfg).toMatch(
      /http-error status 503 content-type application\/json hdr retry-after 1 string '\{.*\}'/,
    );
  });

  it('PgBouncer: transaction pooling, the owner role per session, TLS required from clients', () => {
    const ini = pgbouncerConfig(plan, {
      runDir: '/r',
      certFile: '/r/c',
      keyFile: '/r/k',
      caFile: '/r/ca',
      authFile: '/r/u',
      serverHost: '127.0.0.1',
      serverPort: 5432,
      ownerRole: 'tradesage_owner',
      statementTimeoutMs: 15000,
    });
    expect(ini).toMatch(/^pool_mode = transaction$/m);
    expect(ini).toMatch(/^tradesage_owner = pool_mode=session$/m);
    expect(ini).toMatch(/^client_tls_sslmode = require$/m);
    expect(ini).toContain("connect_query='SET statement_timeout = 15000'");
  });

  it('Redis: TLS only, AOF on the primary and the replica; sentinels watch the primary', () => {
    const primary = redisConfig(plan, 0, '/d');
    const replica = redisConfig(plan, 1, '/d');
    expect(primary).toMatch(/^port 0$/m);
    expect(primary).toMatch(/^appendonly yes$/m);
    expect(primary).not.toMatch(/replicaof/);
    expect(replica).toMatch(new RegExp(`^replicaof 127.0.0.1 ${plan.ports.redis[0]}$`, 'm'));
    expect(replica).toMatch(/^appendonly yes$/m);
    expect(sentinelConfig(plan, 2, '/d')).toMatch(
      new RegExp(`^sentinel monitor tradesage 127.0.0.1 ${plan.ports.redis[0]} 2$`, 'm'),
    );
  });
});
