/**
 * GraphiQL served from the gateway's own assets (node_modules), so it works with no internet and
 * under a CSP that allows only 'self': no inline script or style, no CDN. The page's script lives
 * in {@link GRAPHIQL_INIT_JS} and is served as a file like the others.
 */
import path from 'node:path';
import { PROJECT_ROOT } from '../../../lib/config.js';

/** URL prefix of the assets. */
export const ASSETS_PATH = '/graphiql/assets';

/**
 * The page's policy: scripts, styles and connections to this origin only ('self' covers ws: on the
 * same host for subscriptions); GraphiQL's CSS embeds its fonts and icons as data: URIs. Nothing else
 * is needed: no 'unsafe-inline', no 'unsafe-eval'.
 */
export const GRAPHIQL_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * Starts GraphiQL against `/graphql` on this origin. Queries and mutations go over HTTP; subscriptions
 * over graphql-ws on the same path, one socket per Authorization value, which travels in
 * `connection_init` (`{ Authorization }`). The headers editor starts with `Authorization: Bearer `;
 * while no token follows `Bearer `, the header is left out so anonymous requests (register, login,
 * the schema's introspection) still work.
 */
export const GRAPHIQL_INIT_JS = `(function () {
  'use strict';
  var endpoint = new URL('/graphql', window.location.href).toString();
  var wsEndpoint = endpoint.replace(/^http/, 'ws');
  var EMPTY_BEARER = /^Bearer\\s*$/i;

  function withoutEmptyAuthorization(headers) {
    var out = {};
    Object.keys(headers || {}).forEach(function (name) {
      var value = headers[name];
      if (name.toLowerCase() === 'authorization' && (typeof value !== 'string' || EMPTY_BEARER.test(value.trim()))) return;
      out[name] = value;
    });
    return out;
  }

  function operationType(params) {
    try {
      var doc = GraphiQL.GraphQL.parse(params.query);
      var ops = doc.definitions.filter(function (d) { return d.kind === 'OperationDefinition'; });
      var op = params.operationName
        ? ops.filter(function (d) { return d.name && d.name.value === params.operationName; })[0]
        : ops[0];
      return op ? op.operation : 'query';
    } catch (e) {
      return 'query';
    }
  }

  var httpFetcher = GraphiQL.createFetcher({
    url: endpoint,
    fetch: function (input, init) {
      var next = Object.assign({}, init, { headers: withoutEmptyAuthorization(init && init.headers) });
      return window.fetch(input, next);
    },
  });

  var wsClients = {};
  function wsClientFor(authorization) {
    var key = authorization || '';
    if (!wsClients[key]) {
      wsClients[key] = window.graphqlWs.createClient({
        url: wsEndpoint,
        lazy: true,
        connectionParams: authorization ? { Authorization: authorization } : {},
      });
    }
    return wsClients[key];
  }

  function fetcher(params, opts) {
    if (window.graphqlWs && operationType(params) === 'subscription') {
      var headers = withoutEmptyAuthorization(opts && opts.headers);
      var client = wsClientFor(headers.Authorization || headers.authorization);
      return {
        subscribe: function (observer) {
          var dispose = client.subscribe(params, {
            next: function (value) { observer.next(value); },
            error: function (err) { observer.error(err); },
            complete: function () { observer.complete(); },
          });
          return { unsubscribe: dispose };
        },
      };
    }
    return httpFetcher(params, opts);
  }

  var root = ReactDOM.createRoot(document.getElementById('graphiql'));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultHeaders: JSON.stringify({ Authorization: 'Bearer ' }, null, 2),
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: false,
      defaultEditorToolsVisibility: 'headers',
      // Anonymous on purpose: GraphiQL picks up a renamed operation after a short debounce, and a
      // stale default name would be sent with a query typed and run at once.
      defaultQuery: '# TradeSage supergraph. Paste an access token after "Bearer " in the Headers tab.\\n\\n{\\n  me {\\n    id\\n    email\\n  }\\n}\\n',
    }),
  );
})();
`;

/** Files the page loads, by the name it uses; nothing outside this table is served. */
export const GRAPHIQL_ASSETS: Record<
  string,
  { file: string; type: string } | { text: string; type: string }
> = {
  'react.production.min.js': {
    file: path.join(PROJECT_ROOT, 'node_modules/react/umd/react.production.min.js'),
    type: 'text/javascript; charset=utf-8',
  },
  'react-dom.production.min.js': {
    file: path.join(PROJECT_ROOT, 'node_modules/react-dom/umd/react-dom.production.min.js'),
    type: 'text/javascript; charset=utf-8',
  },
  'graphql-ws.min.js': {
    file: path.join(PROJECT_ROOT, 'node_modules/graphql-ws/umd/graphql-ws.min.js'),
    type: 'text/javascript; charset=utf-8',
  },
  'graphiql.min.js': {
    file: path.join(PROJECT_ROOT, 'node_modules/graphiql/graphiql.min.js'),
    type: 'text/javascript; charset=utf-8',
  },
  'graphiql.min.css': {
    file: path.join(PROJECT_ROOT, 'node_modules/graphiql/graphiql.min.css'),
    type: 'text/css; charset=utf-8',
  },
  'page.css': {
    text: 'html, body { height: 100%; margin: 0; overflow: hidden; } #graphiql { height: 100vh; }\n',
    type: 'text/css; charset=utf-8',
  },
  'graphiql-init.js': { text: GRAPHIQL_INIT_JS, type: 'text/javascript; charset=utf-8' },
};

/** The HTML page; everything it loads is listed in {@link GRAPHIQL_ASSETS}. */
export const GRAPHIQL_HTML = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <meta name="robots" content="noindex" />
    <link rel="icon" href="data:," />
    <title>TradeSage GraphiQL</title>
    <link rel="stylesheet" href="${ASSETS_PATH}/graphiql.min.css" />
    <link rel="stylesheet" href="${ASSETS_PATH}/page.css" />
  </head>
  <body>
    <div id="graphiql">Loading GraphiQL…</div>
    <script src="${ASSETS_PATH}/react.production.min.js"></script>
    <script src="${ASSETS_PATH}/react-dom.production.min.js"></script>
    <script src="${ASSETS_PATH}/graphql-ws.min.js"></script>
    <script src="${ASSETS_PATH}/graphiql.min.js"></script>
    <script src="${ASSETS_PATH}/graphiql-init.js"></script>
  </body>
</html>
`;
