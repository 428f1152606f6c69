import * as oidc from 'openid-client';
import { badInput, unauthenticated } from '../../../lib/errors.js';
import type { Logger } from '../../../lib/logger.js';
import type { Redis } from '../../../lib/redis.js';
import type { ExternalIdentity } from './auth.service.js';
import type { AuthConfig } from './config.js';

/** How long a started login may take before its state is forgotten. */
export const OIDC_STATE_TTL_SECONDS = 600;

/** Id of the single configured provider in `oidcProviders`. */
export const OIDC_PROVIDER_ID = 'oidc';

interface PendingLogin {
  codeVerifier: string;
  nonce: string;
  organizationName: string | null;
}

/** Result of a completed authorization-code exchange. */
export interface CompletedOidcLogin {
  identity: ExternalIdentity;
  organizationName: string | undefined;
}

type OidcConfig = Pick<
  AuthConfig,
  | 'OIDC_ISSUER'
  | 'OIDC_CLIENT_ID'
  | 'OIDC_CLIENT_SECRET'
  | 'OIDC_REDIRECT_URI'
  | 'OIDC_SCOPES'
  | 'OIDC_ALLOW_INSECURE'
>;

const stateKey = (state: string): string => `oidc:state:${state}`;

/**
 * OpenID Connect sign-in against the configured provider: authorization code with PKCE (S256),
 * `state` and `nonce`. The pending login lives in Redis for ten minutes and can be completed once.
 */
export class OidcService {
  private discovered: Promise<oidc.Configuration> | undefined;

  private constructor(
    private readonly config: OidcConfig & {
      OIDC_ISSUER: string;
      OIDC_CLIENT_ID: string;
      OIDC_REDIRECT_URI: string;
    },
    private readonly redis: Redis,
    private readonly logger: Logger,
  ) {}

  /** The service, or null when OIDC is not configured. */
  static fromConfig(config: OidcConfig, redis: Redis, logger: Logger): OidcService | null {
    const { OIDC_ISSUER, OIDC_CLIENT_ID, OIDC_REDIRECT_URI } = config;
    if (!OIDC_ISSUER || !OIDC_CLIENT_ID || !OIDC_REDIRECT_URI) return null;
    return new OidcService({ ...config, OIDC_ISSUER, OIDC_CLIENT_ID, OIDC_REDIRECT_URI }, redis, logger);
  }

  get issuer(): string {
    return this.config.OIDC_ISSUER;
  }

  /** Starts a login; the caller redirects the browser to `authorizationUrl`. */
  async start(organizationName: string | null | undefined) {
    const orgName = organizationName?.trim() ?? null;
    if (orgName !== null && (orgName.length < 1 || orgName.length > 200)) {
      throw badInput('organizationName must be 1 to 200 characters', { field: 'organizationName' });
    }
    const cfg = await this.discover();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const codeVerifier = oidc.randomPKCECodeVerifier();
    const authorizationUrl = oidc.buildAuthorizationUrl(cfg, {
      redirect_uri: this.config.OIDC_REDIRECT_URI,
      scope: this.config.OIDC_SCOPES,
      code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    const pending: PendingLogin = { codeVerifier, nonce, organizationName: orgName };
    await this.redis.set(stateKey(state), JSON.stringify(pending), 'EX', OIDC_STATE_TTL_SECONDS);
    return {
      authorizationUrl: authorizationUrl.href,
      state,
      expiresAt: new Date(Date.now() + OIDC_STATE_TTL_SECONDS * 1000),
    };
  }

  /**
   * Completes a login from the authorization response parameters: consumes the state (single use),
   * exchanges the code with the PKCE verifier, validates the ID token (signature, issuer, audience,
   * nonce) and reads the email from the ID token or, failing that, from userinfo.
   * @throws UNAUTHENTICATED for an unknown, expired or reused state, a provider error or a bad response
   */
  async complete(params: URLSearchParams): Promise<CompletedOidcLogin> {
    const state = params.get('state');
    if (!state) throw badInput('state is required', { field: 'state' });
    const raw = await this.redis.getdel(stateKey(state));
    if (!raw) throw unauthenticated('Unknown or expired sign-in attempt; start again');
    const pending = JSON.parse(raw) as PendingLogin;
    if (params.get('error')) {
      throw unauthenticated(
        `The identity provider refused the sign-in (${params.get('error')?.slice(0, 100)})`,
      );
    }
    const cfg = await this.discover();
    // We talk to one provider, so a response without `iss` (RFC 9207) can only be from it; mix-up
    // attacks need several. Filled in so providers that advertise `iss` support still validate.
    if (!params.get('iss')) params.set('iss', cfg.serverMetadata().issuer);
    const callback = new URL(this.config.OIDC_REDIRECT_URI);
    callback.search = params.toString();
    try {
      const tokens = await oidc.authorizationCodeGrant(cfg, callback, {
        pkceCodeVerifier: pending.codeVerifier,
        expectedState: state,
        expectedNonce: pending.nonce,
        idTokenExpected: true,
      });
      const claims = tokens.claims();
      if (!claims) throw new Error('no ID token');
      let email = typeof claims['email'] === 'string' ? claims['email'] : undefined;
      let verified = claims['email_verified'] === true;
      let name = typeof claims['name'] === 'string' ? claims['name'] : undefined;
      if (email === undefined && cfg.serverMetadata().userinfo_endpoint) {
        const info = await oidc.fetchUserInfo(cfg, tokens.access_token, claims.sub);
        email = typeof info.email === 'string' ? info.email : undefined;
        verified = info.email_verified === true;
        name ??= typeof info.name === 'string' ? info.name : undefined;
      }
      return {
        identity: { issuer: claims.iss, subject: claims.sub, email, emailVerified: verified, name },
        organizationName: pending.organizationName ?? undefined,
      };
    } catch (err) {
      this.logger.warn({ err }, 'OIDC code exchange failed');
      throw unauthenticated('The sign-in could not be completed');
    }
  }

  private discover(): Promise<oidc.Configuration> {
    this.discovered ??= oidc
      .discovery(
        new URL(this.config.OIDC_ISSUER),
        this.config.OIDC_CLIENT_ID,
        this.config.OIDC_CLIENT_SECRET,
        // Without a secret the client is public: PKCE alone protects the code.
        this.config.OIDC_CLIENT_SECRET ? undefined : oidc.None(),
        {
          timeout: 10,
          ...(this.config.OIDC_ALLOW_INSECURE && this.config.OIDC_ISSUER.startsWith('http:')
            ? { execute: [oidc.allowInsecureRequests] }
            : {}),
        },
      )
      .catch((err: unknown) => {
        // Forget the failure so the next attempt discovers again (the provider may be back).
        this.discovered = undefined;
        this.logger.error({ err }, 'OIDC discovery failed');
        throw err;
      });
    return this.discovered;
  }
}
