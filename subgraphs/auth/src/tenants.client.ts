import type { Role } from '../../../lib/auth.js';
import type { Config } from '../../../lib/config.js';
import { callInternal } from '../../../lib/internal-client.js';

/** One of a user's memberships, as the tenants service reports it. */
export interface MembershipGrant {
  tenantId: string;
  role: Role;
}

/** Auth's view of the tenants service: its internal (service-token) GraphQL fields. */
export interface TenantsClient {
  /** Creates an organization owned by the user and queues its provisioning. */
  createOwnedTenant(
    input: { ownerUserId: string; organizationName: string; template: string },
    requestId?: string,
  ): Promise<{ tenantId: string; jobId: string }>;
  /** The user's memberships, most recently joined first. */
  userMemberships(userId: string, requestId?: string): Promise<MembershipGrant[]>;
}

/** {@link TenantsClient} over HTTP at `config.tenantsUrl`. */
export function createTenantsClient(config: Pick<Config, 'SERVICE_TOKEN' | 'tenantsUrl'>): TenantsClient {
  return {
    async createOwnedTenant(input, requestId) {
      const data = await callInternal<{ createOwnedTenant: { tenantId: string; jobId: string } }>(
        config,
        config.tenantsUrl,
        'mutation($input: CreateOwnedTenantInput!) { createOwnedTenant(input: $input) { tenantId jobId } }',
        { input },
        requestId,
      );
      return data.createOwnedTenant;
    },
    async userMemberships(userId, requestId) {
      const data = await callInternal<{ userMemberships: MembershipGrant[] }>(
        config,
        config.tenantsUrl,
        'query($userId: ID!) { userMemberships(userId: $userId) { tenantId role } }',
        { userId },
        requestId,
      );
      return data.userMemberships;
    },
  };
}
