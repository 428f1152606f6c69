// Administration (owners and admins): tenant health; backups (list, start one with live progress,
// restore after typing the organization name); and, for everyone, the user's sessions with revoke.
import { useMutation, useQuery } from '@apollo/client/react';
import { useEffect, useState } from 'react';
import { useDesk } from '../desk-context';
import { describeError } from '../errors';
import { num, time } from '../format';
import { graphql } from '../gql';
import { usePlatform } from '../platform-context';
import { Stat } from './positions';
import { EmptyRow, ErrorText, TableHead } from '../ui';

const TenantAdminQuery = graphql(`
  query TenantAdmin($tenantId: ID!) {
    tenant(id: $tenantId) {
      id
      organizationName
      status
      schemaName
      health {
        status
        schemaPresent
        migrationsApplied
        migrationsExpected
        schemaSizeBytes
        quotaBytes
        activeConnections
        lastBackupStatus
        lastVerifiedBackupAt
        reasons
        checkedAt
      }
      backups(first: 20) {
        id
        type
        status
        progress
        sizeBytes
        startedAt
        completedAt
        verifiedAt
        error
      }
    }
  }
`);

graphql(`
  fragment JobFields on Job {
    id
    kind
    state
    progress
    error
  }
`);

const JobQuery = graphql(`
  query Job($id: ID!) {
    job(id: $id) {
      ...JobFields
    }
  }
`);

const BackupTenantMutation = graphql(`
  mutation BackupTenant($tenantId: ID!) {
    backupTenant(tenantId: $tenantId) {
      ...JobFields
    }
  }
`);

const RestoreTenantMutation = graphql(`
  mutation RestoreTenant($backupId: ID!) {
    restoreTenant(backupId: $backupId) {
      ...JobFields
    }
  }
`);

const SessionsQuery = graphql(`
  query MySessions {
    mySessions {
      id
      createdAt
      lastActiveAt
      ipAddress
      userAgent
      current
    }
  }
`);

const RevokeSessionMutation = graphql(`
  mutation RevokeSession($id: ID!) {
    revokeSession(id: $id)
  }
`);

const RevokeAllMutation = graphql(`
  mutation RevokeAllSessions {
    revokeAllSessions
  }
`);

const FINISHED = new Set(['completed', 'failed', 'unknown']);

/** The admin screen. */
export function AdminScreen(): React.JSX.Element {
  const { role } = useDesk();
  const admin = role === 'OWNER' || role === 'ADMIN';
  return (
    <div className="admin">
      {admin ? (
        <TenantAdmin />
      ) : (
        <p className="panel muted">
          Tenant health and backups are for owners and admins of the organization.
        </p>
      )}
      <Sessions />
    </div>
  );
}

function TenantAdmin(): React.JSX.Element {
  const { tenantId } = useDesk();
  const q = useQuery(TenantAdminQuery, { variables: { tenantId }, fetchPolicy: 'network-only' });
  const [jobId, setJobId] = useState<string | undefined>();
  const job = useQuery(JobQuery, {
    variables: { id: jobId ?? '' },
    skip: !jobId,
    fetchPolicy: 'network-only',
  });
  const [backup, backing] = useMutation(BackupTenantMutation);
  const [restore] = useMutation(RestoreTenantMutation);
  const [error, setError] = useState('');
  const [restoring, setRestoring] = useState<string | undefined>();
  const running = jobId !== undefined && !FINISHED.has(job.data?.job?.state ?? 'waiting');

  // Live progress: poll the job and the backup list while the job runs, once more when it ends.
  const { startPolling, stopPolling, refetch } = job;
  const refetchTenant = q.refetch;
  useEffect(() => {
    if (!jobId) return undefined;
    if (running) {
      startPolling(700);
      const timer = setInterval(() => void refetchTenant(), 1000);
      return () => {
        clearInterval(timer);
        stopPolling();
      };
    }
    stopPolling();
    void refetchTenant();
    return undefined;
  }, [jobId, running, startPolling, stopPolling, refetchTenant, refetch]);

  const start = async (): Promise<void> => {
    setError('');
    try {
      const { data } = await backup({ variables: { tenantId } });
      if (data) setJobId(data.backupTenant.id);
    } catch (err) {
      setError(describeError(err));
    }
  };
  const t = q.data?.tenant;
  const h = t?.health;
  const j = job.data?.job;
  return (
    <>
      <section className="panel" aria-labelledby="health-title">
        <h2 id="health-title">Tenant health</h2>
        <ErrorText message={q.error ? describeError(q.error) : undefined} />
        {t && h && (
          <>
            <dl className="stats" aria-label="Tenant health">
              <Stat label="Organization" value={t.organizationName} />
              <Stat
                label="Status"
                value={`${t.status} / ${h.status}`}
                tone={h.status === 'healthy' ? 'up' : 'down'}
              />
              <Stat label="Schema" value={`${t.schemaName}${h.schemaPresent ? '' : ' (missing)'}`} />
              <Stat label="Migrations" value={`${h.migrationsApplied} / ${h.migrationsExpected}`} />
              <Stat
                label="Size"
                value={`${num((h.schemaSizeBytes ?? 0) / 1e6, 1)} MB of ${num(h.quotaBytes / 1e9, 1)} GB`}
              />
              <Stat label="Connections" value={String(h.activeConnections)} />
              <Stat label="Last verified backup" value={time(h.lastVerifiedBackupAt, true)} />
              <Stat label="Checked" value={time(h.checkedAt)} />
            </dl>
            {h.reasons.length > 0 && (
              <ul className="reasons">
                {h.reasons.map((r) => (
                  <li key={r}>{r}</li>
                ))}
              </ul>
            )}
          </>
        )}
      </section>
      <section className="panel" aria-labelledby="backups-title">
        <h2 id="backups-title">Backups</h2>
        <div className="row">
          <button type="button" onClick={() => void start()} disabled={backing.loading || running}>
            Start backup
          </button>
          {j && (
            <div className="job" role="status" aria-live="polite">
              <span>
                {j.kind} job: {j.state}
                {j.error ? ` (${j.error})` : ''}
              </span>
              <progress max={100} value={j.progress} aria-label={`${j.kind} progress`}>
                {j.progress} %
              </progress>
              <span>{j.progress} %</span>
            </div>
          )}
        </div>
        <ErrorText message={error} />
        <table className="grid" aria-labelledby="backups-title">
          <TableHead
            columns={['Started', 'Type', 'Status', 'Progress', 'Size', 'Verified']}
            numeric={['Progress', 'Size']}
            actions
          />
          <tbody>
            {t?.backups.length === 0 && <EmptyRow colSpan={7} text="No backups yet." />}
            {t?.backups.map((b) => (
              <tr key={b.id}>
                <td>{time(b.startedAt, true)}</td>
                <td>{b.type}</td>
                <td>
                  <span className={`badge status-${b.status.toLowerCase()}`}>{b.status}</span>
                  {b.error && <span className="small error"> {b.error}</span>}
                </td>
                <td className="num">{b.progress} %</td>
                <td className="num">
                  {b.sizeBytes === null || b.sizeBytes === undefined
                    ? '—'
                    : `${num(b.sizeBytes / 1024, 1)} KB`}
                </td>
                <td>{time(b.verifiedAt, true)}</td>
                <td>
                  {b.status === 'VERIFIED' && (
                    <button
                      type="button"
                      className="small-btn secondary"
                      onClick={() => setRestoring(b.id)}
                      aria-label={`Restore backup of ${time(b.startedAt, true)}`}
                    >
                      Restore
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {restoring && t && (
          <RestoreConfirm
            organizationName={t.organizationName}
            onCancel={() => setRestoring(undefined)}
            onConfirm={async () => {
              try {
                const { data } = await restore({ variables: { backupId: restoring } });
                if (data) setJobId(data.restoreTenant.id);
                setRestoring(undefined);
              } catch (err) {
                setError(describeError(err));
              }
            }}
          />
        )}
      </section>
    </>
  );
}

interface RestoreProps {
  organizationName: string;
  onCancel: () => void;
  onConfirm: () => Promise<void>;
}

/** Restoring replaces the tenant's data: the user types the organization's name to confirm. */
function RestoreConfirm({ organizationName, onCancel, onConfirm }: RestoreProps): React.JSX.Element {
  const [typed, setTyped] = useState('');
  return (
    <div role="dialog" aria-modal="false" aria-labelledby="restore-title" className="preview bad">
      <h3 id="restore-title">Restore this backup?</h3>
      <p>
        The organization’s current data is replaced by the backup’s. Type <strong>{organizationName}</strong>{' '}
        to confirm.
      </p>
      <label>
        Confirm organization name
        <input value={typed} autoFocus onChange={(e) => setTyped(e.target.value)} />
      </label>
      <div className="row">
        <button type="button" className="secondary" onClick={onCancel}>
          Keep current data
        </button>
        <button
          type="button"
          className="danger"
          disabled={typed !== organizationName}
          onClick={() => void onConfirm()}
        >
          Restore backup
        </button>
      </div>
    </div>
  );
}

function Sessions(): React.JSX.Element {
  const { session } = usePlatform();
  const q = useQuery(SessionsQuery, { fetchPolicy: 'network-only' });
  const [revoke] = useMutation(RevokeSessionMutation);
  const [revokeAll] = useMutation(RevokeAllMutation);
  const [error, setError] = useState('');
  const onRevoke = async (id: string): Promise<void> => {
    try {
      await revoke({ variables: { id } });
      await q.refetch();
    } catch (err) {
      setError(describeError(err));
    }
  };
  return (
    <section className="panel" aria-labelledby="sessions-title">
      <h2 id="sessions-title">Your sessions</h2>
      <ErrorText message={error} />
      <table className="grid" aria-labelledby="sessions-title">
        <TableHead columns={['Device', 'IP address', 'Started', 'Last active']} actions />
        <tbody>
          {(q.data?.mySessions ?? []).map((s) => (
            <tr key={s.id}>
              <td>
                {s.userAgent ?? 'Unknown device'}
                {s.current && <span className="badge"> this session</span>}
              </td>
              <td>{s.ipAddress ?? '—'}</td>
              <td>{time(s.createdAt, true)}</td>
              <td>{time(s.lastActiveAt, true)}</td>
              <td>
                {!s.current && (
                  <button
                    type="button"
                    className="small-btn danger"
                    aria-label={`Revoke session ${s.id.slice(0, 8)}`}
                    onClick={() => void onRevoke(s.id)}
                  >
                    Revoke
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <button
        type="button"
        className="danger"
        onClick={() =>
          void revokeAll().then(
            () => session.set(undefined),
            (err: unknown) => setError(describeError(err)),
          )
        }
      >
        Revoke all sessions
      </button>
    </section>
  );
}
