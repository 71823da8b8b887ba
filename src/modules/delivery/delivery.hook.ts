import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import type { Executor } from '../../db/client.js';
import { unlessRedisIsAway, type Queues } from '../../queues/queues.js';
import type { TicketChange, TicketHook } from '../tickets/tickets.hooks.js';
import { messages } from '../tickets/messages.table.js';
import { resolveDestination } from './delivery.destination.js';
import { outbox } from './delivery.table.js';
import { deliveryJobId, deliveryJobOptions } from './delivery.jobs.js';

/**
 * The transactional outbox: a public reply and the row that promises its delivery commit
 * together; the job is only a wake-up call, enqueued after commit (and re-enqueued by the
 * reconciler if that fails or Redis loses it).
 */
export function createDeliveryHook(deps: { queues: Queues; messageIdDomain: string; maxAttempts: number; backoffMs: number }): TicketHook {
  const pending = new WeakMap<TicketChange, { id: string; generation: number }[]>();
  return {
    async inTransaction(tx: Executor, change: TicketChange) {
      // Agent replies and system messages to the customer (a satisfaction survey) go out alike.
      const replies = change.events.filter((e) => e.type === 'agent_reply' || e.type === 'survey_offered');
      if (replies.length === 0) return;
      const created: { id: string; generation: number }[] = [];
      for (const reply of replies) {
        const messageId = String(reply.data?.messageId);
        const [message] = await tx.select().from(messages).where(eq(messages.id, messageId));
        if (!message) continue;
        const id = randomUUID();
        const destination = await resolveDestination(tx, change.ticket);
        if ('error' in destination) {
          await tx.insert(outbox).values({ id, messageId, ticketId: change.ticket.id, channel: change.ticket.channel, state: 'dead', lastError: destination.error, payload: null, createdAt: change.now, updatedAt: change.now });
          await tx.update(messages).set({ deliveryState: 'dead', deliveryError: destination.error }).where(eq(messages.id, messageId));
          continue;
        }
        const messageIdHeader = destination.channel === 'email' ? `<outbox-${id}@${deps.messageIdDomain}>` : undefined;
        await tx.insert(outbox).values({
          id,
          messageId,
          ticketId: change.ticket.id,
          channel: destination.channel,
          state: 'queued',
          payload: { ...destination, ticketNumber: change.ticket.number, text: message.bodyText, html: message.bodyHtml ?? undefined, messageIdHeader },
          createdAt: change.now,
          updatedAt: change.now,
        });
        // Our Message-ID is stored on the reply now, so the customer's answer threads to it.
        await tx.update(messages).set({ channel: destination.channel, messageIdHeader: messageIdHeader ?? null }).where(eq(messages.id, messageId));
        created.push({ id, generation: 1 });
      }
      pending.set(change, created);
    },

    async afterCommit(change: TicketChange) {
      const rows = pending.get(change) ?? [];
      for (const row of rows) {
        // The outbox row is committed: with Redis away the reply is still accepted, and the
        // reconciler re-queues outbox rows that have no job (DeliveryService.reconcile).
        const queued = await unlessRedisIsAway(() => deps.queues.delivery.add('deliver', { outboxId: row.id }, { jobId: deliveryJobId(row.id, row.generation), ...deliveryJobOptions(deps) }));
        if (!queued) break;
      }
    },
  };
}
