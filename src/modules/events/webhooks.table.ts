import { sql } from 'drizzle-orm';
import { bigint, boolean, index, integer, pgTable, primaryKey, text, uuid } from 'drizzle-orm/pg-core';
import { createdAt, id, instant, updatedAt, xid8 } from '../../db/columns.js';

/**
 * An integration's webhook subscription. The signing secret is kept as given to the subscriber
 * (a Standard Webhooks `whsec_` key): signing needs it in clear. After a rotation the previous
 * secret keeps signing too until `previous_secret_expires_at` (both signatures are sent), so a
 * subscriber can switch without losing a delivery.
 */
export const webhookSubscriptions = pgTable('webhook_subscriptions', {
  id: id(),
  url: text('url').notNull(),
  description: text('description'),
  /** Null: every event type, present and future. */
  eventTypes: text('event_types').array(),
  secret: text('secret').notNull(),
  previousSecret: text('previous_secret'),
  previousSecretExpiresAt: instant('previous_secret_expires_at'),
  active: boolean('active').notNull().default(true),
  /** Why the service disabled it (persistent failures); null when an admin set `active`. */
  disabledReason: text('disabled_reason'),
  disabledAt: instant('disabled_at'),
  /** Deliveries that ran out of retries in a row; reset by any success. */
  consecutiveFailures: integer('consecutive_failures').notNull().default(0),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
});

export const DELIVERY_STATES = ['pending', 'delivering', 'succeeded', 'failed'] as const;
export type DeliveryState = (typeof DELIVERY_STATES)[number];

/**
 * One event to one subscription. A resource's deliveries go out one at a time in event-id
 * order (the head of its chain is the lowest unfinished event id), each retried with backoff
 * until `expires_at`, then failed.
 */
export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    id: id(),
    subscriptionId: uuid('subscription_id')
      .notNull()
      .references(() => webhookSubscriptions.id, { onDelete: 'cascade' }),
    eventId: bigint('event_id', { mode: 'number' }).notNull(),
    eventType: text('event_type').notNull(),
    resourceKey: text('resource_key').notNull(),
    state: text('state').$type<DeliveryState>().notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: instant('next_attempt_at').notNull(),
    /** While 'delivering': a worker that dies mid-request leaves it to be retried after this. */
    leaseUntil: instant('lease_until'),
    expiresAt: instant('expires_at').notNull(),
    lastResponseCode: integer('last_response_code'),
    lastLatencyMs: integer('last_latency_ms'),
    lastError: text('last_error'),
    lastAttemptAt: instant('last_attempt_at'),
    deliveredAt: instant('delivered_at'),
    createdAt: createdAt(),
  },
  (t) => [
    index('webhook_deliveries_subscription_idx').on(t.subscriptionId, t.createdAt),
    index('webhook_deliveries_chain_idx').on(t.subscriptionId, t.resourceKey, t.eventId).where(sql`state in ('pending', 'delivering')`),
    index('webhook_deliveries_due_idx').on(t.nextAttemptAt).where(sql`state = 'pending'`),
    index('webhook_deliveries_event_idx').on(t.eventId),
  ],
);

/**
 * The deliveries of one (subscription, resource) still to be finished form a chain that goes
 * out one at a time in event-id order. This table holds one row per chain with work left, and
 * when its head may next be acted on, so the claim reads O(batch) rows: the due chains, then
 * each one's head through webhook_deliveries_chain_idx. Without it the claim walked every due
 * delivery of the backlog to find the few that head their chain (issue 15's profile: 420 ms
 * per claim with a 50,000-delivery backlog over 500 resources).
 *
 * `due_at`: the head's next_attempt_at while it waits, or its lease's end while it is being
 * delivered (`in_flight`; an expired lease makes the chain due again, as a dead worker's
 * delivery must be retried). Written by dispatch (a new chain), the claim, and settlement
 * (the chain advances to its next delivery, or its row goes when none is left); settlement
 * and dispatch lock the row, so a delivery dispatched while its chain finishes is never
 * left without a chain.
 */
export const webhookDeliveryChains = pgTable(
  'webhook_delivery_chains',
  {
    subscriptionId: uuid('subscription_id')
      .notNull()
      .references(() => webhookSubscriptions.id, { onDelete: 'cascade' }),
    resourceKey: text('resource_key').notNull(),
    dueAt: instant('due_at').notNull(),
    inFlight: boolean('in_flight').notNull().default(false),
  },
  (t) => [
    primaryKey({ columns: [t.subscriptionId, t.resourceKey] }),
    index('webhook_delivery_chains_due_idx').on(t.subscriptionId, t.dueAt),
    index('webhook_delivery_chains_in_flight_idx').on(t.subscriptionId, t.dueAt).where(sql`in_flight`),
  ],
);

/** Where the dispatcher stands in the outbox, in (tx_id, id) order: one row. */
export const webhookDispatchCursor = pgTable('webhook_dispatch_cursor', {
  id: integer('id').primaryKey(),
  txId: xid8('tx_id').notNull(),
  eventId: bigint('event_id', { mode: 'number' }).notNull(),
  updatedAt: updatedAt(),
});
