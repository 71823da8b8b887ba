import { index, integer, pgTable, text, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { createdAt, id, instant } from '../../db/columns.js';
import { tickets } from '../tickets/tickets.table.js';

/**
 * Calls offered to the phone queue (issue 16), from the call events Twilio and PBX connectors
 * already post: each ends answered (after `wait_sec` in the queue) or abandoned (the caller hung
 * up after `wait_sec`). Written by the work hook from the call's timeline event, once per call.
 */
export const phoneQueueCalls = pgTable(
  'phone_queue_calls',
  {
    id: id(),
    ticketId: uuid('ticket_id')
      .notNull()
      .references(() => tickets.id, { onDelete: 'cascade' }),
    /** The provider's call id. */
    callId: text('call_id').notNull(),
    channel: text('channel').notNull(),
    /** answered | abandoned */
    outcome: text('outcome').notNull(),
    waitSec: integer('wait_sec').notNull(),
    /** When the call entered the queue (the event's instant minus the wait). */
    offeredAt: instant('offered_at').notNull(),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('phone_queue_calls_call_uq').on(t.callId), index('phone_queue_calls_offered_idx').on(t.offeredAt), index('phone_queue_calls_ticket_idx').on(t.ticketId)],
);
