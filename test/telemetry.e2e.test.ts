/**
 * Traces across the graph, end to end: the platform's real processes (scripts/dev.ts, as `make dev`
 * starts them) export to an OTLP/HTTP receiver in this test (http/json; lib/telemetry.test.ts covers
 * http/protobuf). One placeOrder through the gateway must be one trace: the gateway's root span, its
 * fetch of trading, trading's server span and its PostgreSQL queries, each parented to the one above;
 * a backup asked for by a mutation continues that mutation's trace in the tenants worker; log lines
 * written in a span carry its ids; error responses carry the trace id.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createTestEnv, type TestEnv } from './support/env.js';
import { newKeyEntry } from './support/services.js';
import {
  ancestorsOf,
  startOtlpReceiver,
  type OtlpReceiver,
  type ReceivedSpan,
} from './support/otlp-receiver.js';
import { gql } from './support/platform.js';
import { runCommandEnv, startRunCommand, type RunningCommand } from './support/run-command.js';
import { startTestSshd, type TestSshd } from './support/sshd.js';
import { eventually } from './support/wait.js';

const SPAN_KIND_SERVER = 2;
const SPAN_KIND_CLIENT = 3;
const SPAN_KIND_CONSUMER = 5;
const PG_SCOPE = '@opentelemetry/instrumentation-pg';

let env: TestEnv;
let receiver: OtlpReceiver;
let platform: RunningCommand;
let sshd: TestSshd;
let url: string;
let token = '';
let tenantId = '';
let accountId = '';

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  env = await createTestEnv('otel_e2e');
  sshd = await startTestSshd(env.tmpDir);
  const vars = await runCommandEnv(env, {
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    MARKET_FEED_SYMBOLS: 'AAPL,MSFT',
    MARKET_FEED_TICKS_PER_SECOND: '20',
    ARGON2_MEMORY_KIB: '1024',
    ARGON2_TIME_COST: '1',
    JOB_BACKOFF_MS: '200',
    LOG_LEVEL: 'info',
    // Every subscription event traced here (a sample in production).
    TRACING_SUBSCRIPTION_EVENT_RATIO: '1',
    BACKUP_ENCRYPTION_KEYS: newKeyEntry('otel-key'),
    ...sshd.env,
  });
  platform = await startRunCommand(vars);
  url = `${platform.gatewayUrl}/graphql`;
  const r = await gql<{ register: { accessToken: string; tenant: { id: string } } }>(
    url,
    'mutation($input: RegisterInput!) { register(input: $input) { accessToken tenant { id } } }',
    {
      input: {
        email: 'otel@example.com',
        password: 'correct horse battery staple',
        organizationName: 'Otel Co',
      },
    },
  );
  if (!r.data) throw new Error(JSON.stringify(r.errors));
  token = r.data.register.accessToken;
  tenantId = r.data.register.tenant.id;
  accountId = await eventually(
    async () =>
      (await gql<{ accounts: { id: string }[] }>(url, '{ accounts { id } }', {}, token)).data?.accounts[0]
        ?.id,
    'the paper account',
    60_000,
  );
}, 300_000);

afterAll(async () => {
  await platform?.stop();
  await sshd?.stop();
  await receiver?.close();
  await env?.cleanup();
});

const spansOfTrace = (traceId: string): ReceivedSpan[] => receiver.spans.filter((s) => s.traceId === traceId);

/** The gateway's fetch span of `subgraph` for the client operation `operationName`, once exported. */
function fetchSpan(subgraph: string, operationName: string): Promise<ReceivedSpan> {
  return eventually(
    () =>
      Promise.resolve(
        receiver.spans.find(
          (s) =>
            s.service === 'tradesage-gateway' &&
            s.name === `fetch ${subgraph}` &&
            String(s.attributes['graphql.operation.name'] ?? '').startsWith(operationName),
        ),
      ),
    `the gateway's fetch span of ${subgraph} for ${operationName}`,
    30_000,
  );
}

/**
 * True once every ancestor of `span` up to a root has been exported: each process sends its batches
 * on its own timer, so a child can arrive before its parents.
 */
function chainComplete(span: ReceivedSpan): boolean {
  if (span.parentSpanId === undefined) return true;
  const top = ancestorsOf(span, receiver.spans).at(-1);
  return top !== undefined && top.parentSpanId === undefined;
}

/** The one root span of a trace (asserted to be the gateway's). */
function rootOf(traceId: string): ReceivedSpan {
  const roots = spansOfTrace(traceId).filter((s) => s.parentSpanId === undefined);
  expect(roots.map((s) => s.service)).toEqual(['tradesage-gateway']);
  return roots[0] as ReceivedSpan;
}

describe('OpenTelemetry traces across the graph', () => {
  it('one placeOrder is one trace: gateway -> trading -> PostgreSQL, correctly parented', async () => {
    const placed = await eventually(
      async () => {
        const r = await gql<{ placeOrder: { status: string; rejectReason: string | null } }>(
          url,
          `mutation PlaceOrderTraced($input: PlaceOrderInput!) { placeOrder(input: $input) { status rejectReason } }`,
          {
            input: {
              accountId,
              clientOrderId: `otel-${Date.now()}`,
              symbol: 'AAPL',
              side: 'BUY',
              type: 'MARKET',
              quantity: '1',
            },
          },
          token,
        );
        const o = r.data?.placeOrder;
        return o && o.rejectReason !== 'NO_MARKET_DATA' ? o : undefined;
      },
      'a quote for AAPL',
      60_000,
    );
    expect(placed.status).toBe('FILLED');

    const fetch = await fetchSpan('trading', 'PlaceOrderTraced');
    expect(fetch.kind).toBe(SPAN_KIND_CLIENT);
    const traceId = fetch.traceId;
    // Wait until trading's spans are exported too (batches leave each process on their own timer).
    const { server, pgSpans } = await eventually(
      () => {
        const trading = spansOfTrace(traceId).filter((s) => s.service === 'tradesage-trading');
        const server = trading.find((s) => s.kind === SPAN_KIND_SERVER);
        const pgSpans = trading.filter((s) => s.scope === PG_SCOPE);
        const complete = server && pgSpans.length > 0 && [server, ...pgSpans].every(chainComplete);
        return complete ? { server, pgSpans } : undefined;
      },
      "trading's server and PostgreSQL spans in the placeOrder trace",
      30_000,
    );
    const root = rootOf(traceId);
    // trading's server span sits below the gateway's fetch span (via the HTTP client span).
    expect(ancestorsOf(server, receiver.spans).map((s) => s.spanId)).toContain(fetch.spanId);
    for (const pgSpan of pgSpans) {
      const chain = ancestorsOf(pgSpan, receiver.spans);
      expect(chain.at(-1)?.spanId).toBe(root.spanId);
      expect(chain.map((s) => s.spanId)).toEqual(expect.arrayContaining([server.spanId, fetch.spanId]));
    }
    // Trading executed the operation in this trace only (graphql instrumentation's operation span).
    const executions = receiver.spans.filter(
      (s) => s.service === 'tradesage-trading' && s.name.includes('PlaceOrderTraced'),
    );
    expect(executions.length).toBeGreaterThan(0);
    expect(new Set(executions.map((s) => s.traceId))).toEqual(new Set([traceId]));
  });

  it('a backup asked for by a mutation continues its trace in the tenants worker; logs carry the trace', async () => {
    const r = await gql<{ backupTenant: { id: string } }>(
      url,
      'mutation BackupTraced($id: ID!) { backupTenant(tenantId: $id) { id } }',
      { id: tenantId },
      token,
    );
    expect(r.errors).toBeUndefined();
    const fetch = await fetchSpan('tenants', 'BackupTraced');
    const job = await eventually(
      () =>
        Promise.resolve(
          spansOfTrace(fetch.traceId).find(
            (s) =>
              s.service === 'tradesage-tenants-worker' && s.kind === SPAN_KIND_CONSUMER && chainComplete(s),
          ),
        ),
      "the worker's backup job span in the mutation's trace",
      60_000,
    );
    expect(job.name).toBe('tenant-backups backup');
    const root = rootOf(fetch.traceId);
    expect(ancestorsOf(job, receiver.spans).at(-1)?.spanId).toBe(root.spanId);
    // Log lines written inside a span carry it: the tenants subgraph's, as it queued the job.
    const logged = await eventually(
      async () => {
        const text = await readFile(path.join(env.tmpDir, 'logs', 'tenants.log'), 'utf8').catch(() => '');
        return text
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as { msg?: string; trace_id?: string; span_id?: string })
          .find((l) => l.msg === 'backup queued');
      },
      "the tenants service's 'backup queued' log line",
      30_000,
    );
    expect(logged.trace_id).toBe(fetch.traceId);
    expect(logged.span_id).toMatch(/^[0-9a-f]{16}$/);
  });

  it('a subscription event is a trace of its own, with the per-event fetches below it', async () => {
    const client = createClient({
      url: url.replace('http://', 'ws://'),
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      connectionParams: { authorization: `Bearer ${token}` },
    });
    try {
      await new Promise<void>((resolve, reject) => {
        const dispose = client.subscribe(
          {
            query:
              'subscription PriceTraced { priceUpdated(symbols: ["AAPL"]) { symbol instrument { position { quantity } } } }',
          },
          {
            next: () => {
              dispose();
              resolve();
            },
            error: reject,
            complete: () => undefined,
          },
        );
      });
    } finally {
      await client.dispose();
    }
    // The per-event fetch of `rest` (Instrument.position, owned by trading) runs inside the event's span.
    const { event, server } = await eventually(
      () => {
        const events = receiver.spans.filter(
          (s) => s.service === 'tradesage-gateway' && s.name === 'subscription event',
        );
        for (const event of events) {
          const server = spansOfTrace(event.traceId).find(
            (s) => s.service === 'tradesage-trading' && s.kind === SPAN_KIND_SERVER,
          );
          if (server && chainComplete(server)) return { event, server };
        }
        return undefined;
      },
      "a subscription event span with trading's server span in its trace",
      30_000,
    );
    expect(event.parentSpanId).toBeUndefined();
    expect(event.kind).toBe(SPAN_KIND_CONSUMER);
    expect(ancestorsOf(server, receiver.spans).at(-1)?.spanId).toBe(event.spanId);
  });

  it('an error response carries the trace id of its request', async () => {
    const r = await gql(url, '{ accounts { id } }');
    const traceId = r.errors?.[0]?.extensions?.['traceId'];
    expect(r.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    await eventually(
      () =>
        Promise.resolve(
          spansOfTrace(String(traceId)).some((s) => s.service === 'tradesage-gateway') || undefined,
        ),
      'the failed request exported under that trace id',
      30_000,
    );
  });
});
