import { and, desc, eq, gte, inArray, ne, notInArray, type SQL } from 'drizzle-orm';
import type { NormalizedInbound } from '../../channels/channel.types.js';
import type { Executor } from '../../db/client.js';
import { messages } from '../tickets/messages.table.js';
import { tickets } from '../tickets/tickets.table.js';
import type { TicketRow } from '../tickets/tickets.repository.js';

export type ThreadMatch = { ticket: TicketRow; by: 'message-id' | 'ticket-number' | 'conversation' | 'call' | 'reply-to' | 'cross-channel' };

/** The thread key a message is stored under, so the next message of its conversation finds it. */
export function threadKeyOf(message: NormalizedInbound): string | null {
  if (message.thread.callId) return `call:${message.thread.callId}`;
  return message.thread.conversationKey ?? null;
}

async function ticketOfMessage(tx: Executor, where: SQL | undefined): Promise<TicketRow | undefined> {
  const [row] = await tx
    .select({ ticket: tickets })
    .from(messages)
    .innerJoin(tickets, eq(tickets.id, messages.ticketId))
    .where(where)
    .orderBy(desc(messages.createdAt))
    .limit(1);
  return row?.ticket;
}

/**
 * Finds the ticket an inbound message continues, strongest evidence first:
 * 1. an e-mail's In-Reply-To/References naming a Message-ID we stored (unguessable);
 * 2. a "[#1234]" subject token, but only when the ticket is this customer's: a number is
 *    easy to guess, and a stranger must not be able to write into someone's complaint;
 * 3. the same Messenger/DM conversation, post, or call;
 * 4. a reply to a tweet or comment we stored;
 * 5. the customer's open ticket on another channel, updated within the window (one complaint
 *    raised on three channels is one ticket).
 */
export async function findThread(
  tx: Executor,
  message: NormalizedInbound,
  /** Null for automated mail from an unknown sender: only the steps that need no customer run. */
  customerId: string | null,
  options: { crossChannelSince: Date | null },
): Promise<ThreadMatch | null> {
  const referenced = message.thread.referencedMessageIds ?? [];
  if (referenced.length > 0) {
    const ticket = await ticketOfMessage(tx, inArray(messages.messageIdHeader, referenced));
    if (ticket) return { ticket, by: 'message-id' };
  }
  if (message.thread.ticketNumber !== undefined && customerId) {
    const [ticket] = await tx.select().from(tickets).where(and(eq(tickets.number, message.thread.ticketNumber), eq(tickets.customerId, customerId)));
    if (ticket) return { ticket, by: 'ticket-number' };
  }
  const threadKey = threadKeyOf(message);
  if (threadKey) {
    const ticket = await ticketOfMessage(tx, and(eq(messages.threadKey, threadKey), eq(messages.channel, message.channel)));
    if (ticket) return { ticket, by: message.thread.callId ? 'call' : 'conversation' };
  }
  if (message.thread.inReplyToProviderId) {
    const ticket = await ticketOfMessage(tx, and(eq(messages.channel, message.channel), eq(messages.providerMessageId, message.thread.inReplyToProviderId)));
    if (ticket) return { ticket, by: 'reply-to' };
  }
  if (options.crossChannelSince && customerId) {
    const [ticket] = await tx
      .select()
      .from(tickets)
      .where(
        and(
          eq(tickets.customerId, customerId),
          notInArray(tickets.status, ['solved', 'closed']),
          ne(tickets.channel, message.channel),
          gte(tickets.updatedAt, options.crossChannelSince),
        ),
      )
      .orderBy(desc(tickets.updatedAt))
      .limit(1);
    if (ticket) return { ticket, by: 'cross-channel' };
  }
  return null;
}
