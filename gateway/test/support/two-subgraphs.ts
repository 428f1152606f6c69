/**
 * Two small subgraphs for comparing the gateway's executors (gateway/src/plan-executor.ts against
 * @apollo/gateway's): accounts (users, memberships, a union) and orgs (the Org entity, a @requires
 * on User), with the failures a second fetch can meet: a refused field, a non-null violation, an
 * entity the subgraph does not find. Each {@link createTwoSubgraphs} has its own state.
 */
import { GraphQLError } from 'graphql';

const FED = 'extend schema @link(url: "https://specs.apollo.dev/federation/v2.7"';

export const accountsTypeDefs = `${FED}, import: ["@key", "@shareable"])
type Query {
  me: User
  user(id: ID!): User
  search: [SearchResult!]!
}
type User @key(fields: "id") {
  id: ID!
  name: String!
  email: String
  plan: String!
  memberships: [Membership!]!
}
type Membership {
  role: String!
  org: Org
  strictOrg: Org!
}
type Org @key(fields: "id") {
  id: ID!
}
union SearchResult = User | Org
type Mutation {
  rename(name: String!): User
}
`;

export const orgsTypeDefs = `${FED}, import: ["@key", "@external", "@requires"])
type Query {
  orgs: [Org!]!
}
type Org @key(fields: "id") {
  id: ID!
  name: String!
  status: String
  secret: String
  members: Int!
}
type User @key(fields: "id") {
  id: ID!
  plan: String! @external
  quota: Int! @requires(fields: "plan")
}
`;

interface OrgRef {
  id: string;
}

/** Orgs o1 (plain), o2 (status null, secret refused), o3 (members null: a non-null violation), gone (no entity). */
const MEMBERSHIPS = [
  { role: 'OWNER', org: { id: 'o1' }, strictOrg: { id: 'o1' } },
  { role: 'TRADER', org: { id: 'o2' }, strictOrg: { id: 'o2' } },
  { role: 'VIEWER', org: { id: 'o3' }, strictOrg: { id: 'o3' } },
  { role: 'GUEST', org: { id: 'gone' }, strictOrg: { id: 'gone' } },
  { role: 'NONE', org: null, strictOrg: { id: 'o1' } },
];

/** Resolvers of both subgraphs; `rename` changes the user's name in this instance only. */
export function createTwoSubgraphs(): { accounts: object; orgs: object } {
  let userName = 'Ada';
  const user = (id: string) => ({ id, name: userName, email: `${id}@example.com`, plan: 'pro' });

  const accounts = {
    Query: {
      me: () => user('u1'),
      user: (_: unknown, { id }: { id: string }) => (id === 'nobody' ? null : user(id)),
      search: () => [
        { __typename: 'User', ...user('u2') },
        { __typename: 'Org', id: 'o1' },
      ],
    },
    User: {
      __resolveReference: (ref: { id: string }) => user(ref.id),
      memberships: (u: { id: string }) => (u.id === 'u3' ? MEMBERSHIPS.slice(0, 1) : MEMBERSHIPS),
    },
    SearchResult: { __resolveType: (o: { __typename: string }) => o.__typename },
    Mutation: {
      rename: (_: unknown, { name }: { name: string }) => {
        userName = name;
        return user('u1');
      },
    },
  };

  const org = (id: string) => ({ id, name: `Org ${id}`, status: id === 'o2' ? null : 'ACTIVE' });

  const orgs = {
    Query: { orgs: () => [org('o1'), org('o2')] },
    Org: {
      __resolveReference: (ref: OrgRef) => (ref.id === 'gone' ? null : org(ref.id)),
      secret: (o: OrgRef) => {
        if (o.id === 'o2') throw new GraphQLError('Not your org', { extensions: { code: 'FORBIDDEN' } });
        return 'shh';
      },
      members: (o: OrgRef) => (o.id === 'o3' ? null : 3),
    },
    User: {
      __resolveReference: (ref: { id: string; plan?: string }) => ref,
      quota: (u: { plan?: string }) => (u.plan === 'pro' ? 100 : 1),
    },
  };
  return { accounts, orgs };
}

/** Requests to answer the same through both executors (the HTTP test adds an unreachable orgs). */
export const TWO_SUBGRAPH_CASES: {
  name: string;
  body: { query: string; variables?: Record<string, unknown>; operationName?: string };
}[] = [
  {
    name: "the bench's shape (a root fetch, then one entity fetch)",
    body: { query: '{ me { id email memberships { role org { id name status } } } }' },
  },
  {
    name: 'aliases, fragments and __typename',
    body: {
      query: `query Q { who: me { __typename ...U ms: memberships { r: role org { __typename ... on Org { n: name } } } } }
        fragment U on User { id e: email }`,
      operationName: 'Q',
    },
  },
  {
    name: 'a subgraph error in the entity fetch (path rewritten into the answer)',
    body: { query: '{ me { memberships { org { id secret } } } }' },
  },
  {
    name: 'an entity the subgraph does not find (a non-null field left null: valueCompletion)',
    body: { query: '{ me { memberships { role org { id name } } } }' },
  },
  {
    name: 'a non-null violation inside the entity fetch',
    body: { query: '{ me { memberships { org { id members } } } }' },
  },
  {
    name: 'nulls bubbling up through non-null fields',
    body: { query: '{ me { id memberships { strictOrg { name members } } } }' },
  },
  {
    name: 'variables, and an unknown user',
    body: {
      query: 'query ($id: ID!) { user(id: $id) { name memberships { org { name } } } }',
      variables: { id: 'u3' },
    },
  },
  {
    name: 'a null root field',
    body: {
      query: 'query ($id: ID!) { user(id: $id) { name memberships { org { name } } } }',
      variables: { id: 'nobody' },
    },
  },
  {
    name: '@include on a variable (true)',
    body: {
      query: 'query ($o: Boolean!) { me { memberships { role org @include(if: $o) { name } } } }',
      variables: { o: true },
    },
  },
  {
    name: '@skip on a variable at the root',
    body: {
      query: 'query ($o: Boolean!) { me { id } orgs @skip(if: $o) { name } }',
      variables: { o: true },
    },
  },
  { name: 'parallel root fields of two subgraphs', body: { query: '{ orgs { id name } me { name } }' } },
  { name: '@requires', body: { query: '{ me { id quota memberships { org { name } } } }' } },
  {
    name: 'a union with an entity member',
    body: { query: '{ search { __typename ... on User { id name quota } ... on Org { id name status } } }' },
  },
  { name: 'a root __typename', body: { query: '{ __typename me { memberships { org { name } } } }' } },
  { name: 'a single fetch with an abstract type', body: { query: '{ search { ... on User { id } } }' } },
  {
    name: 'the second of two operations',
    body: {
      query: 'query A { me { id } } query B { me { memberships { org { name } } } }',
      operationName: 'B',
    },
  },
  {
    name: 'a defaulted variable in @include',
    body: {
      query: 'query ($o: Boolean = false) { me { memberships { role org @include(if: $o) { name } } } }',
    },
  },
  {
    name: 'a fragment spread on the root type',
    body: { query: '{ ...R } fragment R on Query { me { memberships { org { id status } } } }' },
  },
];
