import { sql } from 'drizzle-orm';
import { index, integer, jsonb, pgTable, text, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import type { OutboundMessage } from '../../channels/channel.sender.js';
import { createdAt, id, instant, updatedAt } from '../../db/columns.js';
import { messages } from '../tickets/messages.table.js';
import { tickets } from '../tickets/tickets.table.js';

export const OUTBOX_STATES = ['queued', 'sent', 'failed', 'dead'] as const;
export type OutboxState = (typeof OUTBOX_STATES)[number];

/**
 * One row per public reply to deliver, written in the reply's own transaction (the
 * transactional outbox): a reply that committed is delivered even if Redis lost its job.
 * `payload` is the OutboundMessage captured at write time, so every retry sends the same.
 */
export const outbox = pgTable(
  'outbox',
  {
    id: uuid('id').primaryKey(),
    messageId: uuid('message_id')
      .notNull()
      .unique()
      .references(() => messages.id, { onDelete: 'cascade' }),
    ticketId: uuid('ticket_id')
      .notNull()
      .references(() => tickets.id, { onDelete: 'cascade' }),
    channel: text('channel').notNull(),
    state: text('state').notNull().$type<OutboxState>(),
    attempts: integer('attempts').notNull().default(0),
    /** Bumped by a manual retry, so the new job gets a fresh deterministic id. */
    generation: integer('generation').notNull().default(1),
    lastError: text('last_error'),
    providerMessageId: text('provider_message_id'),
    payload: jsonb('payload').$type<Omit<OutboundMessage, 'outboxId'> | null>(),
    sentAt: instant('sent_at'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    index('outbox_ticket_id_idx').on(t.ticketId),
    index('outbox_state_idx').on(t.state, t.updatedAt).where(sql`${t.state} <> 'sent'`),
  ],
);

/** Canned replies, one version per language. */
export const templates = pgTable(
  'templates',
  {
    id: id(),
    name: text('name').notNull(),
    language: text('language').notNull(),
    subject: text('subject'),
    body: text('body').notNull(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [uniqueIndex('templates_name_language_uq').on(t.name, t.language)],
);
