import { and, desc, eq, inArray, lt, sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import { PermanentSendError, type ChannelSender } from '../../channels/channel.sender.js';
import type { Channel } from '../../channels/channel.types.js';
import type { Database, Executor } from '../../db/client.js';
import type { Queues } from '../../queues/queues.js';
import type { Clock } from '../../shared/clock.js';
import { conflict, notFound } from '../../shared/errors.js';
import { cursorKeys, decodeCursor, toPage } from '../../http/pagination.js';
import { appendEvents, type Actor } from '../tickets/tickets.repository.js';
import { messages } from '../tickets/messages.table.js';
import { deliveryJobId, deliveryJobOptions } from './delivery.jobs.js';
import { outbox, type OutboxState } from './delivery.table.js';

const DELIVERY: Actor = { kind: 'system', id: 'delivery' };
/** A queued row untouched this long has lost its job (Redis flushed, enqueue failed). */
const STUCK_AFTER_MS = 30_000;

export type DeliveryOutcome = 'sent' | 'skipped' | 'dead' | 'retry';

export interface DeliveryDeps {
  db: Database;
  clock: Clock;
  logger: Logger;
  queues: Queues;
  senders: Partial<Record<Channel, ChannelSender>>;
  maxAttempts: number;
  backoffMs: number;
}

/** What operations see of an outbox row (not its payload or generation). */
const OUTBOX_VIEW_COLUMNS = {
  id: outbox.id,
  messageId: outbox.messageId,
  ticketId: outbox.ticketId,
  channel: outbox.channel,
  state: outbox.state,
  attempts: outbox.attempts,
  lastError: outbox.lastError,
  providerMessageId: outbox.providerMessageId,
  sentAt: outbox.sentAt,
  createdAt: outbox.createdAt,
  updatedAt: outbox.updatedAt,
};

export function createDeliveryService(deps: DeliveryDeps) {
  const { db, clock } = deps;

  /** Records an attempt's outcome, in the transaction that holds the row's lock. */
  async function finish(tx: Executor, id: string, state: OutboxState, fields: { error?: string; providerMessageId?: string; attempts: number }, event: { type: string; data: Record<string, unknown> }) {
    const now = clock.now();
    const [row] = await tx
      .update(outbox)
      .set({ state, attempts: fields.attempts, lastError: fields.error ?? null, providerMessageId: fields.providerMessageId ?? null, sentAt: state === 'sent' ? now : null, updatedAt: now })
      .where(eq(outbox.id, id))
      .returning();
    if (!row) return;
    await tx
      .update(messages)
      .set({
        deliveryState: state,
        deliveryAttempts: fields.attempts,
        deliveryError: fields.error ?? null,
        ...(fields.providerMessageId ? { providerMessageId: fields.providerMessageId, sentAt: now } : {}),
      })
      .where(eq(messages.id, row.messageId));
    await appendEvents(tx, row.ticketId, DELIVERY, [{ type: event.type, data: { messageId: row.messageId, outboxId: id, channel: row.channel, ...event.data } }], now);
  }

  return {
    /**
     * Sends one reply. The row, not the job, is the truth: a row already sent is never sent
     * again, whichever job (a retry, a reconciler re-enqueue, a duplicate) arrives. The row
     * stays locked while the provider is called, so a second job that arrives meanwhile (the
     * automatic retry after a manual one, a re-enqueue after Redis lost the job) skips it
     * instead of sending a second copy. A worker that dies mid-send drops its connection and
     * with it the lock: the row is still queued, and the reconciler hands it on.
     */
    async deliver(outboxId: string, attemptNumber: number): Promise<DeliveryOutcome> {
      return db.transaction(async (tx) => {
        const [claimed] = await tx
          .select()
          .from(outbox)
          .where(and(eq(outbox.id, outboxId), inArray(outbox.state, ['queued', 'failed'])))
          .for('update', { skipLocked: true });
        if (!claimed?.payload) return 'skipped';
        const attempts = claimed.attempts + 1;
        const sender = deps.senders[claimed.channel as Channel];
        if (!sender) {
          await finish(tx, outboxId, 'dead', { error: `No ${claimed.channel} sender is configured`, attempts }, { type: 'delivery_dead', data: { reason: 'not-configured' } });
          return 'dead';
        }
        try {
          const result = await sender.send({ ...claimed.payload, outboxId });
          await finish(tx, outboxId, 'sent', { providerMessageId: result.providerMessageId, attempts }, { type: 'delivered', data: { providerMessageId: result.providerMessageId, parts: 1 + (result.extraProviderMessageIds?.length ?? 0) } });
          return 'sent';
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error);
          if (error instanceof PermanentSendError || attemptNumber >= deps.maxAttempts) {
            await finish(tx, outboxId, 'dead', { error: message, attempts }, { type: 'delivery_dead', data: { error: message, ...(error instanceof PermanentSendError ? { code: error.code } : {}) } });
            return 'dead';
          }
          await finish(tx, outboxId, 'failed', { error: message, attempts }, { type: 'delivery_failed', data: { error: message, attempt: attemptNumber } });
          return 'retry';
        }
      });
    },

    /** Replays a dead (or failed) reply: a fresh job id, the attempt budget anew. */
    /** Replies by delivery state, most recently changed first (keyset over updated_at, id). */
    async list(query: { state: OutboxState[]; ticketId?: string | undefined; limit: number; cursor?: string | undefined }) {
      const cursor = decodeCursor(query.cursor, cursorKeys.instant);
      const rows = await db
        .select(OUTBOX_VIEW_COLUMNS)
        .from(outbox)
        .where(
          and(
            inArray(outbox.state, query.state),
            query.ticketId ? eq(outbox.ticketId, query.ticketId) : undefined,
            cursor ? sql`(${outbox.updatedAt}, ${outbox.id}) < (${new Date(cursor.v)}, ${cursor.id}::uuid)` : undefined,
          ),
        )
        .orderBy(desc(outbox.updatedAt), desc(outbox.id))
        .limit(query.limit + 1);
      return toPage(rows, query.limit, (r) => ({ v: r.updatedAt.toISOString(), id: r.id }), (r) => r);
    },

    async retry(outboxId: string) {
      const row = await db.transaction(async (tx) => {
        // A row locked by a send in flight is not waited for (that can take a provider timeout).
        const [candidate] = await tx
          .select({ id: outbox.id })
          .from(outbox)
          .where(and(eq(outbox.id, outboxId), inArray(outbox.state, ['dead', 'failed']), sql`${outbox.payload} is not null`))
          .for('update', { skipLocked: true });
        if (!candidate) {
          const [exists] = await tx.select({ state: outbox.state, payload: outbox.payload }).from(outbox).where(eq(outbox.id, outboxId));
          if (!exists) throw notFound('Outbox entry', outboxId);
          if (!exists.payload) throw conflict('not-retryable', 'The reply has no address to be sent to');
          if (exists.state === 'dead' || exists.state === 'failed') throw conflict('not-retryable', 'The reply is being sent right now');
          throw conflict('not-retryable', `The reply is ${exists.state}; only failed or dead replies are retried`);
        }
        const [updated] = await tx
          .update(outbox)
          .set({ state: 'queued', attempts: 0, lastError: null, generation: sql`${outbox.generation} + 1`, updatedAt: clock.now() })
          .where(eq(outbox.id, outboxId))
          .returning();
        await tx.update(messages).set({ deliveryState: 'queued', deliveryError: null }).where(eq(messages.id, updated!.messageId));
        return updated!;
      });
      await deps.queues.delivery.add('deliver', { outboxId }, { jobId: deliveryJobId(row.id, row.generation), ...deliveryJobOptions(deps) });
      return row;
    },

    /**
     * Replies whose job vanished (Redis flushed, enqueue failed after commit) are enqueued
     * again under the same job id, which collapses into the job if it does exist.
     */
    async reconcile(): Promise<number> {
      const stuck = await db
        .select({ id: outbox.id, generation: outbox.generation })
        .from(outbox)
        .where(and(inArray(outbox.state, ['queued', 'failed']), lt(outbox.updatedAt, new Date(clock.now().getTime() - STUCK_AFTER_MS))))
        .limit(500);
      if (stuck.length === 0) return 0;
      // getJob below goes to the raw queue, past the producer guard: wait for the connection
      // here as add() would (a fresh process's first reconcile would otherwise be refused).
      await deps.queues.delivery.ready();
      let requeued = 0;
      for (const row of stuck) {
        const jobId = deliveryJobId(row.id, row.generation);
        const job = await deps.queues.delivery.queue.getJob(jobId);
        const state = job ? await job.getState() : 'missing';
        if (state === 'failed') await job!.remove();
        if (state === 'missing' || state === 'failed' || state === 'unknown') {
          await deps.queues.delivery.add('deliver', { outboxId: row.id }, { jobId, ...deliveryJobOptions(deps) });
          requeued++;
        }
      }
      return requeued;
    },
  };
}

export type DeliveryService = ReturnType<typeof createDeliveryService>;
