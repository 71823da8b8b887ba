import { boolean, index, jsonb, pgTable, text, uuid, type AnyPgColumn } from 'drizzle-orm/pg-core';
import { createdAt, id, updatedAt } from '../../db/columns.js';
import type { CapacityOverride, RoutingSettings } from '../../domain/routing/routing.types.js';
import { agents } from '../agents/agents.table.js';

export const teams = pgTable(
  'teams',
  {
    id: id(),
    name: text('name').notNull().unique(),
    /** The team lead is notified by escalations that target "team lead". */
    leadAgentId: uuid('lead_agent_id').references((): AnyPgColumn => agents.id, { onDelete: 'set null' }),
    /** Routing (issue 13): the team's default capacity per channel, and its routing settings (missing keys: defaults). */
    capacity: jsonb('capacity').$type<CapacityOverride>(),
    routing: jsonb('routing').$type<Partial<RoutingSettings>>(),
    /** Issue 16: solving a ticket of this team needs a complaint reason (a leaf of the tree). */
    requireReasonOnSolve: boolean('require_reason_on_solve').notNull().default(false),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [index('teams_lead_agent_id_idx').on(t.leadAgentId)],
);
