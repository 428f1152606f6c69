// What a signed-in desk needs before it can show anything: who the user is and the tenant's status
// (Me), the paper account and the instruments with their last known quotes (Accounts). A returning
// user's page asks for both as soon as its script runs, in parallel with each other and with React's
// first render, behind at most one token refresh; the screens' useQuery calls (cache-first) join the
// requests in flight or read their answers from the cache.
import type { Platform } from './apollo';
import { graphql } from './gql';

export const MeQuery = graphql(`
  query Me($tenantId: ID!) {
    me {
      id
      email
      memberships {
        role
        tenant {
          id
          organizationName
        }
      }
    }
    tenant(id: $tenantId) {
      id
      organizationName
      status
    }
  }
`);

export const AccountsQuery = graphql(`
  query Accounts {
    accounts {
      id
      name
      currency
    }
    instruments {
      symbol
      name
      assetClass
      currency
      tickSize
      lotSize
      tradable
      quote {
        last
        bid
        ask
      }
    }
  }
`);

/** Starts the start-up queries of the stored session; nothing when signed out. */
export function prefetchDesk({ client, session }: Platform): void {
  const tenantId = session.current?.tenantId;
  if (!tenantId) return;
  const me = client.query({ query: MeQuery, variables: { tenantId } });
  const accounts = client.query({ query: AccountsQuery });
  // Failures are the screens' to show (they ask again on a cache miss). An organization still being
  // provisioned may answer Accounts before its account exists: that answer is dropped, so the desk
  // asks again once the organization is ready.
  void Promise.allSettled([me, accounts]).then(([m]) => {
    const status = m.status === 'fulfilled' ? m.value.data?.tenant?.status : undefined;
    if (status !== 'ACTIVE') {
      client.cache.evict({ id: 'ROOT_QUERY', fieldName: 'accounts' });
      client.cache.gc();
    }
  });
}
