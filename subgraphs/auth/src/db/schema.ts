/**
 * Platform tables of the auth subgraph, in the `auth` schema. No tenant id lives here, so these
 * tables need no row-level security; only auth reads or writes them.
 */
import { sql } from 'drizzle-orm';
import {
  boolean,
  check,
  customType,
  index,
  pgSchema,
  text,
  timestamp,
  unique,
  uuid,
} from 'drizzle-orm/pg-core';

/** Case-insensitive text (extension `citext`, created by lib/db-bootstrap in `public`). */
const citext = customType<{ data: string }>({
  dataType: () => 'citext',
});

export const auth = pgSchema('auth');

export const users = auth.table(
  'users',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    // Stored normalized (trim, NFKC, lower case); citext makes uniqueness case-insensitive even for
    // rows written outside the API (e.g. by hand in SQL).
    email: citext('email').notNull().unique('users_email_unique'),
    // Null for users who only ever signed in through OIDC.
    passwordHash: text('password_hash'),
    // Set by operators (`make` target or SQL), never through the API.
    platformAdmin: boolean('platform_admin').notNull().default(false),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  () => [check('users_email_length_check', sql`char_length("email") BETWEEN 3 AND 254`)],
);

export const identities = auth.table(
  'identities',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    issuer: text('issuer').notNull(),
    subject: text('subject').notNull(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    email: text('email'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    lastLoginAt: timestamp('last_login_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    unique('identities_issuer_subject_unique').on(t.issuer, t.subject),
    index('identities_user_id_idx').on(t.userId),
  ],
);

export type UserRow = typeof users.$inferSelect;
export type IdentityRow = typeof identities.$inferSelect;
