import type { RequestContext } from '../../../lib/context.js';
import type { BackupService } from './backup/backup.service.js';
import type { HealthService } from './health.service.js';
import type { JobService } from './job.service.js';
import type { TenantLimitsService } from './tenant-limits.js';
import type { TenantService } from './tenant.service.js';

/** The domain services resolvers call. */
export interface TenantsServices {
  tenants: TenantService;
  health: HealthService;
  jobs: JobService;
  backups: BackupService;
  /** Per-tenant request limits (the tenant plan). */
  limits: TenantLimitsService;
}

/** Context of the tenants subgraph: lib's request context plus the tenants services. */
export interface TenantsContext extends RequestContext {
  services: TenantsServices;
}
