/**
 * The seed's REST endpoints on the tenants port, with the same rules as GraphQL:
 *   POST /api/v1/tenants/provision           {"tenant_id"?, "organization_name", "template"?} -> 202 {job, tenant_id}
 *   POST /api/v1/schemas/:tenant_id/backup   {"tenant_id"?, "backup_type"?: "manual"}          -> 202 {job, backup_id, tenant_id}
 *   GET  /api/v1/monitoring/:tenant_id/health                                              -> 200 health
 * Bearer auth; errors are AppErrors, rendered by lib/http as {error: {code, message}}.
 */
import type { Express, Request } from 'express';
import { z } from 'zod';
import type { AuthClaims } from '../../../lib/auth.js';
import type { HeaderVerifier } from '../../../lib/token-cache.js';
import { badInput, unauthenticated } from '../../../lib/errors.js';
import type { TenantsServices } from './context.js';

const backupBody = z
  .object({
    tenant_id: z.string().optional(),
    backup_type: z.string().max(32).optional(),
  })
  .optional();

const provisionBody = z.object({
  tenant_id: z.string().optional(),
  organization_name: z.string(),
  template: z.string().optional(),
});

async function authenticate(verifier: HeaderVerifier, req: Request): Promise<AuthClaims> {
  const claims = await verifier.verifyHeader(req.headers.authorization);
  if (!claims) throw unauthenticated();
  return claims;
}

/** Mounts the REST endpoints; `services` is read per request (it exists once the service started). */
export function mountRestRoutes(
  app: Express,
  verifier: HeaderVerifier,
  services: () => TenantsServices,
): void {
  app.post('/api/v1/tenants/provision', async (req, res) => {
    const caller = await authenticate(verifier, req);
    const parsed = provisionBody.safeParse(req.body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw badInput(
        `Invalid body: ${issue ? `${issue.path.join('.') || 'body'}: ${issue.message}` : 'malformed'}`,
      );
    }
    const { tenant, job } = await services().tenants.provision(
      caller,
      {
        tenantId: parsed.data.tenant_id,
        organizationName: parsed.data.organization_name,
        template: parsed.data.template,
      },
      // The seed's REST API is called directly (not through the gateway), so the peer is the client.
      req.socket.remoteAddress,
    );
    res.status(202).json({ job, tenant_id: tenant.id });
  });

  app.post('/api/v1/schemas/:tenantId/backup', async (req, res) => {
    const caller = await authenticate(verifier, req);
    const parsed = backupBody.safeParse(req.body);
    if (!parsed.success) throw badInput('Invalid body: expected {"tenant_id"?, "backup_type"?}');
    const tenantId = String(req.params['tenantId']);
    if (
      parsed.data?.tenant_id !== undefined &&
      parsed.data.tenant_id.toLowerCase() !== tenantId.toLowerCase()
    ) {
      throw badInput('tenant_id in the body does not match the path', { field: 'tenant_id' });
    }
    const { job, backup } = await services().backups.requestBackup(
      caller,
      tenantId,
      parsed.data?.backup_type ?? 'manual',
    );
    res.status(202).json({ job, backup_id: backup.id, tenant_id: backup.tenantId, status: backup.status });
  });

  app.get('/api/v1/monitoring/:tenantId/health', async (req, res) => {
    const caller = await authenticate(verifier, req);
    const s = services();
    const tenant = await s.tenants.getTenant(caller, String(req.params['tenantId']));
    const h = await s.health.check(tenant);
    res.json({
      tenant_id: tenant.id,
      tenant_status: tenant.status,
      status: h.status,
      schema_present: h.schemaPresent,
      migrations_applied: h.migrationsApplied,
      migrations_expected: h.migrationsExpected,
      schema_size_bytes: h.schemaSizeBytes,
      quota_bytes: h.quotaBytes,
      row_counts: h.rowCounts,
      active_connections: h.activeConnections,
      last_backup: {
        status: h.lastBackupStatus,
        started_at: h.lastBackupAt?.toISOString() ?? null,
        last_verified_at: h.lastVerifiedBackupAt?.toISOString() ?? null,
        age_seconds: h.lastVerifiedBackupAgeSeconds,
      },
      reasons: h.reasons,
      checked_at: h.checkedAt.toISOString(),
    });
  });
}
