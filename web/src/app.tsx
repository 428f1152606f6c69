// The desk's shell: signed out -> SignIn; signed in -> wait for the organization to be provisioned,
// pick the paper account, then the header (navigation, tenant switcher, connection, sign out) and
// the screen of the hash route. Every screen is keyed by tenant, so a switch starts it afresh.
import { useMutation, useQuery } from '@apollo/client/react';
import { lazy, Suspense, useEffect, useState } from 'react';
import { tokensOf } from './apollo';
import { AccountsQuery, MeQuery } from './boot';
import { DeskContext, type Desk } from './desk-context';
import { describeError } from './errors';
import { graphql } from './gql';
import { useConnection, usePlatform, useRoute, useSession } from './platform-context';
import { DeskScreen } from './screens/desk';
import { SignIn } from './screens/sign-in';
import { ErrorText } from './ui';

const InstrumentScreen = lazy(() =>
  import('./screens/instrument').then((m) => ({ default: m.InstrumentScreen })),
);
const ReportsScreen = lazy(() => import('./screens/reports').then((m) => ({ default: m.ReportsScreen })));
const DashboardsScreen = lazy(() =>
  import('./screens/dashboards').then((m) => ({ default: m.DashboardsScreen })),
);
const AdminScreen = lazy(() => import('./screens/admin').then((m) => ({ default: m.AdminScreen })));

const SwitchTenantMutation = graphql(`
  mutation SwitchTenant($tenantId: ID!) {
    switchTenant(tenantId: $tenantId) {
      ...AuthFields
    }
  }
`);

const LogoutMutation = graphql(`
  mutation Logout {
    logout
  }
`);

const NAV = [
  ['/', 'Desk'],
  ['/instrument', 'Instrument'],
  ['/reports', 'Reports'],
  ['/dashboards', 'Dashboards'],
  ['/admin', 'Admin'],
] as const;

/** The whole app. */
export function App(): React.JSX.Element {
  const session = useSession();
  const { session: store } = usePlatform();
  // Refresh the access token ahead of expiry even while nothing is being requested.
  useEffect(() => {
    const ms = store.msUntilRefresh();
    if (ms === undefined) return undefined;
    const timer = setTimeout(() => void store.refresh(), ms);
    return () => clearTimeout(timer);
  }, [session, store]);
  if (!session) return <SignIn />;
  return <SignedIn key={session.tenantId} tenantId={session.tenantId} />;
}

function SignedIn({ tenantId }: { tenantId: string }): React.JSX.Element {
  // cache-first: a page load asked for both already (boot.ts); a poll always goes to the network.
  const me = useQuery(MeQuery, { variables: { tenantId }, fetchPolicy: 'cache-first' });
  const status = me.data?.tenant?.status;
  const ready = status === 'ACTIVE';
  const { startPolling, stopPolling } = me;
  useEffect(() => {
    if (ready || status === 'FAILED') stopPolling();
    else startPolling(1000);
    return stopPolling;
  }, [ready, status, startPolling, stopPolling]);
  const accounts = useQuery(AccountsQuery, { skip: !ready, fetchPolicy: 'cache-first' });
  const account = accounts.data?.accounts[0];
  const membership = me.data?.me?.memberships.find((m) => m.tenant.id === tenantId);

  let body: React.JSX.Element;
  if (me.error || accounts.error) {
    body = (
      <p role="alert" className="error">
        {describeError(me.error ?? accounts.error)}
      </p>
    );
  } else if (status === 'FAILED' || status === 'SUSPENDED') {
    body = (
      <p role="alert" className="error">
        This organization is {status.toLowerCase()}; contact support.
      </p>
    );
  } else if (!ready || !account || !accounts.data) {
    body = (
      <p role="status" className="muted center">
        {status === 'PROVISIONING' ? 'Setting up your organization…' : 'Loading…'}
      </p>
    );
  } else {
    const desk: Desk = {
      tenantId,
      accountId: account.id,
      currency: account.currency,
      role: membership?.role ?? 'VIEWER',
      organizationName: me.data?.tenant?.organizationName ?? '',
      instruments: accounts.data.instruments,
    };
    body = (
      <DeskContext.Provider value={desk}>
        <Screen />
      </DeskContext.Provider>
    );
  }
  return (
    <>
      <Header
        tenantId={tenantId}
        memberships={me.data?.me?.memberships ?? []}
        email={me.data?.me?.email ?? ''}
      />
      {body}
    </>
  );
}

function Screen(): React.JSX.Element {
  const route = useRoute();
  const [, first = '', arg] = route.split('/');
  const path = `/${first}`;
  let screen: React.JSX.Element;
  switch (path) {
    case '/instrument':
      screen = <InstrumentScreen symbol={arg ? decodeURIComponent(arg) : undefined} />;
      break;
    case '/reports':
      screen = <ReportsScreen />;
      break;
    case '/dashboards':
      screen = <DashboardsScreen />;
      break;
    case '/admin':
      screen = <AdminScreen />;
      break;
    default:
      screen = <DeskScreen />;
  }
  return (
    <Suspense
      fallback={
        <p role="status" className="muted center">
          Loading…
        </p>
      }
    >
      <main id="main">{screen}</main>
    </Suspense>
  );
}

interface HeaderProps {
  tenantId: string;
  email: string;
  memberships: readonly { role: string; tenant: { id: string; organizationName: string } }[];
}

function Header({ tenantId, email, memberships }: HeaderProps): React.JSX.Element {
  const { session } = usePlatform();
  const route = useRoute();
  const [switchTenant] = useMutation(SwitchTenantMutation);
  const [logout] = useMutation(LogoutMutation);
  const [error, setError] = useState('');
  const current = '/' + (route.split('/')[1] ?? '');

  const onSwitch = async (id: string): Promise<void> => {
    try {
      const { data } = await switchTenant({ variables: { tenantId: id } });
      if (data) session.set(tokensOf(data.switchTenant));
    } catch (err) {
      setError(describeError(err));
    }
  };
  const signOut = async (): Promise<void> => {
    // The session ends server-side when it can; locally in every case.
    await logout().catch(() => undefined);
    session.set(undefined);
    location.hash = '';
  };
  return (
    <header className="topbar">
      <a className="brand" href="#/">
        TradeSage
      </a>
      <nav aria-label="Screens">
        {NAV.map(([href, label]) => (
          <a key={href} href={`#${href}`} aria-current={current === href ? 'page' : undefined}>
            {label}
          </a>
        ))}
      </nav>
      <div className="spacer" />
      <ConnectionIndicator />
      {memberships.length > 0 && (
        <label className="inline">
          Organization
          <select value={tenantId} onChange={(e) => void onSwitch(e.target.value)}>
            {memberships.map((m) => (
              <option key={m.tenant.id} value={m.tenant.id}>
                {m.tenant.organizationName} ({m.role.toLowerCase()})
              </option>
            ))}
          </select>
        </label>
      )}
      <span className="muted small" title="Signed in as">
        {email}
      </span>
      <button type="button" className="secondary" onClick={() => void signOut()}>
        Sign out
      </button>
      <ErrorText message={error} />
    </header>
  );
}

/** Live / connecting / reconnecting, and how many reconnects happened. */
export function ConnectionIndicator(): React.JSX.Element {
  const { status, reconnects } = useConnection();
  const text =
    status === 'live'
      ? 'Live'
      : status === 'reconnecting'
        ? 'Reconnecting…'
        : status === 'connecting'
          ? 'Connecting…'
          : 'Idle';
  return (
    <span role="status" className={`conn conn-${status}`} aria-label={`Connection: ${text}`}>
      <span className="dot" aria-hidden="true" />
      {text}
      {reconnects > 0 && (
        <span className="small muted">
          {' '}
          ({reconnects} reconnect{reconnects === 1 ? '' : 's'})
        </span>
      )}
    </span>
  );
}
