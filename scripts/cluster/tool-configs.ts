/**
 * Configuration files of the cluster's tools, rendered from the plan (scripts/cluster/topology.ts):
 * HAProxy (edge and one frontend per subgraph), PgBouncer (transaction pooling; session pooling for
 * the owner role only, whose DDL jobs hold session advisory locks), redis-server (TLS only, AOF) and
 * redis-sentinel (TLS only). Pure string builders; scripts/cluster/cluster.ts writes them.
 */
import type { ClusterPlan } from './topology.js';

/** What PgBouncer needs beyond the plan. */
export interface PgbouncerInput {
  /** Folder of its pid file and unix socket (writable by the user it runs as). */
  runDir: string;
  /** Its copies of the server certificate and key (readable by that user). */
  certFile: string;
  keyFile: string;
  caFile: string;
  authFile: string;
  /** PostgreSQL it pools (the machine's: 127.0.0.1:5432). */
  serverHost: string;
  serverPort: number;
  /** Role of DDL, migrations and pg_dump: pooled per session. */
  ownerRole: string;
  statementTimeoutMs: number;
}

/** The body of HAProxy's own 503 (see {@link haproxyConfig}). */
const UNAVAILABLE_BODY = JSON.stringify({
  errors: [
    {
      message: 'No replica can take the request now; retry',
      extensions: { code: 'INTERNAL_SERVER_ERROR', retryAfter: 1 },
    },
  ],
});

/** haproxy.cfg: the public entry on GATEWAY_PORT and one frontend per subgraph, all health-checked on /ready. */
export function haproxyConfig(plan: ClusterPlan): string {
  const { ports } = plan;
  const backend = (name: string, replicas: number[]): string[] => [
    `backend ${name}`,
    ...(name === 'trading'
      ? [
          // One caller's orders go to one trading replica (consistent hash of the verified token the
          // gateway forwards): an account's placements are grouped into one transaction per batch
          // only within a replica. Spread by leastconn, two replicas took turns on each account's
          // row lock and placed half as many orders as one (bench/cluster-scaling.ts). A replica
          // marked down hands its callers to the others.
          '  balance hdr(authorization)',
          '  hash-type consistent',
        ]
      : [
          // leastconn: long-lived graphql-ws sockets would otherwise pile up on one replica.
          '  balance leastconn',
        ]),
    '  option httpchk GET /ready',
    '  http-check expect status 200',
    // Every replica's /ready checks the shared Redis and PostgreSQL, so a Redis failover marks all of
    // them down together for a few seconds. Established sockets are left alone then (no
    // `on-marked-down shutdown-sessions`): cutting every graphql-ws socket and upstream subscription
    // doubled the subscribers' gap. A killed replica's sockets close by themselves; a down replica is
    // checked every 500 ms, so it takes new connections soon after it is ready again.
    '  default-server inter 1s downinter 500ms fall 2 rise 2',
    // A replica that refuses a connection is marked down at once (`observe layer4`), not after two
    // failed checks a second apart: leastconn sends every new connection to the replica with the fewest,
    // which after a kill is the dead one, so the reconnecting graphql-ws clients of a killed gateway
    // were all sent back to it first, each then waiting out HAProxy's retry.
    ...replicas.map(
      (p, i) =>
        `  server ${name}-${i + 1} 127.0.0.1:${p} check observe layer4 error-limit 1 on-error mark-down`,
    ),
    // When every replica fails /ready at once, a dependency they all share is what failed (a Redis
    // failover): taking them all out helps nobody. Then the same replicas are used unchecked (Envoy's
    // "panic mode"), so each answers for itself (a retryable refusal, or the answer once Redis is back)
    // instead of HAProxy's 503 until two checks in a row pass on each hop: queries came back 2.5-5 s
    // after the new primary answered, since the gateways' /ready also waits for every subgraph's
    // frontend to have a replica up (bench/redis-failover.ts, docs/reliability.md). While one replica
    // is up, only the checked servers are used.
    '  option allbackups',
    ...replicas.map((p, i) => `  server ${name}-${i + 1}-unchecked 127.0.0.1:${p} backup`),
    '',
  ];
  const lines = [
    'global',
    '  maxconn 8000',
    '',
    'defaults',
    '  mode http',
    '  option forwardfor',
    // A connection a replica refused is retried on another replica at once (every retry redispatches),
    // not on the same one after HAProxy's one-second turn-around.
    '  option redispatch 1',
    '  retries 2',
    '  timeout connect 2s',
    // A /ready check may take up to 3 s: on a saturated host a live replica answers late, and with
    // HAProxy's default (the 1 s interval) a gateway absorbing a dead one's reconnecting clients was
    // marked down while it served them. A dead replica refuses at once (and `observe layer4` marks
    // it down on the first refused connection); only a hung one takes two checks of 3 s.
    '  timeout check 3s',
    '  timeout client 60s',
    '  timeout server 60s',
    '  timeout http-request 10s',
    // WebSocket upgrades become tunnels: no idle cut under 2 h (the issue asks for at least 1 h).
    '  timeout tunnel 2h',
    '  timeout client-fin 5s',
    // HAProxy's own refusal (no replica can take the request: all killed) in the shape clients retry:
    // a GraphQL error with retryAfter and Retry-After, like the gateway's own (lib/errors unavailable).
    `  http-error status 503 content-type application/json hdr retry-after 1 string '${UNAVAILABLE_BODY}'`,
    '',
    'frontend stats',
    `  bind 127.0.0.1:${ports.haproxyStats}`,
    '  stats enable',
    '  stats uri /',
    '  stats refresh 5s',
    '',
    'frontend entry',
    `  bind 127.0.0.1:${ports.entry}`,
    '  default_backend gateway',
    '',
    ...backend('gateway', ports.replicas['gateway'] ?? []),
  ];
  for (const [service, port] of Object.entries(ports.frontends)) {
    lines.push(`frontend ${service}-in`, `  bind 127.0.0.1:${port}`, `  default_backend ${service}`, '');
    lines.push(...backend(service, ports.replicas[service] ?? []));
  }
  return `${lines.join('\n')}\n`;
}

/**
 * pgbouncer.ini. Every tenant transaction sets its scope with SET LOCAL (lib/db.ts), so transaction
 * pooling is safe for the app role; pg's `statement_timeout` startup parameter is not forwarded by
 * PgBouncer, so the server connections set it once when opened (connect_query).
 */
export function pgbouncerConfig(plan: ClusterPlan, input: PgbouncerInput): string {
  return `${[
    '[databases]',
    // Any database name (the platform's and test namespaces') maps to the same PostgreSQL.
    `* = host=${input.serverHost} port=${input.serverPort} connect_query='SET statement_timeout = ${input.statementTimeoutMs}'`,
    '',
    '[users]',
    `${input.ownerRole} = pool_mode=session`,
    '',
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${plan.ports.pgbouncer}`,
    `unix_socket_dir = ${input.runDir}`,
    `pidfile = ${input.runDir}/pgbouncer.pid`,
    'auth_type = trust',
    `auth_file = ${input.authFile}`,
    'pool_mode = transaction',
    'max_client_conn = 2000',
    'default_pool_size = 20',
    'max_db_connections = 45',
    'server_reset_query = DISCARD ALL',
    'ignore_startup_parameters = extra_float_digits,statement_timeout',
    'client_tls_sslmode = require',
    `client_tls_cert_file = ${input.certFile}`,
    `client_tls_key_file = ${input.keyFile}`,
    `client_tls_ca_file = ${input.caFile}`,
    // The machine's PostgreSQL listens in plain text on loopback and is not ours to reconfigure.
    'server_tls_sslmode = prefer',
    'server_connect_timeout = 5',
    'query_wait_timeout = 60',
    'log_connections = 0',
    'log_disconnections = 0',
  ].join('\n')}\n`;
}

/** userlist.txt: the roles PgBouncer admits (trust on loopback over TLS; passwords from the URLs). */
export function pgbouncerUsers(users: { name: string; password: string }[]): string {
  const q = (s: string): string => `"${s.replace(/"/g, '""')}"`;
  return users.map((u) => `${q(u.name)} ${q(u.password)}\n`).join('');
}

/** TLS settings shared by redis-server and redis-sentinel: TLS only, replication and sentinel links too. */
function redisTls(port: number, plan: ClusterPlan): string[] {
  return [
    'bind 127.0.0.1',
    'port 0',
    `tls-port ${port}`,
    `tls-cert-file ${plan.paths.serverCert}`,
    `tls-key-file ${plan.paths.serverKey}`,
    `tls-ca-cert-file ${plan.paths.caCert}`,
    'tls-auth-clients no',
    'tls-replication yes',
  ];
}

/** redis.conf of node `index` (0: the first primary; 1: its replica). AOF on both, so a promoted replica persists too. */
export function redisConfig(plan: ClusterPlan, index: number, dir: string): string {
  const port = plan.ports.redis[index] ?? 0;
  const primary = plan.ports.redis[0] ?? 0;
  return `${[
    ...redisTls(port, plan),
    'daemonize no',
    `dir ${dir}`,
    'appendonly yes',
    'appendfsync everysec',
    // BullMQ's requirement: never evict keys.
    'maxmemory-policy noeviction',
    'replica-announce-ip 127.0.0.1',
    ...(index === 0 ? [] : [`replicaof 127.0.0.1 ${primary}`]),
  ].join('\n')}\n`;
}

/** sentinel.conf of sentinel `index` (redis-sentinel rewrites it, so it is generated fresh each start). */
export function sentinelConfig(plan: ClusterPlan, index: number, dir: string): string {
  const port = plan.ports.sentinels[index] ?? 0;
  const name = plan.sentinelName;
  return `${[
    ...redisTls(port, plan),
    'daemonize no',
    `dir ${dir}`,
    'sentinel announce-ip 127.0.0.1',
    `sentinel announce-port ${port}`,
    `sentinel monitor ${name} 127.0.0.1 ${plan.ports.redis[0] ?? 0} 2`,
    `sentinel down-after-milliseconds ${name} 2000`,
    `sentinel failover-timeout ${name} 10000`,
    `sentinel parallel-syncs ${name} 1`,
  ].join('\n')}\n`;
}
