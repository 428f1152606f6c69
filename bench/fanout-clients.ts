/**
 * The subscriber processes of bench/subscription-fanout.ts: a lean graphql-ws client (the
 * `graphql-transport-ws` protocol spoken directly on `ws`, one socket and one subscription per token),
 * so that the load generator costs a few µs per message instead of the `graphql-ws` client's full
 * parse and is not what limits the run. The parent drives the phases over IPC:
 * `connect` (every socket acknowledged, each holding one subscription on a symbol without ticks: the
 * idle subscriber), `subscribe` (that subscription is completed and the feed's is started), `start` /
 * `stop` (count deliveries, then report).
 */
import { WebSocket } from 'ws';

/** Latency histogram: 0.1 ms buckets up to 30 s (the last bucket collects anything slower). */
export const BUCKET_MS = 0.1;
export const BUCKETS = 300_000;

const QUERY = `subscription Prices($symbols: [ID!]!) {
  priceUpdated(symbols: $symbols) { symbol price timestamp instrument { name } }
}`;

/** What one subscriber process is given (a JSON file). */
export interface ClientSpec {
  url: string;
  tokens: string[];
  /** Source address of this process' sockets (a loopback address of its own: its own ports). */
  localAddress: string;
  /** A catalog symbol the feed never ticks: the idle subscription. */
  idleSymbol: string;
  /** The feed's symbols; subscriber `i` names `perSubscriber` of them, from `i * perSubscriber` on. */
  symbols: string[];
  perSubscriber: number;
  /** Handshakes in flight at once in this process. */
  concurrency: number;
  /** Only the first subscriber process records which ticks exist (to count what was due). */
  recordTicks: boolean;
}

/** Sent once every socket is acknowledged (or the phase timed out). */
export interface ConnectReport {
  acked: number;
  /** ms from the `connect` order to the last acknowledgement. */
  lastAckMs: number;
  /** Sockets opened (retries after a close included). */
  attempts: number;
}

export interface ClientReport {
  received: number;
  histogram: number[];
  maxMs: number;
  errors: number;
  closed: number;
  /** Distinct ticks (symbol + timestamp) seen by the first subscriber while counting. */
  ticks: number;
  /** CPU this subscriber process used while counting (µs). */
  cpuUs: number;
  errorSamples: string[];
}

type Phase = 'idle' | 'feed';

interface Sub {
  i: number;
  token: string;
  ws: WebSocket | undefined;
  acked: boolean;
  /** The subscription currently held: `idle` or `feed`. */
  phase: Phase | undefined;
  started: boolean;
  attempts: number;
}

const cpu = (): number => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

/** Runs one subscriber process on the spec in `file`; see the module comment. */
export async function runSubscribers(spec: ClientSpec): Promise<void> {
  const histogram = new Uint32Array(BUCKETS);
  let counting = false;
  let received = 0;
  let maxMs = 0;
  let errors = 0;
  let closed = 0;
  const errorSamples: string[] = [];
  const ticks = new Set<string>();
  const closeCodes = new Map<number, number>();
  let want: Phase = 'idle';
  let acked = 0;
  let started = 0;
  let t0 = 0;
  let lastAck = 0;
  let onAcked: (() => void) | undefined;
  let onStarted: (() => void) | undefined;
  const subs: Sub[] = spec.tokens.map((token, i) => ({
    i,
    token,
    ws: undefined,
    acked: false,
    phase: undefined,
    started: false,
    attempts: 0,
  }));
  const sample = (s: string): void => {
    errors++;
    if (errorSamples.length < 3) errorSamples.push(s.slice(0, 300));
  };
  const symbolsOf = (i: number): string[] =>
    Array.from(
      { length: spec.perSubscriber },
      (_x, k) => spec.symbols[(i * spec.perSubscriber + k) % spec.symbols.length] ?? '',
    );

  const subscribe = (s: Sub, phase: Phase): void => {
    const variables = { symbols: phase === 'idle' ? [spec.idleSymbol] : symbolsOf(s.i) };
    s.ws?.send(JSON.stringify({ id: phase, type: 'subscribe', payload: { query: QUERY, variables } }));
    s.phase = phase;
  };

  // Handshakes are bounded in flight, as a fleet of clients reconnecting after a gateway restart.
  const queue: Sub[] = [...subs];
  let inFlight = 0;
  const pump = (): void => {
    while (inFlight < spec.concurrency && queue.length > 0) {
      const s = queue.shift();
      if (s) open(s);
    }
  };
  const handshakeDone = (): void => {
    inFlight--;
    pump();
  };

  const onNext = (s: Sub, text: string): void => {
    const now = performance.timeOrigin + performance.now();
    if (!s.started) {
      s.started = true;
      if (++started === subs.length) onStarted?.();
    }
    if (!counting) return;
    // The frame is `{"id":"feed","type":"next","payload":{"data":{"priceUpdated":{...}}}}`: only the
    // timestamp (and, for the first subscriber, the symbol) is read, without parsing the whole frame.
    const at = text.indexOf('"timestamp":"');
    if (at < 0) {
      sample(text);
      return;
    }
    const from = at + 13;
    const ts = text.slice(from, text.indexOf('"', from));
    received++;
    const ms = now - Date.parse(ts);
    if (ms > maxMs) maxMs = ms;
    const bucket = Math.min(BUCKETS - 1, Math.max(0, Math.floor(ms / BUCKET_MS)));
    histogram[bucket] = (histogram[bucket] ?? 0) + 1;
    if (spec.recordTicks && s.i === 0) {
      const sy = text.indexOf('"symbol":"');
      ticks.add(`${text.slice(sy + 10, text.indexOf('"', sy + 10))}@${ts}`);
    }
  };

  let attempts = 0;
  const open = (s: Sub): void => {
    inFlight++;
    attempts++;
    let settled = false;
    const settle = (): void => {
      if (settled) return;
      settled = true;
      handshakeDone();
    };
    const ws = new WebSocket(spec.url, 'graphql-transport-ws', {
      localAddress: spec.localAddress,
      perMessageDeflate: false,
      skipUTF8Validation: true,
    });
    s.ws = ws;
    ws.on('open', () => {
      ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${s.token}` } }));
    });
    ws.on('message', (data: Buffer) => {
      const text = data.toString();
      // `next` frames are by far the most; everything else is parsed.
      if (text.startsWith('{"id":"feed","type":"next"')) {
        onNext(s, text);
        return;
      }
      const m = JSON.parse(text) as { type?: string; id?: string; payload?: unknown };
      if (m.type === 'connection_ack') {
        s.acked = true;
        settle();
        lastAck = performance.now();
        if (++acked === subs.length) onAcked?.();
        subscribe(s, want);
      } else if (m.type === 'ping') {
        ws.send('{"type":"pong"}');
      } else if (m.type === 'next' && m.id === 'feed') {
        onNext(s, text);
      } else if (m.type === 'error' || m.type === 'next') {
        sample(text);
      }
    });
    ws.on('error', () => undefined); // followed by 'close'
    ws.on('close', (code: number) => {
      settle();
      if (s.ws !== ws || stopping) return;
      closed++;
      closeCodes.set(code, (closeCodes.get(code) ?? 0) + 1);
      if (s.acked) acked--;
      s.acked = false;
      s.ws = undefined;
      // Real clients reconnect (4408 handshake timeouts, 1006 under load); at most 5 times each.
      if (++s.attempts <= 5) {
        setTimeout(() => {
          queue.push(s);
          pump();
        }, 1000);
      }
    });
  };

  let stopping = false;
  const waitFor = (done: () => boolean, set: (f: () => void) => void, ms: number): Promise<void> =>
    done()
      ? Promise.resolve()
      : Promise.race([new Promise<void>((r) => set(r)), new Promise<void>((r) => setTimeout(r, ms))]);

  let cpu0 = 0;
  process.on('message', (m) => {
    if (m === 'connect') {
      t0 = performance.now();
      pump();
      void waitFor(
        () => acked === subs.length,
        (f) => (onAcked = f),
        90_000,
      ).then(() => {
        if (acked < subs.length) {
          process.stderr.write(
            `subscribers: ${acked}/${subs.length} connected after 90 s; ${errorSamples.join(' | ')}\n`,
          );
        }
        const report: ConnectReport = { acked, lastAckMs: lastAck - t0, attempts };
        process.send?.(report);
      });
    } else if (m === 'subscribe') {
      want = 'feed';
      for (const s of subs) {
        if (!s.acked || !s.ws) continue;
        s.ws.send('{"id":"idle","type":"complete"}');
        subscribe(s, 'feed');
      }
      void waitFor(
        () => started === subs.length,
        (f) => (onStarted = f),
        90_000,
      ).then(() => {
        if (started < subs.length) {
          process.stderr.write(`subscribers: ${started}/${subs.length} started after 90 s\n`);
        }
        process.send?.({ started });
      });
    } else if (m === 'start') {
      counting = true;
      cpu0 = cpu();
    } else if (m === 'stop') {
      counting = false;
      const report: ClientReport = {
        received,
        histogram: [...histogram],
        maxMs,
        errors,
        closed,
        ticks: ticks.size,
        cpuUs: cpu() - cpu0,
        errorSamples: [
          ...errorSamples,
          ...(closeCodes.size > 0
            ? [`sockets closed by code: ${[...closeCodes].map(([c, n]) => `${c} x${n}`).join(', ')}`]
            : []),
        ],
      };
      stopping = true;
      process.send?.(report, () => {
        for (const s of subs) s.ws?.close(1000);
        setTimeout(() => process.exit(0), 500);
      });
    }
  });
  process.send?.('ready');
  await new Promise<never>(() => undefined);
}
