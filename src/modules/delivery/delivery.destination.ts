import { and, asc, desc, eq, isNotNull, isNull } from 'drizzle-orm';
import type { OutboundMessage } from '../../channels/channel.sender.js';
import type { Channel, IdentityKind } from '../../channels/channel.types.js';
import type { Executor } from '../../db/client.js';
import { VERIFIED } from '../customers/customers.repository.js';
import { customerIdentities } from '../customers/customers.table.js';
import { messages } from '../tickets/messages.table.js';
import type { TicketRow } from '../tickets/tickets.repository.js';

// The References header is a courtesy to mail clients; a long thread keeps its newest ids.
const MAX_REFERENCES = 20;

export type Destination = Omit<OutboundMessage, 'outboxId' | 'text' | 'html' | 'ticketNumber' | 'messageIdHeader'>;

/**
 * Where a reply goes: back on the channel the customer last wrote on, to the identity that
 * wrote, in that conversation. A ticket an agent opened by hand (no inbound message with a
 * sender) is answered on its channel at the customer's verified identity of that kind: a
 * suggested identity (an address someone typed) is a claim and never a destination.
 */
export async function resolveDestination(tx: Executor, ticket: TicketRow): Promise<Destination | { error: string }> {
  const [last] = await tx
    .select()
    .from(messages)
    .where(and(eq(messages.ticketId, ticket.id), eq(messages.direction, 'inbound'), isNull(messages.automated), isNotNull(messages.senderAddress)))
    .orderBy(desc(messages.createdAt))
    .limit(1);
  if (last?.senderKind && last.senderAddress && !last.senderAddress.startsWith('anonymous:')) {
    const channel = last.channel as Channel;
    const destination: Destination = {
      channel,
      to: { kind: last.senderKind as IdentityKind, address: last.senderAddress },
      subject: ticket.subject,
      language: ticket.language ?? undefined,
      thread: { conversationKey: last.threadKey ?? undefined, replyToProviderId: last.providerMessageId ?? undefined },
      lastInboundAt: last.sentAt ?? last.createdAt,
    };
    if (channel === 'email') {
      const ids = await tx
        .select({ id: messages.messageIdHeader })
        .from(messages)
        .where(and(eq(messages.ticketId, ticket.id), isNotNull(messages.messageIdHeader)))
        .orderBy(asc(messages.createdAt));
      destination.thread.inReplyToMessageId = last.messageIdHeader ?? undefined;
      destination.thread.references = [...new Set(ids.map((r) => r.id!))].slice(-MAX_REFERENCES);
    }
    return destination;
  }
  const kind = ticket.channel as IdentityKind;
  const [identity] = await tx
    .select()
    .from(customerIdentities)
    .where(and(eq(customerIdentities.customerId, ticket.customerId), eq(customerIdentities.kind, kind), VERIFIED))
    .orderBy(asc(customerIdentities.createdAt))
    .limit(1);
  if (!identity) return { error: `The customer has no ${ticket.channel} identity to answer on` };
  return {
    channel: ticket.channel as Channel,
    to: { kind, address: identity.address, displayName: identity.displayName ?? undefined },
    subject: ticket.subject,
    language: ticket.language ?? undefined,
    thread: {},
  };
}
