/**
 * OpenTelemetry tracing for every process: the SDK (TracerProvider, OTLP/HTTP exporter, W3C
 * propagation) and the pg, ioredis, http and graphql instrumentations, started by
 * lib/telemetry.register.ts before the process's own modules load. Without OTEL_EXPORTER_OTLP_ENDPOINT
 * nothing here loads (the SDK is imported lazily): spans are the API's no-ops and log lines and errors
 * carry no trace fields. The helpers below (inject, extract, job carriers) are cheap no-ops then.
 */
import path from 'node:path';
import {
  context,
  isSpanContextValid,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Context,
  type Span,
  type SpanOptions,
} from '@opentelemetry/api';
import type * as SdkTraceModule from '@opentelemetry/sdk-trace';
import type { Sampler, SpanExporter } from '@opentelemetry/sdk-trace';
import type { Config } from './config.js';

// Types only: the SDK itself is imported lazily, when tracing is on.
type SdkTrace = typeof SdkTraceModule;

/** The configuration tracing reads. */
export type TelemetryConfig = Pick<
  Config,
  | 'OTEL_EXPORTER_OTLP_ENDPOINT'
  | 'OTEL_EXPORTER_OTLP_PROTOCOL'
  | 'OTEL_SERVICE_NAME'
  | 'OTEL_TRACES_SAMPLER'
  | 'OTEL_TRACES_SAMPLER_ARG'
>;

/** A started tracing pipeline. */
export interface Telemetry {
  serviceName: string;
  /** Exports what is buffered and stops; spans started afterwards are dropped. */
  shutdown(): Promise<void>;
}

/** Name of the tracer TradeSage's own spans (subgraph fetches, subscription events, jobs) come from. */
export const TRACER_NAME = 'tradesage';

/** Modules the ESM loader hook wraps (only these: wrapping every module would slow every import). */
export const INSTRUMENTED_MODULES: readonly string[] = ['pg', 'pg-pool', 'ioredis', 'graphql'];

/**
 * The process's pipeline lives on globalThis, not in this module: the preload and the entry are
 * separate bundles in dist/, each with its own copy of this module.
 */
const SLOT = Symbol.for('tradesage.telemetry');
const holder = globalThis as { [SLOT]?: Telemetry | undefined };

/** True once {@link startTelemetry} started a pipeline in this process. */
export function tracingEnabled(): boolean {
  return holder[SLOT] !== undefined;
}

/**
 * The default `service.name` of a process from its entry module: `<dir>/src/index.ts` is
 * `tradesage-<dir>` (`gateway/src/index.ts`: `tradesage-gateway`) and any other entry under `src/`
 * (a worker) adds its file name: `<dir>/src/worker.ts` is `tradesage-<dir>-worker`.
 */
export function defaultServiceName(entry: string | undefined): string {
  if (!entry) return 'tradesage';
  const parts = path.resolve(entry).split(path.sep);
  // A bundle in dist/ is named after its process (scripts/build.ts).
  if (parts.at(-2) === 'dist') return `tradesage-${path.basename(entry).replace(/\.[cm]?js$/, '')}`;
  const src = parts.lastIndexOf('src');
  const owner = src > 0 ? parts[src - 1] : undefined;
  if (!owner) return 'tradesage';
  const file = path.basename(entry).replace(/\.[cm]?[jt]s$/, '');
  return file === 'index' ? `tradesage-${owner}` : `tradesage-${owner}-${file}`;
}

/**
 * Starts tracing when an endpoint is configured (otherwise returns undefined and loads nothing):
 * registers the global tracer provider, context manager and W3C propagator, then the
 * instrumentations. Call once, before pg, ioredis and graphql are imported.
 */
export async function startTelemetry(
  config: TelemetryConfig,
  fallbackServiceName: string,
): Promise<Telemetry | undefined> {
  const running = holder[SLOT];
  if (running) return running;
  if (config.OTEL_EXPORTER_OTLP_ENDPOINT === undefined) return undefined;
  const [sdk, { resourceFromAttributes }, { AsyncLocalStorageContextManager }, core, exporter] =
    await Promise.all([
      import('@opentelemetry/sdk-trace'),
      import('@opentelemetry/resources'),
      import('@opentelemetry/context-async-hooks'),
      import('@opentelemetry/core'),
      createExporter(config),
    ]);
  const serviceName = config.OTEL_SERVICE_NAME ?? fallbackServiceName;
  const provider = new sdk.TracerProvider({
    resource: resourceFromAttributes({ 'service.name': serviceName, 'service.namespace': 'tradesage' }),
    sampler: createSampler(sdk, config),
    spanProcessors: [new sdk.BatchSpanProcessor({ exporter, scheduledDelayMillis: 1000 })],
  });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new core.W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  await registerInstrumentations();
  const started: Telemetry = {
    serviceName,
    shutdown: async () => {
      await provider.shutdown();
      holder[SLOT] = undefined;
    },
  };
  holder[SLOT] = started;
  return started;
}

/** The exporter of OTEL_EXPORTER_OTLP_PROTOCOL, sending to `<endpoint>/v1/traces`. */
export async function createExporter(config: TelemetryConfig): Promise<SpanExporter> {
  const url = `${(config.OTEL_EXPORTER_OTLP_ENDPOINT ?? '').replace(/\/+$/, '')}/v1/traces`;
  if (config.OTEL_EXPORTER_OTLP_PROTOCOL === 'http/json') {
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
    return new OTLPTraceExporter({ url });
  }
  const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-proto');
  return new OTLPTraceExporter({ url });
}

/** The sampler OTEL_TRACES_SAMPLER names, with OTEL_TRACES_SAMPLER_ARG as its ratio. */
export function createSampler(sdk: SdkTrace, config: TelemetryConfig): Sampler {
  const ratio = new sdk.TraceIdRatioBasedSampler(config.OTEL_TRACES_SAMPLER_ARG);
  switch (config.OTEL_TRACES_SAMPLER) {
    case 'always_on':
      return new sdk.AlwaysOnSampler();
    case 'always_off':
      return new sdk.AlwaysOffSampler();
    case 'traceidratio':
      return ratio;
    case 'parentbased_always_on':
      return new sdk.ParentBasedSampler({ root: new sdk.AlwaysOnSampler() });
    case 'parentbased_always_off':
      return new sdk.ParentBasedSampler({ root: new sdk.AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new sdk.ParentBasedSampler({ root: ratio });
  }
}

async function registerInstrumentations(): Promise<void> {
  const [{ registerInstrumentations: register }, http, pg, ioredis, graphql] = await Promise.all([
    import('@opentelemetry/instrumentation'),
    import('@opentelemetry/instrumentation-http'),
    import('@opentelemetry/instrumentation-pg'),
    import('@opentelemetry/instrumentation-ioredis'),
    import('@opentelemetry/instrumentation-graphql'),
  ]);
  register({
    instrumentations: [
      new http.HttpInstrumentation({
        // Probes and scrapes are not requests anyone follows.
        ignoreIncomingRequestHook: (req) => /^\/(health|ready|metrics)\b/.test(req.url ?? ''),
      }),
      new pg.PgInstrumentation({ requireParentSpan: true }),
      // The command name only: keys and arguments can hold session or token identifiers.
      new ioredis.IORedisInstrumentation({ requireParentSpan: true, dbStatementSerializer: (cmd) => cmd }),
      new graphql.GraphQLInstrumentation({ mergeItems: true, ignoreTrivialResolveSpans: true }),
    ],
  });
}

/** `trace_id` and `span_id` of the active span, for log lines (pino mixin). */
export function traceFields(): { trace_id?: string; span_id?: string } {
  const span = trace.getActiveSpan();
  if (!span) return {};
  const sc = span.spanContext();
  return isSpanContextValid(sc) ? { trace_id: sc.traceId, span_id: sc.spanId } : {};
}

/** The active trace id (for `extensions.traceId` of error responses), when tracing is on. */
export function activeTraceId(): string | undefined {
  if (!tracingEnabled()) return undefined;
  return traceFields().trace_id;
}

/** The tracer of TradeSage's own spans. */
export function tracer(): ReturnType<typeof trace.getTracer> {
  return trace.getTracer(TRACER_NAME);
}

/** Writes the W3C `traceparent` (and `tracestate`) of `ctx` into `carrier`. */
export function injectTraceContext(carrier: Record<string, string>, ctx: Context = context.active()): void {
  if (tracingEnabled()) propagation.inject(ctx, carrier);
}

/** The context carried by `carrier` (W3C headers, or a job's {@link TraceCarrier}). */
export function extractTraceContext(carrier: Readonly<Record<string, string>> | undefined): Context {
  if (!tracingEnabled() || !carrier) return ROOT_CONTEXT;
  return propagation.extract(ROOT_CONTEXT, carrier);
}

/** The trace context a queued job carries in its data, so the worker continues the caller's trace. */
export type TraceCarrier = Record<string, string>;

/** The active context as a job data field (undefined when tracing is off or no span is active). */
export function traceCarrier(): TraceCarrier | undefined {
  if (!tracingEnabled() || !trace.getActiveSpan()) return undefined;
  const carrier: TraceCarrier = {};
  propagation.inject(context.active(), carrier);
  return Object.keys(carrier).length > 0 ? carrier : undefined;
}

/** `{ trace }` to spread into a queued job's data: the active trace context, when there is one. */
export function jobTraceField(): { trace?: TraceCarrier } {
  const carrier = traceCarrier();
  return carrier ? { trace: carrier } : {};
}

function carrierOf(data: unknown): TraceCarrier | undefined {
  const trace = typeof data === 'object' && data !== null ? (data as { trace?: unknown }).trace : undefined;
  if (typeof trace !== 'object' || trace === null) return undefined;
  const out: TraceCarrier = {};
  for (const [k, v] of Object.entries(trace)) if (typeof v === 'string') out[k] = v;
  return out;
}

/** The part of a BullMQ job a traced processor reads. */
export interface TracedJob {
  name: string;
  id?: string | undefined;
  attemptsMade?: number;
  data: unknown;
}

/**
 * Wraps a BullMQ processor: each attempt of a job is a consumer span continuing the trace its
 * producer put in `data.trace` ({@link jobTraceField}), or a trace of its own without one.
 */
export function tracedProcessor<J extends TracedJob, R>(
  queue: string,
  processor: (job: J) => Promise<R>,
): (job: J) => Promise<R> {
  return (job) => {
    if (!tracingEnabled()) return processor(job);
    const attributes = {
      'messaging.system': 'bullmq',
      'messaging.destination.name': queue,
      'messaging.operation.type': 'process',
      'messaging.message.id': job.id ?? '',
      'tradesage.job.attempt': (job.attemptsMade ?? 0) + 1,
    };
    const parent = extractTraceContext(carrierOf(job.data));
    return withSpan(`${queue} ${job.name}`, { kind: SpanKind.CONSUMER, attributes, parent }, () =>
      processor(job),
    );
  };
}

/**
 * Runs `fn` inside a new span (child of `parent`, else of the active context), ended when `fn`
 * settles; a throw marks the span as an error and is rethrown. Without tracing, `fn` runs directly.
 */
export async function withSpan<T>(
  name: string,
  options: SpanOptions & { parent?: Context },
  fn: (span: Span | undefined) => Promise<T>,
): Promise<T> {
  if (!tracingEnabled()) return fn(undefined);
  const { parent, ...spanOptions } = options;
  return tracer().startActiveSpan(name, spanOptions, parent ?? context.active(), async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      span.recordException(err instanceof Error ? err : String(err));
      span.setStatus({ code: SpanStatusCode.ERROR });
      throw err;
    } finally {
      span.end();
    }
  });
}

export { SpanKind };
