import { sql } from 'drizzle-orm';
import { check, index, pgTable, text, uuid } from 'drizzle-orm/pg-core';
import { createdAt, id, instant } from '../../db/columns.js';
import { agents } from '../agents/agents.table.js';
import { tickets } from '../tickets/tickets.table.js';

/**
 * Work on a ticket (issue 16): what agent frontends report (POST /v1/tickets/:id/work) and the
 * talk time of calls (source 'call'). Append-only; a ticket's handle time is recomputed from
 * all of its rows on every insert (work.service.ts) and kept on the ticket as bookkeeping.
 * After-work rows are stored already capped at AFTER_WORK_MAX_SEC of the ticket's channel
 * (`reported_ended_at` keeps what was reported).
 */
export const workIntervals = pgTable(
  'work_intervals',
  {
    id: id(),
    ticketId: uuid('ticket_id')
      .notNull()
      .references(() => tickets.id, { onDelete: 'cascade' }),
    agentId: uuid('agent_id')
      .notNull()
      .references(() => agents.id, { onDelete: 'cascade' }),
    /** handling | after_work */
    kind: text('kind').notNull(),
    /** api (reported by a frontend) | call (a call's talk time) */
    source: text('source').notNull(),
    startedAt: instant('started_at').notNull(),
    endedAt: instant('ended_at').notNull(),
    reportedEndedAt: instant('reported_ended_at').notNull(),
    /** The call's message, for calls: a call is counted once. */
    messageId: uuid('message_id'),
    createdAt: createdAt(),
  },
  (t) => [
    index('work_intervals_ticket_idx').on(t.ticketId),
    // The agent report: an agent's work overlapping a range.
    index('work_intervals_agent_started_idx').on(t.agentId, t.startedAt),
    index('work_intervals_started_idx').on(t.startedAt),
    index('work_intervals_message_uq').on(t.messageId).where(sql`${t.messageId} is not null`),
    check('work_intervals_order_ck', sql`${t.endedAt} >= ${t.startedAt}`),
  ],
);
