/**
 * Job lookup (`job(id)`): a tenant's job is visible to its members and platform admins; platform jobs
 * (migrate-tenants) to platform admins only. Everything else is NOT_FOUND, whether it exists or not.
 */
import type { AuthClaims } from '../../../lib/auth.js';
import { notFound } from '../../../lib/errors.js';
import { parseJobId, toJobModel, type TenantQueues } from './jobs/queues.js';
import type { JobModel } from './models.js';
import { completedProvisioning, type TenantService } from './tenant.service.js';

export class JobService {
  constructor(
    private readonly queues: TenantQueues,
    private readonly tenants: TenantService,
  ) {}

  /** The job when the caller may see it; NOT_FOUND otherwise. */
  async getJob(caller: AuthClaims, id: string): Promise<JobModel> {
    const parsed = parseJobId(id);
    if (!parsed) throw notFound('Job');
    if (parsed.kind === 'provision') {
      // Authorizes (members and admins) and tells whether the tenant exists at all.
      const tenant = await this.tenants.getTenant(caller, parsed.tenantId).catch(() => {
        throw notFound('Job');
      });
      const jobId = `provision-${tenant.id}`;
      const job = await this.queues.find(parsed, jobId);
      if (job) {
        if ((job.data as { tenantId?: unknown }).tenantId !== tenant.id) throw notFound('Job');
        return toJobModel(job);
      }
      // BullMQ dropped the finished job (removeOnComplete/removeOnFail): the tenant row still knows.
      switch (tenant.status) {
        case 'ACTIVE':
        case 'SUSPENDED':
          return completedProvisioning(tenant.id);
        case 'FAILED':
          return {
            ...completedProvisioning(tenant.id),
            state: 'failed',
            progress: 0,
            error: 'provisioning failed',
          };
        case 'PROVISIONING':
          throw notFound('Job');
      }
    }
    if (!caller.platformAdmin) throw notFound('Job');
    const job = await this.queues.find(parsed, id);
    if (!job) throw notFound('Job');
    return toJobModel(job);
  }
}
