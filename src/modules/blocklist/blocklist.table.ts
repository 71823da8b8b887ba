import { sql } from 'drizzle-orm';
import { check, integer, pgTable, text, uniqueIndex } from 'drizzle-orm/pg-core';
import { createdAt, id, instant } from '../../db/columns.js';

/**
 * Senders whose messages open no ticket: one identity (kind + normalized address, as stored on
 * customer_identities), or every address of an e-mail domain. Their payloads are still kept
 * (inbound_payloads, with outcome "blocked" naming the entry); `blocked_count` and
 * `last_blocked_at` are what an agent audits.
 */
export const blocklistEntries = pgTable(
  'blocklist_entries',
  {
    id: id(),
    kind: text('kind').notNull(),
    value: text('value').notNull(),
    reason: text('reason'),
    blockedCount: integer('blocked_count').notNull().default(0),
    lastBlockedAt: instant('last_blocked_at'),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('blocklist_entries_kind_value_uq').on(t.kind, t.value),
    check('blocklist_entries_kind_ck', sql`${t.kind} in ('email', 'domain', 'phone', 'facebook', 'twitter')`),
  ],
);
