/**
 * What resolvers return for each GraphQL type (codegen `mappers`): the rows and views of the domain,
 * not the generated GraphQL shapes.
 */
import type { Role } from '../../../lib/auth.js';
import type { BackupRow, TenantRow } from './db/schema.js';

/**
 * A tenant row. `limited` marks a row resolved by reference for a caller who is not a member: such a
 * row answers only `id` and `status` (see README, "Entity references").
 */
export type TenantModel = TenantRow & { limited?: boolean };

/** One membership of a user, with its tenant. */
export interface MembershipModel {
  tenantId: string;
  userId: string;
  role: Role;
  createdAt: Date;
  tenant: TenantModel;
}

export type BackupModel = BackupRow;

/** A BullMQ job as the API shows it. */
export interface JobModel {
  id: string;
  kind: string;
  /** waiting, active, delayed, prioritized, waiting-children, completed, failed or unknown. */
  state: string;
  /** 0..100 */
  progress: number;
  error: string | null;
  result: unknown;
}

/** The User entity as far as this subgraph knows it: its key. */
export interface UserModel {
  id: string;
}
