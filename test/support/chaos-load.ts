/**
 * The load of the chaos tests, through the cluster's entry like real clients: traders placing market
 * orders and retrying each intent with the same clientOrderId on transport errors, and graphql-ws
 * subscribers that reconnect with the client's own retry. Everything is recorded for the checks.
 */
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { ErrorCode } from '../../lib/errors.js';

/** One acknowledged order intent. */
export interface Ack {
  accountId: string;
  clientOrderId: string;
  orderId: string;
  /** Attempts it took (1: no retry). */
  attempts: number;
}

/** A POST to the entry; undefined on a transport error or a non-GraphQL answer (HAProxy's 503). */
export async function post<T>(
  url: string,
  query: string,
  variables: Record<string, unknown>,
  token?: string,
): Promise<{ data?: T; errors?: { message: string; extensions?: { code?: string } }[] } | undefined> {
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query, variables }),
      signal: AbortSignal.timeout(20_000),
    });
    if (!(res.headers.get('content-type') ?? '').includes('json')) {
      await res.body?.cancel();
      return undefined;
    }
    return (await res.json()) as { data?: T; errors?: { message: string; extensions?: { code?: string } }[] };
  } catch {
    return undefined;
  }
}

const PLACE = `mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { id status } }`;
/** Codes a client retries (the same intent): the platform was briefly unable to answer. */
const RETRYABLE = new Set<string>([ErrorCode.Internal, ErrorCode.RateLimited]);

/** A trader: places market orders one after another until `stop()`; every intent ends acknowledged. */
export function startTrader(
  url: string,
  token: string,
  accountId: string,
  name: string,
  acks: Ack[],
): { stop(): Promise<void> } {
  let running = true;
  const loop = (async (): Promise<void> => {
    for (let n = 0; running; n++) {
      const clientOrderId = `${name}-${n}`;
      const input = { accountId, clientOrderId, symbol: 'AAPL', side: 'BUY', type: 'MARKET', quantity: '1' };
      for (let attempt = 1; ; attempt++) {
        const r = await post<{ placeOrder: { id: string } }>(url, PLACE, { i: input }, token);
        const code = r?.errors?.[0]?.extensions?.code;
        if (r?.data?.placeOrder) {
          acks.push({ accountId, clientOrderId, orderId: r.data.placeOrder.id, attempts: attempt });
          break;
        }
        if (r && code && !RETRYABLE.has(code))
          throw new Error(`order ${clientOrderId}: ${code} ${r.errors?.[0]?.message}`);
        if (attempt > 600) throw new Error(`order ${clientOrderId} never acknowledged`);
        await new Promise((res) => setTimeout(res, 100));
      }
      await new Promise((res) => setTimeout(res, 50));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
    },
  };
}

/** A subscriber that reconnects forever; `events` are what it received, with the time. */
export interface Subscriber {
  events: { at: number; data: Record<string, unknown> }[];
  /** Times the socket (re)connected. */
  connects: number[];
  dispose(): Promise<void>;
}

/** Subscribes with graphql-ws' own retry (immediate reconnects, any close retried). */
export function subscribe(
  wsUrl: string,
  token: string,
  query: string,
  variables: Record<string, unknown>,
): Subscriber {
  const sub: Subscriber = { events: [], connects: [], dispose: () => Promise.resolve() };
  const client: Client = createClient({
    url: wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${token}` },
    lazy: false,
    retryAttempts: Number.MAX_SAFE_INTEGER,
    shouldRetry: () => true,
    retryWait: () => new Promise((res) => setTimeout(res, 100 + Math.random() * 200)),
    on: { connected: () => sub.connects.push(Date.now()) },
  });
  let stop: () => void = () => undefined;
  let disposed = false;
  // A subscription the server ends (an upstream replica went away) is started again, as an app would.
  const start = (): void => {
    stop = client.subscribe<Record<string, unknown>>(
      { query, variables },
      {
        next: (r) => {
          if (r.data) sub.events.push({ at: Date.now(), data: r.data });
        },
        error: () => again(),
        complete: () => again(),
      },
    );
  };
  const again = (): void => {
    if (!disposed) setTimeout(start, 200);
  };
  start();
  sub.dispose = async () => {
    disposed = true;
    stop();
    await client.dispose();
  };
  return sub;
}

/**
 * True when process `pid` holds an established TCP connection to 127.0.0.1:`port` (its socket inodes,
 * matched against /proc/net/tcp): how the chaos test finds the worker talking to the MA130.
 */
export async function connectedTo(pid: number, port: number): Promise<boolean> {
  const { readdir, readlink, readFile } = await import('node:fs/promises');
  const inodes = new Set<string>();
  for (const fd of await readdir(`/proc/${pid}/fd`).catch(() => [])) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    const m = /^socket:\[(\d+)\]$/.exec(target);
    if (m?.[1]) inodes.add(m[1]);
  }
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const table = await readFile('/proc/net/tcp', 'utf8').catch(() => '');
  return table.split('\n').some((line) => {
    const cols = line.trim().split(/\s+/);
    // cols: sl local_address rem_address st ... inode(9); st 01 = ESTABLISHED
    return cols[2]?.endsWith(`:${hexPort}`) === true && cols[3] === '01' && inodes.has(cols[9] ?? '');
  });
}
