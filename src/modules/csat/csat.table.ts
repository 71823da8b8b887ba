import { index, integer, pgTable, text, uuid } from 'drizzle-orm/pg-core';
import { createdAt, id, instant } from '../../db/columns.js';
import { agents } from '../agents/agents.table.js';
import { tickets } from '../tickets/tickets.table.js';

/**
 * A satisfaction survey offered when a ticket is solved. The token is the customer's
 * credential (single use, expiring); only its hash is stored.
 */
export const csatSurveys = pgTable(
  'csat_surveys',
  {
    id: id(),
    ticketId: uuid('ticket_id')
      .notNull()
      .references(() => tickets.id, { onDelete: 'cascade' }),
    tokenHash: text('token_hash').notNull().unique(),
    /** Who solved it: CSAT is reported per agent, team, channel and language. */
    agentId: uuid('agent_id').references(() => agents.id, { onDelete: 'set null' }),
    teamId: uuid('team_id'),
    channel: text('channel').notNull(),
    language: text('language'),
    /** Issue 16: which scale the token page shows and the report counts: csat (1-5) | ces (1-7) | nps (0-10). */
    kind: text('kind').notNull().default('csat'),
    offeredAt: instant('offered_at').notNull(),
    expiresAt: instant('expires_at').notNull(),
    respondedAt: instant('responded_at'),
    score: integer('score'),
    comment: text('comment'),
    createdAt: createdAt(),
  },
  (t) => [index('csat_surveys_ticket_id_idx').on(t.ticketId), index('csat_surveys_agent_id_idx').on(t.agentId), index('csat_surveys_offered_idx').on(t.offeredAt)],
);
