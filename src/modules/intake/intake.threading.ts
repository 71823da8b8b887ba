import { and, eq, gte, inArray, ne, notInArray, sql, type SQL } from 'drizzle-orm';
import type { NormalizedInbound } from '../../channels/channel.types.js';
import type { Executor } from '../../db/client.js';
import { messages } from '../tickets/messages.table.js';
import { tickets } from '../tickets/tickets.table.js';
import type { TicketRow } from '../tickets/tickets.repository.js';

export type ThreadMatch = { ticket: TicketRow; by: 'message-id' | 'ticket-number' | 'conversation' | 'call' | 'reply-to' | 'cross-channel' | 'flood' };

/** The thread key a message is stored under, so the next message of its conversation finds it. */
export function threadKeyOf(message: NormalizedInbound): string | null {
  if (message.thread.callId) return `call:${message.thread.callId}`;
  return message.thread.conversationKey ?? null;
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
  /** customerIsNew: created in this transaction, so it has no tickets to continue by number or across channels. */
  options: { crossChannelSince: Date | null; customerIsNew?: boolean },
): Promise<ThreadMatch | null> {
  // Every applicable step is one candidate of a single query (one round trip, not five),
  // ranked in the order above; message-based steps take their thread's latest message.
  const candidates: SQL[] = [];
  const latestMessage = (rank: number, by: ThreadMatch['by'], where: SQL | undefined) =>
    sql`(select ${messages.ticketId}, ${rank}::int, ${by}::text from ${messages} where ${where} order by ${messages.createdAt} desc limit 1)`;
  const referenced = message.thread.referencedMessageIds ?? [];
  if (referenced.length > 0) candidates.push(latestMessage(1, 'message-id', inArray(messages.messageIdHeader, referenced)));
  const knownCustomer = customerId !== null && !options.customerIsNew;
  if (message.thread.ticketNumber !== undefined && knownCustomer) {
    candidates.push(sql`(select ${tickets.id}, 2, 'ticket-number'::text from ${tickets} where ${and(eq(tickets.number, message.thread.ticketNumber), eq(tickets.customerId, customerId))})`);
  }
  const threadKey = threadKeyOf(message);
  if (threadKey) candidates.push(latestMessage(3, message.thread.callId ? 'call' : 'conversation', and(eq(messages.threadKey, threadKey), eq(messages.channel, message.channel))));
  if (message.thread.inReplyToProviderId) {
    candidates.push(latestMessage(4, 'reply-to', and(eq(messages.channel, message.channel), eq(messages.providerMessageId, message.thread.inReplyToProviderId))));
  }
  if (options.crossChannelSince && knownCustomer) {
    const open = and(
      eq(tickets.customerId, customerId),
      notInArray(tickets.status, ['solved', 'closed']),
      ne(tickets.channel, message.channel),
      gte(tickets.updatedAt, options.crossChannelSince),
    );
    candidates.push(sql`(select ${tickets.id}, 5, 'cross-channel'::text from ${tickets} where ${open} order by ${tickets.updatedAt} desc limit 1)`);
  }
  if (candidates.length === 0) return null;
  const [row] = await tx
    .select({ ticket: tickets, by: sql<ThreadMatch['by']>`candidate.by` })
    .from(tickets)
    .innerJoin(sql`(${sql.join(candidates, sql` union all `)}) as candidate (ticket_id, rank, by)`, sql`candidate.ticket_id = ${tickets.id}`)
    .orderBy(sql`candidate.rank`)
    .limit(1);
  return row ? { ticket: row.ticket, by: row.by } : null;
}
