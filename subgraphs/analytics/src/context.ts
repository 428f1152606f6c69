import type { RequestContext } from '../../../lib/context.js';
import { requireAuth } from '../../../lib/context.js';
import { tenantSchemaName, type TenantScope } from '../../../lib/db.js';
import type { DashboardService } from './dashboard.service.js';
import type { ReportService } from './report.service.js';

/** The analytics domain, shared by every request. */
export interface AnalyticsServices {
  reports: ReportService;
  dashboards: DashboardService;
}

/** Context of the analytics subgraph: lib's request context plus the analytics services. */
export interface AnalyticsContext extends RequestContext {
  analytics: AnalyticsServices;
}

/**
 * The caller's tenant scope from the verified token: every member of the tenant (any role) may read
 * its accounts' reports and keep dashboards; other tenants are out of reach by construction.
 * @throws AppError UNAUTHENTICATED without a token
 */
export function callerScope(ctx: RequestContext): TenantScope & { userId: string } {
  const auth = requireAuth(ctx);
  return { tenantId: auth.tenantId, schemaName: tenantSchemaName(auth.tenantId), userId: auth.userId };
}
