/**
 * Decodes the parts of an OTLP `ExportTraceServiceRequest` (protobuf) that tests look at, by reading
 * the wire format directly: no generated protobuf code ships with the installed OTLP packages. Field
 * numbers are those of opentelemetry/proto/{collector/trace,trace,resource,common}/v1/*.proto.
 */
import type { JsonAnyValue, JsonKeyValue, JsonSpan, TraceRequest } from './otlp-receiver.js';

type Field = { no: number; wire: number; value: bigint | Buffer };

function* fields(buf: Buffer): Generator<Field> {
  let pos = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const byte = buf[pos++];
      if (byte === undefined) throw new Error('truncated varint');
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7n;
    }
  };
  while (pos < buf.length) {
    const key = Number(varint());
    const no = key >>> 3;
    const wire = key & 7;
    if (wire === 0) yield { no, wire, value: varint() };
    else if (wire === 1 || wire === 5) {
      const len = wire === 1 ? 8 : 4;
      yield { no, wire, value: buf.subarray(pos, pos + len) };
      pos += len;
    } else if (wire === 2) {
      const len = Number(varint());
      yield { no, wire, value: buf.subarray(pos, pos + len) };
      pos += len;
    } else throw new Error(`unsupported wire type ${wire}`);
  }
}

const bytes = (f: Field): Buffer => (Buffer.isBuffer(f.value) ? f.value : Buffer.alloc(0));

function anyValue(buf: Buffer): JsonAnyValue {
  for (const f of fields(buf)) {
    if (f.no === 1) return { stringValue: bytes(f).toString('utf8') };
    if (f.no === 2) return { boolValue: f.value !== 0n };
    if (f.no === 3) return { intValue: String(f.value) };
    if (f.no === 4) return { doubleValue: bytes(f).readDoubleLE(0) };
  }
  return {};
}

function keyValue(buf: Buffer): JsonKeyValue {
  const kv: JsonKeyValue = { key: '' };
  for (const f of fields(buf)) {
    if (f.no === 1) kv.key = bytes(f).toString('utf8');
    else if (f.no === 2) kv.value = anyValue(bytes(f));
  }
  return kv;
}

function span(buf: Buffer): JsonSpan {
  const s: JsonSpan & { attributes: JsonKeyValue[] } = { traceId: '', spanId: '', name: '', attributes: [] };
  for (const f of fields(buf)) {
    if (f.no === 1) s.traceId = bytes(f).toString('hex');
    else if (f.no === 2) s.spanId = bytes(f).toString('hex');
    else if (f.no === 4 && bytes(f).length > 0) s.parentSpanId = bytes(f).toString('hex');
    else if (f.no === 5) s.name = bytes(f).toString('utf8');
    else if (f.no === 6) s.kind = Number(f.value);
    else if (f.no === 7 && bytes(f).length === 8) s.startTimeUnixNano = String(bytes(f).readBigUInt64LE(0));
    else if (f.no === 8 && bytes(f).length === 8) s.endTimeUnixNano = String(bytes(f).readBigUInt64LE(0));
    else if (f.no === 9) s.attributes.push(keyValue(bytes(f)));
  }
  return s;
}

/** Decodes an `ExportTraceServiceRequest` into the OTLP/JSON shape. */
export function decodeTraceRequest(buf: Buffer): TraceRequest {
  const resourceSpans: NonNullable<TraceRequest['resourceSpans']> = [];
  for (const rsField of fields(buf)) {
    if (rsField.no !== 1) continue;
    const attributes: JsonKeyValue[] = [];
    const scopeSpans: { scope: { name?: string }; spans: JsonSpan[] }[] = [];
    for (const f of fields(bytes(rsField))) {
      if (f.no === 1) {
        for (const a of fields(bytes(f))) if (a.no === 1) attributes.push(keyValue(bytes(a)));
      } else if (f.no === 2) {
        const ss: { scope: { name?: string }; spans: JsonSpan[] } = { scope: {}, spans: [] };
        for (const g of fields(bytes(f))) {
          if (g.no === 1) {
            for (const h of fields(bytes(g))) if (h.no === 1) ss.scope.name = bytes(h).toString('utf8');
          } else if (g.no === 2) ss.spans.push(span(bytes(g)));
        }
        scopeSpans.push(ss);
      }
    }
    resourceSpans.push({ resource: { attributes }, scopeSpans });
  }
  return { resourceSpans };
}
