import {
  buildSchema,
  getIntrospectionQuery,
  Kind,
  parse,
  validate,
  type FragmentDefinitionNode,
} from 'graphql';
import { describe, expect, it } from 'vitest';
import {
  aliasLimitRule,
  depthLimitRule,
  INTROSPECTION_MAX_DEPTH,
  operationAliases,
  operationDepth,
} from './limits.rules.js';
import { authFailureReason } from './gateway.metrics.js';
import { createLocalJWKSet, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { AccessTokenVerifier } from '../../lib/auth.js';

const schema = buildSchema(`
  type Query { node: Node  hello: String }
  type Node { id: ID  child: Node  name: String }
`);

function measure(query: string): { depth: number; introspectionDepth: number; aliases: number } {
  const doc = parse(query);
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of doc.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  const op = doc.definitions.find((d) => d.kind === Kind.OPERATION_DEFINITION);
  if (op?.kind !== Kind.OPERATION_DEFINITION) throw new Error('no operation');
  return { ...operationDepth(op, fragments), aliases: operationAliases(op, fragments) };
}

describe('depth', () => {
  it('counts fields, not fragments', () => {
    expect(measure('{ hello }').depth).toBe(1);
    expect(measure('{ node { child { id } } }').depth).toBe(3);
    expect(measure('{ node { ... on Node { child { id } } } }').depth).toBe(3);
    expect(
      measure('{ node { ...A } } fragment A on Node { child { ...B } } fragment B on Node { child { id } }')
        .depth,
    ).toBe(4);
    expect(measure('{ ...Q } fragment Q on Query { node { id } hello }').depth).toBe(2);
    expect(measure('{ hello __type(name: "Node") { fields { name } } }')).toMatchObject({
      depth: 1,
      introspectionDepth: 3,
    });
  });

  it('terminates on fragment cycles (which the standard rules report)', () => {
    const q = '{ node { ...A } } fragment A on Node { child { ...B } } fragment B on Node { child { ...A } }';
    expect(measure(q).depth).toBe(3);
    const errors = validate(schema, parse(q), [depthLimitRule(10)]);
    expect(errors).toEqual([]);
  });

  it('reports BAD_USER_INPUT with the limit', () => {
    const errors = validate(schema, parse('{ node { child { child { id } } } }'), [depthLimitRule(3)]);
    expect(errors).toHaveLength(1);
    expect(errors[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', limit: 'depth', max: 3 });
  });

  it('lets the standard introspection query through with a small limit, but bounds introspection too', () => {
    expect(validate(schema, parse(getIntrospectionQuery()), [depthLimitRule(3)])).toEqual([]);
    let deep = 'name';
    for (let i = 0; i < INTROSPECTION_MAX_DEPTH; i++) deep = `fields { type { ${deep} } }`;
    expect(validate(schema, parse(`{ __type(name: "Node") { ${deep} } }`), [depthLimitRule(3)])).toHaveLength(
      1,
    );
  });
});

describe('aliases', () => {
  it('counts aliases through fragments, once per spread', () => {
    expect(measure('{ a: hello b: hello hello }').aliases).toBe(2);
    expect(measure('{ ...F ...F x: node { id } } fragment F on Query { a: hello }').aliases).toBe(3);
    expect(
      measure('{ ...G } fragment G on Query { ...F ...F } fragment F on Query { a: hello b: hello }').aliases,
    ).toBe(4);
  });

  it('stays finite on exponential fan-out and on cycles', () => {
    const fragments = ['fragment F0 on Query { a: hello b: hello }'];
    for (let i = 1; i <= 60; i++) fragments.push(`fragment F${i} on Query { ...F${i - 1} ...F${i - 1} }`);
    const doc = `{ ...F60 } ${fragments.join(' ')}`;
    expect(measure(doc)).toMatchObject({ depth: 1 });
    expect(measure(doc).aliases).toBeGreaterThan(1e15);
    expect(validate(schema, parse(doc), [aliasLimitRule(30)])).toHaveLength(1);
    expect(
      measure('{ ...A } fragment A on Query { x: hello ...B } fragment B on Query { y: hello ...A }').aliases,
    ).toBe(2);
  });
});

describe('auth failure reasons', () => {
  it('maps the errors lib/auth really throws to metric labels', async () => {
    const { publicKey, privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'EdDSA' };
    const cfg = { jwksUrl: 'http://127.0.0.1:9/jwks', JWT_ISSUER: 'iss', JWT_AUDIENCE: 'aud' };
    const verifier = new AccessTokenVerifier(
      cfg,
      { isLive: () => Promise.resolve(false) },
      createLocalJWKSet({ keys: [jwk] }),
    );
    const token = (exp: number): Promise<string> =>
      new SignJWT({ sid: 's', tid: 't', role: 'OWNER' })
        .setProtectedHeader({ alg: 'EdDSA', kid: 'k1' })
        .setSubject('u')
        .setIssuer('iss')
        .setAudience('aud')
        .setExpirationTime(exp)
        .sign(privateKey);
    const reasonOf = async (header: string): Promise<string> => {
      try {
        await verifier.verifyHeader(header);
      } catch (err) {
        return authFailureReason((err as Error).message);
      }
      return 'accepted';
    };
    const now = Math.floor(Date.now() / 1000);
    expect(await reasonOf('Basic abc')).toBe('malformed');
    expect(await reasonOf('Bearer abc.def.ghi')).toBe('invalid');
    expect(await reasonOf(`Bearer ${await token(now - 600)}`)).toBe('expired');
    expect(await reasonOf(`Bearer ${await token(now + 600)}`)).toBe('revoked');
  });
});
