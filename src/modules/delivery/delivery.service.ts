import { and, eq, inArray, lt, sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import { PermanentSendError, type ChannelSender } from '../../channels/channel.sender.js';
import type { Channel } from '../../channels/channel.types.js';
import type { Database } from '../../db/client.js';
import type { Queues } from '../../queues/queues.js';
import type { Clock } from '../../shared/clock.js';
import { conflict, notFound } from '../../shared/errors.js';
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

export function createDeliveryService(deps: DeliveryDeps) {
  const { db, clock } = deps;

  async function finish(id: string, state: OutboxState, fields: { error?: string; providerMessageId?: string; attempts: number }, event: { type: string; data: Record<string, unknown> }) {
    const now = clock.now();
    await db.transaction(async (tx) => {
      const [row] = await tx
        .update(outbox)
        .set({ state, lastError: fields.error ?? null, providerMessageId: fields.providerMessageId ?? null, sentAt: state === 'sent' ? now : null, updatedAt: now })
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
    });
  }

  return {
    /**
     * Sends one reply. The row, not the job, is the truth: a row already sent is never sent
     * again, whichever job (a retry, a reconciler re-enqueue, a duplicate) arrives.
     */
    async deliver(outboxId: string, attemptNumber: number): Promise<DeliveryOutcome> {
      const [claimed] = await db
        .update(outbox)
        .set({ attempts: sql`${outbox.attempts} + 1`, updatedAt: clock.now() })
        .where(and(eq(outbox.id, outboxId), inArray(outbox.state, ['queued', 'failed'])))
        .returning();
      if (!claimed?.payload) return 'skipped';
      const sender = deps.senders[claimed.channel as Channel];
      if (!sender) {
        await finish(outboxId, 'dead', { error: `No ${claimed.channel} sender is configured`, attempts: claimed.attempts }, { type: 'delivery_dead', data: { reason: 'not-configured' } });
        return 'dead';
      }
      try {
        const result = await sender.send({ ...claimed.payload, outboxId });
        await finish(outboxId, 'sent', { providerMessageId: result.providerMessageId, attempts: claimed.attempts }, { type: 'delivered', data: { providerMessageId: result.providerMessageId, parts: 1 + (result.extraProviderMessageIds?.length ?? 0) } });
        return 'sent';
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        if (error instanceof PermanentSendError || attemptNumber >= deps.maxAttempts) {
          await finish(outboxId, 'dead', { error: message, attempts: claimed.attempts }, { type: 'delivery_dead', data: { error: message, ...(error instanceof PermanentSendError ? { code: error.code } : {}) } });
          return 'dead';
        }
        await finish(outboxId, 'failed', { error: message, attempts: claimed.attempts }, { type: 'delivery_failed', data: { error: message, attempt: attemptNumber } });
        return 'retry';
      }
    },

    /** Replays a dead (or failed) reply: a fresh job id, the attempt budget anew. */
    async retry(outboxId: string) {
      const [row] = await db
        .update(outbox)
        .set({ state: 'queued', attempts: 0, lastError: null, generation: sql`${outbox.generation} + 1`, updatedAt: clock.now() })
        .where(and(eq(outbox.id, outboxId), inArray(outbox.state, ['dead', 'failed']), sql`${outbox.payload} is not null`))
        .returning();
      if (!row) {
        const [exists] = await db.select({ state: outbox.state, payload: outbox.payload }).from(outbox).where(eq(outbox.id, outboxId));
        if (!exists) throw notFound('Outbox entry', outboxId);
        throw conflict('not-retryable', exists.payload ? `The reply is ${exists.state}; only failed or dead replies are retried` : 'The reply has no address to be sent to');
      }
      await db.update(messages).set({ deliveryState: 'queued', deliveryError: null }).where(eq(messages.id, row.messageId));
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
