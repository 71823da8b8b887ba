import { bigint, index, jsonb, pgTable, text, uuid } from 'drizzle-orm/pg-core';
import { instant, updatedAt } from '../../db/columns.js';
import type { CapacityOverride, RoutingSettings } from '../../domain/routing/routing.types.js';
import { agents } from '../agents/agents.table.js';

/** Append-only: every presence change of an agent (reports read shifts and idle time from it). */
export const agentPresenceEvents = pgTable(
  'agent_presence_events',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    agentId: uuid('agent_id')
      .notNull()
      .references(() => agents.id),
    status: text('status').notNull(),
    /** manual | idle | shift */
    reason: text('reason').notNull(),
    at: instant('at').notNull(),
  },
  (t) => [index('agent_presence_events_agent_at_idx').on(t.agentId, t.at)],
);

/** Settings of queues that are not a team row: today only 'default' (tickets with no team). */
export const routingQueues = pgTable('routing_queues', {
  key: text('key').primaryKey(),
  routing: jsonb('routing').$type<Partial<RoutingSettings>>(),
  capacity: jsonb('capacity').$type<CapacityOverride>(),
  updatedAt: updatedAt(),
});
