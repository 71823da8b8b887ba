import { index, pgTable, text, uuid, type AnyPgColumn } from 'drizzle-orm/pg-core';
import { createdAt, id, updatedAt } from '../../db/columns.js';
import { agents } from '../agents/agents.table.js';

export const teams = pgTable(
  'teams',
  {
    id: id(),
    name: text('name').notNull().unique(),
    /** The team lead is notified by escalations that target "team lead". */
    leadAgentId: uuid('lead_agent_id').references((): AnyPgColumn => agents.id, { onDelete: 'set null' }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [index('teams_lead_agent_id_idx').on(t.leadAgentId)],
);
