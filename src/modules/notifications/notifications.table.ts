import { jsonb, pgTable, text } from 'drizzle-orm/pg-core';
import { createdAt, id } from '../../db/columns.js';

/**
 * A notification decided in a transaction (an escalation level's notify actions) and not yet
 * on the notifications queue. Written in that transaction, so a committed escalation always has
 * its notifications; deleted once the job is queued. A row left behind (Redis was away) is
 * queued by the reconciler: Postgres, not Redis, holds what is still to be sent.
 */
export const pendingNotifications = pgTable('pending_notifications', {
  id: id(),
  /** The notifications queue's job name: 'email' or 'webhook'. */
  job: text('job').$type<'email' | 'webhook'>().notNull(),
  data: jsonb('data').$type<Record<string, unknown>>().notNull(),
  createdAt: createdAt(),
});
