import { and, eq, sql } from 'drizzle-orm';
import { BuiltStatement, type Db } from '../../../lib/db.js';
import { identities, users, type UserRow } from './db/schema.js';

/** Thrown by {@link UserRepository.insert} when the email is taken (unique violation). */
export class EmailTakenError extends Error {
  constructor() {
    super('email already registered');
    this.name = 'EmailTakenError';
  }
}

function isUniqueViolation(err: unknown): boolean {
  // drizzle wraps driver errors; the pg error (code 23505) is the cause.
  for (let e: unknown = err; e; e = (e as { cause?: unknown }).cause) {
    if ((e as { code?: unknown }).code === '23505') return true;
  }
  return false;
}

/** A user by id: every `me` reads it, so drizzle builds it once (lib/db BuiltStatement). */
const BY_ID = new BuiltStatement((db) =>
  db
    .select()
    .from(users)
    .where(eq(users.id, sql.placeholder('id')))
    .limit(1)
    .prepare('auth_user_by_id'),
);

/** SQL for users and their external identities (schema `auth`). */
export class UserRepository {
  constructor(private readonly db: Db) {}

  async findById(id: string): Promise<UserRow | null> {
    const rows = await BY_ID.run(this.db, { id });
    return rows[0] ?? null;
  }

  /** By normalized email (citext compares case-insensitively anyway). */
  async findByEmail(email: string): Promise<UserRow | null> {
    const rows = await this.db.select().from(users).where(eq(users.email, email)).limit(1);
    return rows[0] ?? null;
  }

  /**
   * Inserts a user. `platform_admin` is never written here: it keeps its default (false).
   * @throws EmailTakenError when the email is registered already
   */
  async insert(input: { email: string; passwordHash: string | null }): Promise<UserRow> {
    try {
      const rows = await this.db
        .insert(users)
        .values({ email: input.email, passwordHash: input.passwordHash })
        .returning();
      return rows[0]!;
    } catch (err) {
      if (isUniqueViolation(err)) throw new EmailTakenError();
      throw err;
    }
  }

  async delete(id: string): Promise<void> {
    await this.db.delete(users).where(eq(users.id, id));
  }

  async updatePasswordHash(id: string, passwordHash: string): Promise<void> {
    await this.db.update(users).set({ passwordHash }).where(eq(users.id, id));
  }

  /** The user linked to an external identity; touches its last login time. */
  async findByIdentity(issuer: string, subject: string): Promise<UserRow | null> {
    const rows = await this.db
      .update(identities)
      .set({ lastLoginAt: sql`now()` })
      .where(and(eq(identities.issuer, issuer), eq(identities.subject, subject)))
      .returning({ userId: identities.userId });
    const userId = rows[0]?.userId;
    return userId ? this.findById(userId) : null;
  }

  /** Links an external identity to a user (idempotent for the same pair). */
  async linkIdentity(input: { issuer: string; subject: string; userId: string; email: string | null }) {
    await this.db
      .insert(identities)
      .values(input)
      .onConflictDoNothing({ target: [identities.issuer, identities.subject] });
  }
}
