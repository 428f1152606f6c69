/**
 * GraphiQL served from the gateway's own assets (node_modules), so it works with no internet and
 * under a CSP that allows only 'self': no inline script or style, no CDN. The page's script lives
 * in {@link GRAPHIQL_INIT_JS} and is served as a file like the others.
 */
import path from 'node:path';
import { PROJECT_ROOT } from '../../../lib/config.js';
import { SCHEMA_PATH } from './graphiql.schema.js';

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
 * while no token follows `Bearer `, the header is left out so anonymous requests (register, login)
 * still work.
 *
 * The schema comes from `/graphiql/schema` (GraphiQL's introspection request is answered from there),
 * not from introspection over /graphql, which production turns off. When the page says the schema is
 * for signed-in users (`data-schema-access` on body), GraphiQL is given no schema until the headers
 * carry a token, and a "Sign in" panel says how to get one; a new token reloads the schema.
 */
export const GRAPHIQL_INIT_JS = `(function () {
  'use strict';
  var h = React.createElement;
  var GR = GraphiQL.React;
  var endpoint = new URL('/graphql', window.location.href).toString();
  var wsEndpoint = endpoint.replace(/^http/, 'ws');
  var schemaUrl = new URL('${SCHEMA_PATH}', window.location.href).toString();
  var SCHEMA_QUERY_NAME = 'GraphiQLSchema';
  var EMPTY_BEARER = /^Bearer\\s*$/i;
  var schemaOpen = document.body.getAttribute('data-schema-access') === 'open';
  var LOGIN_MUTATION = [
    '# Fill in your email and password,',
    '# run, then press "Use the token from',
    '# the result" in the Sign in panel.',
    'mutation Login {',
    '  login(input: { email: "you@example.com", password: "your password" }) {',
    '    accessToken',
    '    expiresAt',
    '  }',
    '}',
    '',
  ].join('\\n');

  function withoutEmptyAuthorization(headers) {
    var out = {};
    Object.keys(headers || {}).forEach(function (name) {
      var value = headers[name];
      if (name.toLowerCase() === 'authorization' && (typeof value !== 'string' || EMPTY_BEARER.test(value.trim()))) return;
      out[name] = value;
    });
    return out;
  }

  function authorizationOf(headers) {
    var clean = withoutEmptyAuthorization(headers);
    var found;
    Object.keys(clean).forEach(function (name) {
      if (name.toLowerCase() === 'authorization') found = clean[name];
    });
    return found;
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

  // What the page knows of the session: the Authorization of the headers editor, and the last
  // accessToken a result carried (login, register, refreshToken), offered to the user by the panel.
  var session = { authorization: undefined, resultToken: undefined };
  var listeners = [];
  function updateSession(patch) {
    Object.assign(session, patch);
    listeners.slice().forEach(function (fn) { fn(); });
  }
  function useSession() {
    var pair = React.useState(0);
    var bump = pair[1];
    React.useEffect(function () {
      var fn = function () { bump(function (n) { return n + 1; }); };
      listeners.push(fn);
      return function () { listeners.splice(listeners.indexOf(fn), 1); };
    }, []);
    return session;
  }

  var headerTimer;
  function onEditHeaders(text) {
    clearTimeout(headerTimer);
    // Waits for typing to pause, so a token typed by hand is not tried one character at a time.
    headerTimer = setTimeout(function () {
      var parsed;
      try { parsed = JSON.parse(text || '{}'); } catch (e) { return; }
      updateSession({ authorization: authorizationOf(parsed) });
    }, 400);
  }

  function noticeToken(result) {
    var data = result && result.data;
    if (!data || typeof data !== 'object') return;
    Object.keys(data).forEach(function (field) {
      var value = data[field];
      if (value && typeof value.accessToken === 'string') updateSession({ resultToken: value.accessToken });
    });
  }

  function fetchSchema(opts) {
    var authorization = authorizationOf(opts && opts.headers);
    return window
      .fetch(schemaUrl, { headers: authorization ? { Authorization: authorization } : {} })
      .then(function (res) { return res.json(); })
      .then(function (body) {
        // A refusal gets data: null, so GraphiQL shows its message rather than retrying another query.
        return body && 'data' in body ? body : { data: null, errors: (body && body.errors) || [] };
      });
  }

  var httpFetcher = GraphiQL.createFetcher({
    url: endpoint,
    // Plain JSON answers (the gateway has no @defer/@stream), so a result can be read for its token.
    enableIncrementalDelivery: false,
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
    if (params.operationName === SCHEMA_QUERY_NAME) return fetchSchema(opts);
    if (window.graphqlWs && operationType(params) === 'subscription') {
      var client = wsClientFor(authorizationOf(opts && opts.headers));
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
    var pending = httpFetcher(params, opts);
    Promise.resolve(pending).then(noticeToken, function () {});
    return pending;
  }

  function SignInIcon() {
    return h(
      'svg',
      { viewBox: '0 0 24 24', fill: 'none', stroke: 'currentColor', strokeWidth: 1.5, 'aria-hidden': 'true' },
      h('circle', { cx: 8, cy: 15, r: 4 }),
      h('path', { d: 'M11 12l9-9M16 7l3 3M18 5l2 2' }),
    );
  }

  function schemaStatus(schemaContext, signedIn) {
    if (schemaContext.isFetching) return 'Loading the schema…';
    // Before the schema: a failed reload keeps the previous schema, and the failure must show.
    if (schemaContext.fetchError) return 'The schema could not be loaded; the result pane says why.';
    if (schemaContext.schema) {
      var query = schemaContext.schema.getQueryType();
      var count = query ? Object.keys(query.getFields()).length : 0;
      return 'Schema loaded (' + count + ' queries): open Docs to browse it.';
    }
    return signedIn ? 'No schema loaded yet.' : 'Signed out: no schema loaded.';
  }

  function SignInPanel() {
    var current = useSession();
    var editors = GR.useEditorContext({ nonNull: true });
    var schemaContext = GR.useSchemaContext({ nonNull: true });
    var signedIn = Boolean(current.authorization);
    var tokenInResult = current.resultToken && current.authorization !== 'Bearer ' + current.resultToken;
    function useToken() {
      editors.headerEditor.setValue(JSON.stringify({ Authorization: 'Bearer ' + current.resultToken }, null, 2));
    }
    function openLogin() {
      editors.queryEditor.setValue(LOGIN_MUTATION);
    }
    return h(
      'section',
      { className: 'ts-signin', 'aria-label': 'Sign in' },
      h('div', { className: 'graphiql-doc-explorer-title' }, 'Sign in'),
      h(
        'p',
        null,
        schemaOpen
          ? 'The schema is open on this server. Most queries still need an access token.'
          : 'The schema and its documentation (Docs) are shown to signed-in users. To sign in:',
      ),
      h(
        'ol',
        null,
        h(
          'li',
          null,
          'Run the ',
          h('code', null, 'login'),
          ' mutation with your email and password (',
          h('code', null, 'register'),
          ' creates an account).',
          h('button', { type: 'button', className: 'graphiql-button', onClick: openLogin }, 'Put login in the editor'),
        ),
        h(
          'li',
          null,
          'Put the ',
          h('code', null, 'accessToken'),
          ' of the result after ',
          h('code', null, 'Bearer '),
          ' in the Headers tab, or paste a token you have.',
          tokenInResult
            ? h('button', { type: 'button', className: 'graphiql-button', onClick: useToken }, 'Use the token from the result')
            : null,
        ),
        h(
          'li',
          null,
          'The schema then loads into Docs by itself. To load it again (',
          h('kbd', null, 'Ctrl'),
          '+',
          h('kbd', null, 'Shift'),
          '+',
          h('kbd', null, 'R'),
          '):',
          h(
            'button',
            {
              type: 'button',
              className: 'graphiql-button',
              // Nothing to load while signed out (GraphiQL has been told there is no schema).
              disabled: !(signedIn || schemaOpen),
              onClick: function () { schemaContext.introspect(); },
            },
            'Reload schema',
          ),
        ),
      ),
      h('p', { className: 'ts-signin-status', role: 'status' }, schemaStatus(schemaContext, signedIn)),
    );
  }

  var SIGN_IN_PLUGIN = { title: 'Sign in', icon: SignInIcon, content: SignInPanel };
  var PLUGINS = [SIGN_IN_PLUGIN];

  // Reloads the schema when the token changes from one to another (from none to one, the schema
  // prop changing from null does it).
  function SchemaSync(props) {
    var schemaContext = GR.useSchemaContext({ nonNull: true });
    var previous = React.useRef(props.authorization);
    React.useEffect(function () {
      var before = previous.current;
      previous.current = props.authorization;
      if (before && props.authorization && before !== props.authorization) schemaContext.introspect();
    }, [props.authorization]);
    return null;
  }

  function App() {
    var current = useSession();
    var signedIn = Boolean(current.authorization);
    // Mirrors GraphiQL's own choice, so passing it back on every render never overrides the user's.
    var visible = React.useState(schemaOpen ? undefined : SIGN_IN_PLUGIN);
    return h(
      GraphiQL,
      {
        fetcher: fetcher,
        // null: no schema and no request for one; undefined: GraphiQL asks the fetcher for it.
        schema: schemaOpen || signedIn ? undefined : null,
        introspectionQueryName: SCHEMA_QUERY_NAME,
        plugins: PLUGINS,
        visiblePlugin: visible[0],
        onTogglePluginVisibility: visible[1],
        onEditHeaders: onEditHeaders,
        defaultHeaders: JSON.stringify({ Authorization: 'Bearer ' }, null, 2),
        isHeadersEditorEnabled: true,
        shouldPersistHeaders: false,
        defaultEditorToolsVisibility: 'headers',
        // Anonymous on purpose: GraphiQL picks up a renamed operation after a short debounce, and a
        // stale default name would be sent with a query typed and run at once.
        defaultQuery: [
          '# TradeSage GraphQL API.',
          '# Most requests need an access token',
          '# in the Headers tab: the Sign in',
          '# panel (key icon, left) says how.',
          '',
          '{',
          '  me {',
          '    id',
          '    email',
          '  }',
          '}',
          '',
        ].join('\\n'),
      },
      h(GraphiQL.Footer, null, h(SchemaSync, { authorization: current.authorization })),
    );
  }

  ReactDOM.createRoot(document.getElementById('graphiql')).render(h(App));
})();
`;

const PAGE_CSS = `html, body { height: 100%; margin: 0; overflow: hidden; }
#graphiql { height: 100vh; }
.ts-signin { font-size: var(--font-size-body); line-height: var(--line-height); }
.ts-signin ol { padding-left: 1.2em; }
.ts-signin li { margin-bottom: var(--px-12); }
.ts-signin code, .ts-signin kbd { font-family: var(--font-family-mono); font-size: 0.9em; }
.ts-signin li > .graphiql-button { display: block; margin-top: var(--px-8); }
.ts-signin .graphiql-button:disabled { opacity: 0.5; cursor: default; }
.ts-signin-status { color: hsla(var(--color-neutral), var(--alpha-secondary)); }
.graphiql-footer:empty { display: none; }
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
    text: PAGE_CSS,
    type: 'text/css; charset=utf-8',
  },
  'graphiql-init.js': { text: GRAPHIQL_INIT_JS, type: 'text/javascript; charset=utf-8' },
};

/** Who may read the schema: anyone (introspection on), or signed-in users only. */
export type SchemaAccess = 'open' | 'signed-in';

/** The HTML page; everything it loads is listed in {@link GRAPHIQL_ASSETS}. */
export const graphiqlHtml = (schemaAccess: SchemaAccess): string => `<!doctype html>
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
  <body data-schema-access="${schemaAccess}">
    <div id="graphiql">Loading GraphiQL…</div>
    <script src="${ASSETS_PATH}/react.production.min.js"></script>
    <script src="${ASSETS_PATH}/react-dom.production.min.js"></script>
    <script src="${ASSETS_PATH}/graphql-ws.min.js"></script>
    <script src="${ASSETS_PATH}/graphiql.min.js"></script>
    <script src="${ASSETS_PATH}/graphiql-init.js"></script>
  </body>
</html>
`;
