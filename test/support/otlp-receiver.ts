/**
 * A minimal OTLP/HTTP trace receiver for tests: `POST /v1/traces` in JSON (`http/json`) or protobuf
 * (`http/protobuf`, decoded by the small wire-format reader in ./otlp-protobuf.ts), flattened into
 * one list of spans with the `service.name` of their resource.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeTraceRequest } from './otlp-protobuf.js';

/** One received span. Ids are lower-case hex; a root span has no `parentSpanId`. */
export interface ReceivedSpan {
  service: string;
  scope: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: Record<string, string | number | boolean>;
  /** Start and end, in ms since the epoch (fractional), when the exporter sent them. */
  startMs?: number;
  endMs?: number;
}

/** A running receiver. */
export interface OtlpReceiver {
  /** The value of OTEL_EXPORTER_OTLP_ENDPOINT (no path). */
  endpoint: string;
  spans: ReceivedSpan[];
  /** Content types of the requests received, in order. */
  contentTypes: string[];
  close(): Promise<void>;
}

export interface JsonAnyValue {
  stringValue?: string;
  intValue?: number | string;
  doubleValue?: number;
  boolValue?: boolean;
}
export interface JsonKeyValue {
  key: string;
  value?: JsonAnyValue;
}
export interface JsonSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind?: number;
  attributes?: JsonKeyValue[];
  startTimeUnixNano?: string | number;
  endTimeUnixNano?: string | number;
}
/** ExportTraceServiceRequest as OTLP/JSON spells it (the protobuf decoder returns the same shape). */
export interface TraceRequest {
  resourceSpans?: {
    resource?: { attributes?: JsonKeyValue[] };
    scopeSpans?: { scope?: { name?: string }; spans?: JsonSpan[] }[];
  }[];
}

function attributesOf(list: JsonKeyValue[] | undefined): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const { key, value } of list ?? []) {
    const v = value?.stringValue ?? value?.boolValue ?? value?.doubleValue ?? value?.intValue;
    if (v !== undefined) out[key] = typeof v === 'string' && value?.intValue !== undefined ? Number(v) : v;
  }
  return out;
}

/** A time in unix nanoseconds (OTLP/JSON spells them as strings) in ms, or undefined. */
function msOf(ns: string | number): number {
  return Number(BigInt(ns) / 1000n) / 1000;
}

/** Flattens one export request into spans. */
export function spansOf(req: TraceRequest): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of req.resourceSpans ?? []) {
    const service = String(attributesOf(rs.resource?.attributes)['service.name'] ?? '');
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        out.push({
          service,
          scope: ss.scope?.name ?? '',
          traceId: s.traceId.toLowerCase(),
          spanId: s.spanId.toLowerCase(),
          ...(s.parentSpanId ? { parentSpanId: s.parentSpanId.toLowerCase() } : {}),
          name: s.name,
          kind: s.kind ?? 0,
          attributes: attributesOf(s.attributes),
          ...(s.startTimeUnixNano !== undefined ? { startMs: msOf(s.startTimeUnixNano) } : {}),
          ...(s.endTimeUnixNano !== undefined ? { endMs: msOf(s.endTimeUnixNano) } : {}),
        });
      }
    }
  }
  return out;
}

/** Starts a receiver on a free loopback port. */
export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const contentTypes: string[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const type = req.headers['content-type'] ?? '';
      contentTypes.push(type);
      if (req.method !== 'POST' || req.url !== '/v1/traces') {
        res.writeHead(404).end();
        return;
      }
      try {
        const body = Buffer.concat(chunks);
        const decoded = type.includes('protobuf')
          ? decodeTraceRequest(body)
          : (JSON.parse(body.toString('utf8')) as TraceRequest);
        spans.push(...spansOf(decoded));
        const json = !type.includes('protobuf');
        res.writeHead(200, { 'content-type': json ? 'application/json' : 'application/x-protobuf' });
        res.end(json ? '{}' : Buffer.alloc(0));
      } catch {
        res.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    spans,
    contentTypes,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The chain of ancestors of `span` among `spans` (nearest first), up to a root or a missing parent. */
export function ancestorsOf(span: ReceivedSpan, spans: ReceivedSpan[]): ReceivedSpan[] {
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  const chain: ReceivedSpan[] = [];
  let parent = span.parentSpanId ? byId.get(span.parentSpanId) : undefined;
  while (parent && chain.length < 100) {
    chain.push(parent);
    parent = parent.parentSpanId ? byId.get(parent.parentSpanId) : undefined;
  }
  return chain;
}
