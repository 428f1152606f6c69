import type { AuthClaims } from '../../../lib/auth.js';
import { ErrorCode, AppError, badInput, conflict, forbidden, unauthenticated } from '../../../lib/errors.js';
import { ipThrottleKey, type RequestThrottle } from '../../../lib/request-throttle.js';
import type { Logger } from '../../../lib/logger.js';
import type { AuthMetrics, LoginMethod } from './auth.metrics.js';
import type { AuthConfig } from './config.js';
import type { UserRow } from './db/schema.js';
import { isValidEmail, normalizeEmail } from './email.js';
import type { LoginThrottle } from './login-throttle.service.js';
import { PASSWORD_MAX_LENGTH, type PasswordHasher } from './password-hasher.js';
import type { ClientInfo, SessionGrant, SessionsClient } from './sessions.client.js';
import type { MembershipGrant, TenantsClient } from './tenants.client.js';
import type { TokenSigner } from './token.service.js';
import { EmailTakenError, type UserRepository } from './user.repository.js';

/** The user as the API shows it (never the password hash or the admin flag). */
export interface PublicUser {
  id: string;
  email: string;
  createdAt: Date;
}

/** What every sign-in mutation returns (the `AuthPayload` GraphQL type). */
export interface AuthPayload {
  accessToken: string;
  refreshToken: string;
  expiresAt: Date;
  user: PublicUser;
  session: { id: string };
  tenant: { id: string };
}

/** A verified external identity, as the OIDC flow hands it over. */
export interface ExternalIdentity {
  issuer: string;
  subject: string;
  email: string | undefined;
  emailVerified: boolean;
  name: string | undefined;
}

export const ORGANIZATION_NAME_MAX = 200;
const INVALID_CREDENTIALS = 'Invalid email or password';
/**
 * The one refusal of `register` for an address that already has an account. It cannot be made
 * indistinguishable from success (a new address gets tokens), so it says nothing more than needed, the
 * work before it is the same (argon2 hash first), and the per-IP registration throttle bounds probing.
 */
export const REGISTRATION_REFUSED =
  'Cannot register with these details; if you already have an account, sign in';

/** Collaborators of {@link AuthService}. */
export interface AuthServiceDeps {
  users: UserRepository;
  hasher: PasswordHasher;
  throttle: LoginThrottle;
  /** Registrations per client IP (counted before any work). */
  registerThrottle: RequestThrottle;
  tokens: TokenSigner;
  tenants: TenantsClient;
  sessions: SessionsClient;
  metrics: AuthMetrics;
  logger: Logger;
  config: Pick<AuthConfig, 'PASSWORD_MIN_LENGTH' | 'DEFAULT_TENANT_TEMPLATE'>;
}

function publicUser(u: UserRow): PublicUser {
  return { id: u.id, email: u.email, createdAt: u.createdAt };
}

function organizationName(raw: string): string {
  const name = raw.trim();
  if (name.length < 1 || name.length > ORGANIZATION_NAME_MAX) {
    throw badInput(`organizationName must be 1 to ${ORGANIZATION_NAME_MAX} characters`, {
      field: 'organizationName',
    });
  }
  return name;
}

/**
 * Identity rules: registration, password and OIDC sign-in, refresh, logout and tenant switches.
 * Users live here; organizations and memberships in tenants; sessions in sessions.
 */
export class AuthService {
  constructor(private readonly d: AuthServiceDeps) {}

  /**
   * Creates a user, an organization owned by them and a session. If the organization cannot be
   * created, the user row is deleted again, so a failed registration leaves nothing behind.
   * @throws RATE_LIMITED over the per-IP registration throttle (nothing is written), CONFLICT with
   *   {@link REGISTRATION_REFUSED} for an address that has an account (after the same argon2 work)
   */
  async register(
    input: { email: string; password: string; organizationName: string },
    client: ClientInfo,
  ): Promise<AuthPayload> {
    await this.d.registerThrottle.consume(ipThrottleKey(client.ipAddress));
    const email = normalizeEmail(input.email);
    if (!isValidEmail(email)) throw badInput('Invalid email address', { field: 'email' });
    const min = this.d.config.PASSWORD_MIN_LENGTH;
    if (input.password.length < min || input.password.length > PASSWORD_MAX_LENGTH) {
      throw badInput(`Password must be ${min} to ${PASSWORD_MAX_LENGTH} characters`, { field: 'password' });
    }
    const orgName = organizationName(input.organizationName);
    const passwordHash = await this.d.hasher.hash(input.password);
    const user = await this.insertUser(email, passwordHash);
    const tenantId = await this.createOwnedTenantOrUndo(user, orgName, client);
    return this.openAndSign(user, { tenantId, role: 'OWNER' }, 'register', client);
  }

  /**
   * Password sign-in. Unknown email, OIDC-only account and wrong password answer identically and
   * take the same time (a dummy argon2 verification runs for unknown accounts).
   * @throws RATE_LIMITED over a login limit (see {@link LoginThrottle}), UNAUTHENTICATED, FORBIDDEN for
   *   a tenant the user is not a member of
   */
  async login(
    input: { email: string; password: string; tenantId?: string | null | undefined },
    client: ClientInfo,
  ) {
    const email = normalizeEmail(input.email);
    let attempt;
    try {
      attempt = await this.d.throttle.begin(email, client.ipAddress);
    } catch (err) {
      this.d.metrics.loginFailures.inc({ reason: 'throttled' });
      throw err;
    }
    let user;
    try {
      user = await this.checkPassword(email, input.password);
    } catch (err) {
      await attempt.abandon();
      throw err;
    }
    if (!user) {
      await attempt.failed();
      this.d.metrics.loginFailures.inc({ reason: 'invalid_credentials' });
      throw unauthenticated(INVALID_CREDENTIALS);
    }
    await attempt.succeeded();
    const membership = await this.pickMembership(user.id, input.tenantId ?? undefined, client);
    return this.openAndSign(user, membership, 'password', client);
  }

  /**
   * Rotates a refresh token and issues a new access token. The role is read again, so a removed
   * membership (or a deleted user) ends the session.
   */
  async refresh(refreshToken: string, client: ClientInfo): Promise<AuthPayload> {
    const grant = await this.d.sessions.rotate(refreshToken, client);
    const user = await this.d.users.findById(grant.userId);
    const membership = user
      ? (await this.d.tenants.userMemberships(user.id, client.requestId)).find(
          (m) => m.tenantId === grant.tenantId,
        )
      : undefined;
    if (!user || !membership) {
      await this.d.sessions.end(grant.sessionId, client);
      throw unauthenticated('Membership no longer exists; sign in again');
    }
    return this.sign(user, membership, grant, 'refresh');
  }

  /** Ends the caller's session everywhere. */
  async logout(auth: AuthClaims, client: ClientInfo): Promise<boolean> {
    await this.d.sessions.end(auth.sessionId, client);
    return true;
  }

  /**
   * Moves the caller's session to another tenant they belong to.
   * @throws FORBIDDEN without a membership in `tenantId`
   */
  async switchTenant(auth: AuthClaims, tenantId: string, client: ClientInfo): Promise<AuthPayload> {
    const user = await this.d.users.findById(auth.userId);
    if (!user) throw unauthenticated();
    const memberships = await this.d.tenants.userMemberships(user.id, client.requestId);
    const membership = memberships.find((m) => m.tenantId === tenantId);
    if (!membership) throw forbidden('You are not a member of this organization');
    const grant = await this.d.sessions.switchTenant(auth.sessionId, tenantId, client);
    return this.sign(user, membership, grant, 'switch_tenant');
  }

  /** The user behind an id (the `User` entity and `me`); null when unknown. */
  async user(id: string): Promise<PublicUser | null> {
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) return null;
    const u = await this.d.users.findById(id);
    return u ? publicUser(u) : null;
  }

  /**
   * Signs in with a verified external identity: the linked user; else the user with the same email
   * when the provider verified it (the identity is linked); else a new user without a password and
   * an organization of their own.
   */
  async loginWithIdentity(
    identity: ExternalIdentity,
    newOrganizationName: string | undefined,
    client: ClientInfo,
  ): Promise<AuthPayload> {
    let user = await this.d.users.findByIdentity(identity.issuer, identity.subject);
    let created: { tenantId: string } | undefined;
    if (!user) {
      const email = identity.email === undefined ? '' : normalizeEmail(identity.email);
      if (!isValidEmail(email)) throw forbidden('The identity provider did not share a usable email address');
      // Linking or creating on an unverified address would let whoever controls the provider
      // account take over (or squat) the address.
      if (!identity.emailVerified)
        throw forbidden('The identity provider has not verified this email address');
      user = await this.d.users.findByEmail(email);
      if (!user) {
        const orgName = organizationName(newOrganizationName ?? defaultOrganizationName(identity, email));
        // A first OIDC sign-in is a registration: the same per-IP throttle applies.
        await this.d.registerThrottle.consume(ipThrottleKey(client.ipAddress));
        try {
          user = await this.insertUser(email, null);
          created = { tenantId: await this.createOwnedTenantOrUndo(user, orgName, client) };
        } catch (err) {
          // Lost a race with another sign-up for the same address: link to that user instead.
          if (!(err instanceof AppError && err.code === ErrorCode.Conflict)) throw err;
          user = await this.d.users.findByEmail(email);
          if (!user) throw err;
        }
      }
      await this.d.users.linkIdentity({
        issuer: identity.issuer,
        subject: identity.subject,
        userId: user.id,
        email,
      });
    }
    const membership = created
      ? ({ tenantId: created.tenantId, role: 'OWNER' } as const)
      : await this.pickMembership(user.id, undefined, client);
    return this.openAndSign(user, membership, 'oidc', client);
  }

  private async insertUser(email: string, passwordHash: string | null): Promise<UserRow> {
    try {
      return await this.d.users.insert({ email, passwordHash });
    } catch (err) {
      if (err instanceof EmailTakenError) throw conflict(REGISTRATION_REFUSED);
      throw err;
    }
  }

  private async createOwnedTenantOrUndo(user: UserRow, organizationName: string, client: ClientInfo) {
    try {
      const { tenantId } = await this.d.tenants.createOwnedTenant(
        { ownerUserId: user.id, organizationName, template: this.d.config.DEFAULT_TENANT_TEMPLATE },
        client.requestId,
      );
      return tenantId;
    } catch (err) {
      await this.d.users.delete(user.id).catch((deleteErr: unknown) => {
        this.d.logger.error(
          { err: deleteErr, userId: user.id },
          'could not undo user after failed tenant creation',
        );
      });
      throw err;
    }
  }

  private async checkPassword(email: string, password: string): Promise<UserRow | null> {
    // Oversized input is refused before any lookup, so it reveals nothing about the account.
    if (password.length === 0 || password.length > PASSWORD_MAX_LENGTH || !isValidEmail(email)) {
      await this.d.hasher.verifyDummy(password.slice(0, PASSWORD_MAX_LENGTH));
      return null;
    }
    const user = await this.d.users.findByEmail(email);
    if (!user?.passwordHash) {
      await this.d.hasher.verifyDummy(password);
      return null;
    }
    if (!(await this.d.hasher.verify(user.passwordHash, password))) return null;
    if (this.d.hasher.needsRehash(user.passwordHash)) {
      // Cost parameters changed since this hash was made; upgrade it while we know the password.
      await this.d.hasher
        .hash(password)
        .then((h) => this.d.users.updatePasswordHash(user.id, h))
        .catch((err: unknown) => this.d.logger.warn({ err, userId: user.id }, 'password rehash failed'));
    }
    return user;
  }

  private async pickMembership(userId: string, tenantId: string | undefined, client: ClientInfo) {
    const memberships = await this.d.tenants.userMemberships(userId, client.requestId);
    const chosen: MembershipGrant | undefined =
      tenantId === undefined ? memberships[0] : memberships.find((m) => m.tenantId === tenantId);
    if (!chosen) {
      this.d.metrics.loginFailures.inc({ reason: 'no_membership' });
      throw forbidden(
        tenantId === undefined
          ? 'You are not a member of any organization'
          : 'You are not a member of this organization',
      );
    }
    return chosen;
  }

  private async openAndSign(
    user: UserRow,
    membership: MembershipGrant,
    method: 'password' | 'register' | 'oidc',
    client: ClientInfo,
  ): Promise<AuthPayload> {
    const grant = await this.d.sessions.open(
      { userId: user.id, tenantId: membership.tenantId, method },
      client,
    );
    return this.sign(user, membership, grant, method);
  }

  private async sign(
    user: UserRow,
    membership: MembershipGrant,
    grant: SessionGrant,
    method: LoginMethod,
  ): Promise<AuthPayload> {
    const { accessToken, expiresAt } = await this.d.tokens.sign({
      userId: user.id,
      sessionId: grant.sessionId,
      tenantId: grant.tenantId,
      role: membership.role,
      platformAdmin: user.platformAdmin,
      email: user.email,
    });
    this.d.metrics.logins.inc({ method });
    return {
      accessToken,
      refreshToken: grant.refreshToken,
      expiresAt,
      user: publicUser(user),
      session: { id: grant.sessionId },
      tenant: { id: grant.tenantId },
    };
  }
}

function defaultOrganizationName(identity: ExternalIdentity, email: string): string {
  const who = identity.name?.trim() || email.split('@')[0] || email;
  return `${who}'s organization`.slice(0, ORGANIZATION_NAME_MAX);
}
