import { bigint, index, jsonb, pgTable, primaryKey, text, uuid } from 'drizzle-orm/pg-core';
import { createdAt } from '../../db/columns.js';
import { tickets } from './tickets.table.js';

/**
 * The append-only timeline. Rows are inserted, never updated (except re-parenting on merge).
 * Partitioned by month of created_at (issue 18, migration 0027; partitions made ahead by
 * modules/maintenance/partitions.service.ts), so the primary key must hold created_at too;
 * id alone stays unique (one identity sequence for every partition).
 */
export const ticketEvents = pgTable(
  'ticket_events',
  {
    id: bigint('id', { mode: 'number' }).notNull().generatedAlwaysAsIdentity(),
    ticketId: uuid('ticket_id')
      .notNull()
      .references(() => tickets.id),
    type: text('type').notNull(),
    actorKind: text('actor_kind').notNull(),
    actorId: text('actor_id'),
    data: jsonb('data').$type<Record<string, unknown>>().notNull().default({}),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ name: 'ticket_events_pkey', columns: [t.id, t.createdAt] }), index('ticket_events_ticket_id_idx').on(t.ticketId, t.id)],
);
