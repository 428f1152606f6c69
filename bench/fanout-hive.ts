/**
 * Hive Gateway (`@graphql-hive/gateway`, and `@graphql-hive/router-runtime` for its Rust planner: dev
 * dependencies for the benchmarks only) serving the same supergraph as our gateway, for the
 * side-by-side runs of `bench/subscription-fanout.ts`, `bench/gateway-deployed.ts` and
 * `bench/trading-orders.ts`.
 *
 * Set up through its programmatic API the way its own CLI does it: `createGatewayRuntime` as the
 * request handler of a Node HTTP server, graphql-ws (`ws`) on the same path with the runtime's
 * `getGraphQLWSOptions`. Subscriptions go to the subgraphs over graphql-ws (`/graphql` of each
 * subgraph's URL), and the client's `connection_init` `authorization` is passed on in the upstream
 * `connection_init`, which is what market-data verifies.
 */
import { readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import type { ServerOptions } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer, type WebSocket } from 'ws';
import { PROJECT_ROOT } from '../lib/config.js';
import { answerCpuRequests } from './child.js';

/**
 * What this file uses of `@graphql-hive/gateway`. The package is loaded by a computed specifier so
 * that its typings stay out of the project's program: they augment `graphql`'s `GraphQLErrorExtensions`
 * (`http.headers` as a plain record), which would break type-checking of code that puts Apollo's
 * `HeaderMap` there.
 */
interface HiveRuntime {
  (req: http.IncomingMessage, res: http.ServerResponse): void;
  fetchAPI: { Request: typeof Request };
  /** Loads the supergraph; HTTP requests do it on their own, graphql-ws operations do not. */
  getSchema(): unknown;
  [Symbol.asyncDispose](): Promise<void>;
}
interface HiveModule {
  createGatewayRuntime: (config: Record<string, unknown>) => HiveRuntime;
  getGraphQLWSOptions: (
    runtime: HiveRuntime,
    onContext: (ctx: {
      extra: { request: http.IncomingMessage; socket: WebSocket };
    }) => Record<string, unknown>,
  ) => ServerOptions;
}
const HIVE_GATEWAY = '@graphql-hive/gateway';
const HIVE_ROUTER_RUNTIME = '@graphql-hive/router-runtime';

/** A running Hive Gateway; `stop()` closes sockets and the runtime. */
export interface HiveGateway {
  url: string;
  stop(): Promise<void>;
}

/** How Hive Gateway runs besides its defaults. */
export interface HiveOptions {
  /** Query planning and execution by the Hive Router runtime (Rust planner; its CLI's `HIVE_ROUTER_RUNTIME`). */
  routerRuntime?: boolean;
  /** Pass the client's `authorization` header on to the subgraphs (every HTTP subgraph verifies it). */
  forwardAuthorization?: boolean;
}

/**
 * Starts Hive Gateway on 127.0.0.1:`port` over the supergraph file at `supergraphPath`.
 * @param supergraphPath a composed supergraph (its subgraph URLs are used as they are)
 * @param headers sent on every subgraph request and upgrade (the ingress credential, lib/ingress)
 */
export async function startHiveGateway(
  supergraphPath: string,
  port: number,
  headers: Record<string, string>,
  opts: HiveOptions = {},
): Promise<HiveGateway> {
  const entries = Object.entries(headers);
  const { createGatewayRuntime, getGraphQLWSOptions } = (await import(HIVE_GATEWAY)) as HiveModule;
  const router = opts.routerRuntime
    ? ((await import(HIVE_ROUTER_RUNTIME)) as { unifiedGraphHandler: unknown })
    : undefined;
  const runtime = createGatewayRuntime({
    supergraph: supergraphPath,
    ...(router ? { unifiedGraphHandler: router.unifiedGraphHandler } : {}),
    ...(opts.forwardAuthorization
      ? {
          propagateHeaders: {
            fromClientToSubgraphs: ({ request }: { request: Request }) => ({
              authorization: request.headers.get('authorization'),
            }),
          },
        }
      : {}),
    logging: 'error',
    graphqlEndpoint: '/graphql',
    transportEntries: {
      // Every HTTP subgraph: subscriptions over graphql-ws on the subgraph's own /graphql.
      '*.http': {
        headers: entries,
        options: {
          subscriptions: {
            kind: 'ws',
            location: '/graphql',
            headers: entries,
            options: {
              connectionParams: { authorization: '{context.connectionParams.authorization}' },
            },
          },
        },
      },
    },
  });
  await runtime.getSchema();
  const server = http.createServer(runtime);
  const wss = new WebSocketServer({ server, path: '/graphql' });
  const disposable = useServer(
    getGraphQLWSOptions(runtime, (ctx) => ({
      req: ctx.extra.request,
      socket: ctx.extra.socket,
      // The runtime reads headers from a Fetch API request; the upgrade request carries none we need.
      request: new runtime.fetchAPI.Request(`http://127.0.0.1:${port}/graphql`),
    })),
    wss,
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    async stop() {
      await disposable.dispose();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await runtime[Symbol.asyncDispose]();
    },
  };
}

/** Subgraph names of the committed supergraph, their default port, and the variable that moves it. */
const SUBGRAPH_PORTS: [number, string][] = [
  [8001, 'AUTH_PORT'],
  [8002, 'SESSIONS_PORT'],
  [8003, 'TENANTS_PORT'],
  [8004, 'TRADING_PORT'],
  [8005, 'MARKET_DATA_PORT'],
  [8006, 'ANALYTICS_PORT'],
];

/**
 * The committed supergraph with the subgraph URLs of a run (its port variables, `vars`), written to
 * `dir/supergraph.graphql`: what Hive serves, the same composition as our gateway. Returns its path.
 */
export async function writeRunSupergraph(
  vars: Readonly<Record<string, string>>,
  dir: string,
): Promise<string> {
  let sdl = await readFile(path.join(PROJECT_ROOT, 'schema/supergraph.graphql'), 'utf8');
  for (const [port, name] of SUBGRAPH_PORTS) {
    sdl = sdl.replaceAll(`http://127.0.0.1:${port}/graphql`, `http://127.0.0.1:${vars[name]}/graphql`);
  }
  const file = path.join(dir, 'supergraph.graphql');
  await writeFile(file, sdl);
  return file;
}

/**
 * A bench child's entry for Hive Gateway: `--hive <supergraph> <port> <default|router> <headers.json>`
 * (bench/proc-cpu.ts labels the process `hive default` or `hive router` from these arguments). Serves
 * until SIGTERM, forwarding the client's `authorization` and sending the headers of `headers.json`
 * (the ingress credential) to every subgraph; announces `ready` and answers CPU requests (bench/child.ts).
 */
export async function hiveChild(args: readonly string[]): Promise<void> {
  const [supergraph = '', port = '0', runtime = 'default', headersFile = ''] = args;
  const headers = JSON.parse(await readFile(headersFile, 'utf8')) as Record<string, string>;
  const hive = await startHiveGateway(supergraph, Number(port), headers, {
    routerRuntime: runtime === 'router',
    forwardAuthorization: true,
  });
  answerCpuRequests();
  process.stdout.write('ready\n');
  process.on('SIGTERM', () => {
    void hive.stop().finally(() => process.exit(0));
  });
}
