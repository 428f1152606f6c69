import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { afterAll, describe, expect, it } from 'vitest';
import { startOtlpReceiver, type OtlpReceiver } from '../test/support/otlp-receiver.js';
import { eventually } from '../test/support/wait.js';
import { loadTelemetryConfig } from './config.js';
import { createErrorFormatter } from './errors.js';
import { createLogger } from './logger.js';
import {
  createExporter,
  createSampler,
  defaultServiceName,
  jobTraceField,
  startTelemetry,
  traceFields,
  tracedProcessor,
  tracingEnabled,
  withSpan,
  type Telemetry,
  type TelemetryConfig,
} from './telemetry.js';

const OFF: TelemetryConfig = {
  OTEL_EXPORTER_OTLP_ENDPOINT: undefined,
  OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
  OTEL_SERVICE_NAME: undefined,
  OTEL_TRACES_SAMPLER: 'parentbased_always_on',
  OTEL_TRACES_SAMPLER_ARG: 1,
};

let receiver: OtlpReceiver | undefined;
let telemetry: Telemetry | undefined;

afterAll(async () => {
  await telemetry?.shutdown();
  await receiver?.close();
});

describe('defaultServiceName', () => {
  it('names each process after its entry module', () => {
    expect(defaultServiceName('gateway/src/index.ts')).toBe('tradesage-gateway');
    expect(defaultServiceName('/app/services/market-data/src/index.ts')).toBe('tradesage-market-data');
    expect(defaultServiceName('services/tenants/src/worker.ts')).toBe('tradesage-tenants-worker');
    // The bundles scripts/build.ts writes are named after their process.
    expect(defaultServiceName('/app/dist/tenants-worker.js')).toBe('tradesage-tenants-worker');
    expect(defaultServiceName('dist/gateway.js')).toBe('tradesage-gateway');
    expect(defaultServiceName(undefined)).toBe('tradesage');
  });
});

describe('loadTelemetryConfig', () => {
  it('reads the OTEL_* variables alone, with the specification defaults; undefined when one is invalid', () => {
    const defaults = loadTelemetryConfig({ SERVICE_TOKEN: 'not checked here' });
    expect(defaults?.OTEL_EXPORTER_OTLP_ENDPOINT).toBeUndefined();
    expect(defaults).toMatchObject({
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
      OTEL_TRACES_SAMPLER: 'parentbased_always_on',
    });
    expect(loadTelemetryConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toMatchObject({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
    });
    expect(loadTelemetryConfig({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).toBeUndefined();
    expect(loadTelemetryConfig({ OTEL_TRACES_SAMPLER_ARG: '2' })).toBeUndefined();
  });
});

describe('createExporter', () => {
  it('picks the exporter of OTEL_EXPORTER_OTLP_PROTOCOL', async () => {
    const base = { ...OFF, OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' };
    const json = await createExporter({ ...base, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' });
    const proto = await createExporter(base);
    expect(json).toBeInstanceOf(JsonExporter);
    expect(proto).toBeInstanceOf(ProtoExporter);
    await Promise.all([json.shutdown(), proto.shutdown()]);
  });
});

describe('createSampler', () => {
  it('builds the sampler OTEL_TRACES_SAMPLER names, with its ratio', async () => {
    const sdk = await import('@opentelemetry/sdk-trace');
    const named = (sampler: TelemetryConfig['OTEL_TRACES_SAMPLER']): string =>
      createSampler(sdk, { ...OFF, OTEL_TRACES_SAMPLER: sampler, OTEL_TRACES_SAMPLER_ARG: 0.25 }).toString();
    expect(named('always_off')).toBe('AlwaysOffSampler');
    expect(named('traceidratio')).toBe('TraceIdRatioBased{0.25}');
    expect(named('parentbased_traceidratio')).toMatch(/^ParentBased\{root=TraceIdRatioBased\{0.25\}/);
    expect(named('parentbased_always_on')).toMatch(/^ParentBased\{root=AlwaysOnSampler/);
  });
});

// In order: off first (nothing registered yet), then on, in this file's own process.
describe('tracing', () => {
  it('is off without an endpoint: nothing starts, helpers do nothing', async () => {
    expect(await startTelemetry(OFF, 'tradesage-test')).toBeUndefined();
    expect(tracingEnabled()).toBe(false);
    await withSpan('nothing', {}, (span) => {
      expect(span).toBeUndefined();
      expect(jobTraceField()).toEqual({});
      expect(traceFields()).toEqual({});
      return Promise.resolve();
    });
  });

  it('exports spans as OTLP protobuf; jobs continue the trace; errors carry the trace id', async () => {
    receiver = await startOtlpReceiver();
    telemetry = await startTelemetry(
      { ...OFF, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_SERVICE_NAME: 'tradesage-unit' },
      'tradesage-fallback',
    );
    expect(tracingEnabled()).toBe(true);
    const format = createErrorFormatter(createLogger({ LOG_LEVEL: 'silent' }, 'test'));

    const inside = await withSpan('mutation', {}, async () => {
      const fields = traceFields();
      const job = { name: 'backup', id: 'backup-1', data: { backupId: 'b1', ...jobTraceField() } };
      const error = format({ message: 'nope', extensions: { code: 'NOT_FOUND' } }, new Error('nope'));
      // The worker side, as BullMQ would call it: outside the producer's context.
      const processed = await tracedProcessor('tenant-backups', (j: typeof job) =>
        Promise.resolve({ fields: traceFields(), data: j.data }),
      )(job);
      return { fields, error, processed };
    });

    expect(inside.fields.trace_id).toMatch(/^[0-9a-f]{32}$/);
    expect(inside.error.extensions?.['traceId']).toBe(inside.fields.trace_id);
    expect(inside.processed.data.trace?.['traceparent']).toContain(inside.fields.trace_id);
    expect(inside.processed.fields.trace_id).toBe(inside.fields.trace_id);
    expect(inside.processed.fields.span_id).not.toBe(inside.fields.span_id);

    await telemetry?.shutdown();
    const spans = await eventually(
      () => (receiver && receiver.spans.length >= 2 ? receiver.spans : undefined),
      'the exported spans',
    );
    expect(receiver.contentTypes).toContain('application/x-protobuf');
    const root = spans.find((s) => s.name === 'mutation');
    const job = spans.find((s) => s.name === 'tenant-backups backup');
    expect(root).toMatchObject({ service: 'tradesage-unit', traceId: inside.fields.trace_id });
    expect(root?.parentSpanId).toBeUndefined();
    expect(job).toMatchObject({
      traceId: inside.fields.trace_id,
      parentSpanId: root?.spanId,
      kind: 5,
      attributes: { 'messaging.system': 'bullmq', 'messaging.message.id': 'backup-1' },
    });
  });
});
