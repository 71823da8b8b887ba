import { sql } from 'drizzle-orm';
import { bigint, index, integer, jsonb, pgTable, text, uuid } from 'drizzle-orm/pg-core';
import { instant, xid8 } from '../../db/columns.js';

/**
 * The transactional outbox of domain events (src/domain/events/catalog.ts). A row is written in
 * the same transaction as the change it describes, so an event exists if and only if its change
 * committed. `tx_id` is the writing transaction's id: readers deliver only rows whose
 * transaction is older than every transaction of this database still running, in (tx_id, id)
 * order, which is what makes a resumed stream gap-free (see commit-order.ts).
 */
export const domainEvents = pgTable(
  'domain_events',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    txId: xid8('tx_id')
      .notNull()
      .default(sql`pg_current_xact_id()`),
    type: text('type').notNull(),
    version: integer('version').notNull(),
    resourceType: text('resource_type').notNull(),
    resourceId: text('resource_id').notNull(),
    data: jsonb('data').$type<Record<string, unknown>>().notNull(),
    occurredAt: instant('occurred_at').notNull(),
    /** Who may see it on the live stream with an agent key: the ticket's team and assignee then (null: staff above agents only). */
    teamId: uuid('team_id'),
    assigneeId: uuid('assignee_id'),
  },
  (t) => [index('domain_events_tx_order_idx').on(t.txId, t.id), index('domain_events_resource_idx').on(t.resourceType, t.resourceId, t.id), index('domain_events_occurred_idx').on(t.occurredAt)],
);

export type DomainEventRow = typeof domainEvents.$inferSelect;
