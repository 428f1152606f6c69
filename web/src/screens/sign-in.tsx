// Sign in and sign up on one form: Email and Password for both, Organization name to create an
// account. OIDC providers, when configured, get a button each; the provider redirects back to this
// page with ?code&state, which completeOidcLogin exchanges for a session.
import { useMutation, useQuery } from '@apollo/client/react';
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { tokensOf } from '../apollo';
import { describeError } from '../errors';
import { graphql } from '../gql';
import { usePlatform } from '../platform-context';

const RegisterMutation = graphql(`
  mutation Register($input: RegisterInput!) {
    register(input: $input) {
      ...AuthFields
    }
  }
`);

const LoginMutation = graphql(`
  mutation Login($input: LoginInput!) {
    login(input: $input) {
      ...AuthFields
    }
  }
`);

const OidcProvidersQuery = graphql(`
  query OidcProviders {
    oidcProviders {
      id
      issuer
    }
  }
`);

const StartOidcMutation = graphql(`
  mutation StartOidcLogin($input: StartOidcLoginInput) {
    startOidcLogin(input: $input) {
      authorizationUrl
    }
  }
`);

const CompleteOidcMutation = graphql(`
  mutation CompleteOidcLogin($input: CompleteOidcLoginInput!) {
    completeOidcLogin(input: $input) {
      ...AuthFields
    }
  }
`);

const anonymous = { context: { anonymous: true } } as const;

/** The signed-out page. */
export function SignIn(): React.JSX.Element {
  const { session } = usePlatform();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [organization, setOrganization] = useState('');
  const [error, setError] = useState('');
  const [register, reg] = useMutation(RegisterMutation, anonymous);
  const [login, log] = useMutation(LoginMutation, anonymous);
  const [startOidc] = useMutation(StartOidcMutation, anonymous);
  const [completeOidc] = useMutation(CompleteOidcMutation, anonymous);
  const providers = useQuery(OidcProvidersQuery, { ...anonymous, fetchPolicy: 'cache-first' });
  const busy = reg.loading || log.loading;
  const completing = useRef(false);

  useEffect(() => {
    const params = new URLSearchParams(location.search);
    const code = params.get('code');
    const state = params.get('state');
    if (!code || !state || completing.current) return;
    completing.current = true;
    history.replaceState(null, '', location.pathname + location.hash);
    completeOidc({ variables: { input: { code, state, iss: params.get('iss') } } }).then(
      ({ data }) => data && session.set(tokensOf(data.completeOidcLogin)),
      (err: unknown) => setError(describeError(err)),
    );
  }, [completeOidc, session]);

  const signIn = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setError('');
    try {
      const { data } = await login({ variables: { input: { email, password } } });
      if (data) session.set(tokensOf(data.login));
    } catch (err) {
      setError(describeError(err));
    }
  };
  const createAccount = async (): Promise<void> => {
    setError('');
    if (!organization.trim()) {
      setError('Enter an organization name to create an account.');
      return;
    }
    try {
      const { data } = await register({
        variables: { input: { email, password, organizationName: organization.trim() } },
      });
      if (data) session.set(tokensOf(data.register));
    } catch (err) {
      setError(describeError(err));
    }
  };
  const oidc = async (): Promise<void> => {
    try {
      const { data } = await startOidc({
        variables: { input: organization.trim() ? { organizationName: organization.trim() } : {} },
      });
      if (data) location.assign(data.startOidcLogin.authorizationUrl);
    } catch (err) {
      setError(describeError(err));
    }
  };

  return (
    <main className="auth" aria-labelledby="auth-title">
      <form className="panel auth-form" onSubmit={(e) => void signIn(e)}>
        <h1 id="auth-title">TradeSage</h1>
        <p className="muted">Sign in, or create an account with a new organization.</p>
        <label>
          Email
          <input
            type="email"
            autoComplete="username"
            required
            value={email}
            onChange={(e) => setEmail(e.target.value)}
          />
        </label>
        <label>
          Password
          <input
            type="password"
            autoComplete="current-password"
            required
            minLength={8}
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </label>
        <label>
          Organization name
          <input
            type="text"
            autoComplete="organization"
            value={organization}
            aria-describedby="org-hint"
            onChange={(e) => setOrganization(e.target.value)}
          />
        </label>
        <p id="org-hint" className="hint">
          Only to create an account.
        </p>
        <div className="row">
          <button type="submit" disabled={busy}>
            Sign in
          </button>
          <button type="button" className="secondary" disabled={busy} onClick={() => void createAccount()}>
            Create account
          </button>
        </div>
        {(providers.data?.oidcProviders ?? []).map((p) => (
          <button key={p.id} type="button" className="secondary" onClick={() => void oidc()}>
            Continue with {new URL(p.issuer).host}
          </button>
        ))}
        <p role="alert" className="error">
          {error}
        </p>
      </form>
    </main>
  );
}
