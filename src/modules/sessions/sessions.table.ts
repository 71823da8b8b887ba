import { index, pgTable, text, uuid } from 'drizzle-orm/pg-core';
import { instant } from '../../db/columns.js';
import { agents } from '../agents/agents.table.js';
import { apiKeys } from '../auth/api-keys.table.js';

/**
 * Browser sessions (Bull Board, the ops wall): one row per signed-in person. The cookie holds
 * a random id signed with the session secret; the row holds only its sha256, so a database
 * read does not hand out live cookies. Logout deletes the row; a revoked API key ends its
 * sessions at the next request (the lookup joins the key).
 */
export const browserSessions = pgTable(
  'browser_sessions',
  {
    idHash: text('id_hash').primaryKey(),
    /** The API key the person signed in with; null for an OIDC sign-in. */
    apiKeyId: uuid('api_key_id').references(() => apiKeys.id, { onDelete: 'cascade' }),
    /** Who the session acts as, fixed at sign-in (an API key's name and role, or the OIDC claims). */
    name: text('name').notNull(),
    role: text('role').notNull(),
    agentId: uuid('agent_id').references(() => agents.id, { onDelete: 'set null' }),
    /**
     * An OIDC sign-in: the issuer and the subject (sub) whose ID token opened the session, and the
     * principal's key id (the one its bearer tokens get, so the audit trail's actor_key_id is the
     * same person either way). Null for an API-key sign-in.
     */
    oidcIssuer: text('oidc_issuer'),
    oidcSubject: text('oidc_subject'),
    principalKeyId: uuid('principal_key_id'),
    createdAt: instant('created_at').notNull(),
    expiresAt: instant('expires_at').notNull(),
  },
  (t) => [index('browser_sessions_expires_at_idx').on(t.expiresAt)],
);

/**
 * Secrets the processes generate once and share through the database (the session signing
 * secret when SESSION_SECRET is unset): every API process, and the next start, signs with the
 * same one. First writer wins (insert … on conflict do nothing, then read).
 */
export const appSecrets = pgTable('app_secrets', {
  name: text('name').primaryKey(),
  value: text('value').notNull(),
  createdAt: instant('created_at').notNull(),
});
