import { sql } from 'drizzle-orm';
import { bigint, boolean, index, integer, pgTable, text, uuid } from 'drizzle-orm/pg-core';
import { createdAt, id, instant, updatedAt } from '../../db/columns.js';
import { teams } from '../teams/teams.table.js';

/**
 * An IMAP mailbox we fetch complaints from (issue 19): its settings, its credentials (encrypted,
 * never returned), the fetch progress, the fetcher's lease and its status, in one row.
 */
export const mailboxes = pgTable(
  'mailboxes',
  {
    id: id(),
    name: text('name').notNull().unique(),
    host: text('host').notNull(),
    port: integer('port').notNull(),
    /** implicit: TLS from the first byte (993); starttls: upgrade after connecting (143); none: plain (loopback tests only). */
    tls: text('tls').notNull(),
    username: text('username').notNull(),
    /** password | oauth2 (XOAUTH2 with an access token obtained from a refresh token) */
    authKind: text('auth_kind').notNull(),
    /** AES-256-GCM with MAILBOX_SECRET_KEY: the password, or the refresh token and client secret (JSON). */
    secret: text('secret').notNull(),
    oauthTokenUrl: text('oauth_token_url'),
    oauthClientId: text('oauth_client_id'),
    oauthScope: text('oauth_scope'),
    folder: text('folder').notNull().default('INBOX'),
    /** seen: flag \Seen after ingest; move: move to moveTo */
    afterIngest: text('after_ingest').notNull().default('seen'),
    moveTo: text('move_to'),
    teamId: uuid('team_id').references(() => teams.id, { onDelete: 'set null' }),
    defaultPriority: text('default_priority').notNull().default('normal'),
    active: boolean('active').notNull().default(true),
    /** Progress: messages with a UID up to lastUid in a folder with this UIDVALIDITY are ingested. */
    uidValidity: bigint('uid_validity', { mode: 'bigint' }),
    lastUid: bigint('last_uid', { mode: 'number' }).notNull().default(0),
    /** The one fetcher across all worker processes: whoever holds an unexpired lease. */
    leaseOwner: text('lease_owner'),
    leaseExpiresAt: instant('lease_expires_at'),
    /** Status, as the fetcher last wrote it. */
    connected: boolean('connected').notNull().default(false),
    lastFetchedAt: instant('last_fetched_at'),
    lastError: text('last_error'),
    lastErrorAt: instant('last_error_at'),
    consecutiveFailures: integer('consecutive_failures').notNull().default(0),
    nextAttemptAt: instant('next_attempt_at'),
    /** Messages in the folder not yet ingested, as of the last look. */
    backlog: integer('backlog').notNull().default(0),
    ingestedCount: bigint('ingested_count', { mode: 'number' }).notNull().default(0),
    deadLetteredCount: bigint('dead_lettered_count', { mode: 'number' }).notNull().default(0),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [index('mailboxes_team_id_idx').on(t.teamId), index('mailboxes_active_idx').on(t.active).where(sql`${t.active}`)],
);

export type MailboxRow = typeof mailboxes.$inferSelect;
