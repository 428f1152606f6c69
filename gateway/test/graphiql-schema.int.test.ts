/**
 * `GET /graphiql/schema` over HTTP, with real Redis and a real JWKS: in production (introspection
 * off) introspection over /graphql stays refused to everyone (saying where the schema is), the schema document is refused to
 * anonymous callers and bad tokens, and served to a verified token as the API schema of the
 * committed supergraph; with introspection on it is open and equals what introspection answers.
 */
import { gunzipSync } from 'node:zlib';
import path from 'node:path';
import { buildClientSchema, getIntrospectionQuery, printSchema, type IntrospectionQuery } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../lib/config.js';
import { createTestEnv, type TestEnv } from '../../test/support/env.js';
import { createGateway, type GatewayService } from '../src/gateway.js';
import { post, startEchoWorld, type EchoWorld } from './support/harness.js';

const COMMITTED_SUPERGRAPH = path.join(PROJECT_ROOT, 'schema', 'supergraph.graphql');
const INTROSPECTION = getIntrospectionQuery({
  descriptions: true,
  specifiedByUrl: true,
  directiveIsRepeatable: true,
  schemaDescription: true,
  inputValueDeprecation: true,
});

let env: TestEnv;
let world: EchoWorld;
let production: GatewayService;
let development: GatewayService;
let prodUrl: string;
let devUrl: string;

beforeAll(async () => {
  env = await createTestEnv('gateway_graphiql_schema');
  world = await startEchoWorld(env);
  production = createGateway({
    ...world.config,
    SUPERGRAPH_PATH: COMMITTED_SUPERGRAPH,
    NODE_ENV: 'production',
    isProduction: true,
    introspection: false,
  });
  ({ url: prodUrl } = await production.start());
  development = createGateway({ ...world.config, introspection: true });
  ({ url: devUrl } = await development.start());
});

afterAll(async () => {
  await production?.stop();
  await development?.stop();
  await world?.stop();
  await env?.cleanup();
});

interface SchemaAnswer {
  status: number;
  headers: Headers;
  body: { data?: IntrospectionQuery; errors?: { message: string; extensions?: Record<string, unknown> }[] };
}

async function getSchema(base: string, headers: Record<string, string> = {}): Promise<SchemaAnswer> {
  const res = await fetch(`${base}/graphiql/schema`, { headers });
  return { status: res.status, headers: res.headers, body: (await res.json()) as SchemaAnswer['body'] };
}

const queryFields = (schema: IntrospectionQuery): string[] => {
  const query = schema.__schema.types.find((t) => t.name === schema.__schema.queryType.name);
  return query && 'fields' in query ? query.fields.map((f) => f.name) : [];
};

describe('GraphiQL schema document in production', () => {
  it('keeps introspection over /graphql refused, with or without a token', async () => {
    const token = await world.auth.mint();
    for (const headers of [{}, { authorization: `Bearer ${token}` }]) {
      const answer = await post(
        `${prodUrl}/graphql`,
        { query: '{ __schema { queryType { name } } }' },
        headers,
      );
      expect(answer.body.data ?? null).toBeNull();
      expect(answer.body.errors?.[0]?.extensions?.['code']).toBe('GRAPHQL_VALIDATION_FAILED');
      expect(answer.body.errors?.[0]?.extensions?.['validationErrorCode']).toBe('INTROSPECTION_DISABLED');
      // Where the schema is, rather than Apollo's advice to its operator.
      expect(answer.body.errors?.[0]?.message).toContain('GET /graphiql/schema');
      expect(answer.body.errors?.[0]?.message).not.toMatch(/ApolloServer/);
    }
  });

  it('refuses the schema to anonymous callers with 401 and says how to sign in', async () => {
    const answer = await getSchema(prodUrl);
    expect(answer.status).toBe(401);
    expect(answer.headers.get('www-authenticate')).toBe('Bearer');
    expect(answer.headers.get('cache-control')).toBe('no-store');
    expect(answer.body.data).toBeUndefined();
    expect(answer.body.errors?.[0]?.extensions?.['code']).toBe('UNAUTHENTICATED');
    expect(answer.body.errors?.[0]?.message).toMatch(/login mutation/);
    // An empty bearer is anonymous too.
    expect((await getSchema(prodUrl, { authorization: 'Bearer ' })).status).toBe(401);
  });

  it('refuses a token signed by another key, an expired token and a revoked session', async () => {
    const sessionId = crypto.randomUUID();
    const revoked = await world.auth.mint({ sid: sessionId });
    world.auth.revoke(sessionId);
    const bad = [
      await world.auth.mint({}, { key: 'other' }),
      await world.auth.mint({}, { ttlSeconds: -120 }),
      revoked,
      'not-a-jwt',
    ];
    for (const token of bad) {
      const answer = await getSchema(prodUrl, { authorization: `Bearer ${token}` });
      expect(answer.status).toBe(401);
      expect(answer.headers.get('www-authenticate')).toMatch(/invalid_token/);
      expect(answer.body.data).toBeUndefined();
      expect(answer.body.errors?.[0]?.extensions?.['code']).toBe('UNAUTHENTICATED');
    }
  });

  it('serves a verified token the API schema of the committed supergraph, with its documentation', async () => {
    const token = await world.auth.mint();
    const answer = await getSchema(prodUrl, { authorization: `Bearer ${token}` });
    expect(answer.status).toBe(200);
    expect(answer.headers.get('cache-control')).toBe('private, no-cache');
    expect(answer.headers.get('vary')).toMatch(/authorization/);
    const schema = answer.body.data;
    if (!schema) throw new Error('no schema in the answer');
    expect(queryFields(schema)).toEqual(expect.arrayContaining(['accounts', 'instruments', 'me']));
    const names = schema.__schema.types.map((t) => t.name);
    expect(names).toContain('LoginInput');
    // The API schema: no federation machinery.
    expect(names.filter((n) => /^(join__|link__)|^_Service$|^_Any$|^_Entity$/.test(n))).toEqual([]);
    expect(queryFields(schema)).not.toContain('_entities');
    expect(queryFields(schema)).not.toContain('_service');
    const query = schema.__schema.types.find((t) => t.name === 'Query');
    const accounts = query && 'fields' in query ? query.fields.find((f) => f.name === 'accounts') : undefined;
    expect(accounts?.description).toBe("The accounts of the caller's organization.");
  });

  it('answers a repeated request with 304 and compresses for clients that accept gzip', async () => {
    const token = await world.auth.mint();
    const first = await fetch(`${prodUrl}/graphiql/schema`, {
      headers: { authorization: `Bearer ${token}`, 'accept-encoding': 'identity' },
    });
    const plain = Buffer.from(await first.arrayBuffer());
    const etag = first.headers.get('etag');
    expect(etag).toMatch(/^".+"$/);
    const again = await fetch(`${prodUrl}/graphiql/schema`, {
      headers: { authorization: `Bearer ${token}`, 'if-none-match': etag ?? '' },
    });
    expect(again.status).toBe(304);
    // Without a token, no 304 leaks that the client holds the current schema.
    const anonymous = await fetch(`${prodUrl}/graphiql/schema`, { headers: { 'if-none-match': etag ?? '' } });
    expect(anonymous.status).toBe(401);
    const zipped = await new Promise<Buffer>((resolve, reject) => {
      // fetch() decodes gzip itself; node:http shows the bytes on the wire.
      void import('node:http').then(({ get }) =>
        get(
          `${prodUrl}/graphiql/schema`,
          { headers: { authorization: `Bearer ${token}`, 'accept-encoding': 'gzip' } },
          (res) => {
            expect(res.headers['content-encoding']).toBe('gzip');
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => resolve(Buffer.concat(chunks)));
          },
        ).on('error', reject),
      );
    });
    expect(gunzipSync(zipped).equals(plain)).toBe(true);
  });

  it('tells the page that the schema is for signed-in users', async () => {
    const html = await (await fetch(`${prodUrl}/graphiql`)).text();
    expect(html).toContain('data-schema-access="signed-in"');
  });
});

describe('GraphiQL schema document with introspection on', () => {
  it('is open to anonymous callers and equals what introspection over /graphql answers', async () => {
    const answer = await getSchema(devUrl);
    expect(answer.status).toBe(200);
    const introspected = await post(`${devUrl}/graphql`, { query: INTROSPECTION });
    expect(introspected.body.errors).toBeUndefined();
    // Compared as schemas: the two graphql-js copies loaded here differ in introspection details.
    const served = printSchema(buildClientSchema(answer.body.data as IntrospectionQuery));
    expect(served).toBe(
      printSchema(buildClientSchema(introspected.body.data as unknown as IntrospectionQuery)),
    );
    expect(served).toContain('Headers the subgraph received for this request, as JSON.');
    expect(queryFields(answer.body.data as IntrospectionQuery)).toContain('hello');
    const html = await (await fetch(`${devUrl}/graphiql`)).text();
    expect(html).toContain('data-schema-access="open"');
  });

  it('still refuses a bad token', async () => {
    const answer = await getSchema(devUrl, {
      authorization: `Bearer ${await world.auth.mint({}, { key: 'other' })}`,
    });
    expect(answer.status).toBe(401);
  });
});
