import { integer, jsonb, pgTable, smallint, text, uuid } from 'drizzle-orm/pg-core';
import { instant } from '../../db/columns.js';

/**
 * The retention rules (one row, id 1; none: the defaults of domain/privacy/retention.ts) and what
 * the last maintenance run did. The audit trail's append-only trigger reads `audit_years` too: a
 * row past it is the only one a DELETE may remove.
 */
export const retentionSettings = pgTable('privacy_retention_settings', {
  id: smallint('id').primaryKey(),
  rawPayloadDays: integer('raw_payload_days').notNull().default(90),
  closedTicketMonths: integer('closed_ticket_months'),
  auditYears: integer('audit_years').notNull().default(5),
  updatedAt: instant('updated_at').notNull().defaultNow(),
  lastRunAt: instant('last_run_at'),
  lastRun: jsonb('last_run').$type<Record<string, unknown>>(),
});

/**
 * One row per erased customer: the proof that an erasure happened (when, by whom, why, what it
 * removed), and what makes a second request answer the first outcome instead of doing it again.
 * Holds no personal data: the reason is the admin's ("GDPR request #123"), the counts are numbers.
 */
export const customerErasures = pgTable('customer_erasures', {
  customerId: uuid('customer_id').primaryKey(),
  reason: text('reason').notNull(),
  actorKeyId: uuid('actor_key_id'),
  erasedAt: instant('erased_at').notNull(),
  removed: jsonb('removed').$type<Record<string, number>>().notNull(),
});
