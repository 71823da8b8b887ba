import { sql } from 'drizzle-orm';
import { boolean, index, integer, jsonb, pgTable, text, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { createdAt, id, instant } from '../../db/columns.js';
import { agents } from '../agents/agents.table.js';
import type { AttachmentMeta } from '../../channels/channel.types.js';
import type { SenderAuthentication } from '../../domain/mail/sender-verdict.js';
import { tickets } from './tickets.table.js';

/** An attachment as the message row keeps it: its metadata and an id, never its bytes. */
export type StoredAttachment = Omit<AttachmentMeta, 'content'> & { id: string };

export const messages = pgTable(
  'messages',
  {
    id: id(),
    ticketId: uuid('ticket_id')
      .notNull()
      .references(() => tickets.id),
    /** inbound: from the customer; outbound: from us (a public reply or an internal note). */
    direction: text('direction').notNull(),
    /** message | note | call | voicemail */
    kind: text('kind').notNull().default('message'),
    public: boolean('public').notNull(),
    authorKind: text('author_kind').notNull(),
    authorAgentId: uuid('author_agent_id').references(() => agents.id, { onDelete: 'set null' }),
    channel: text('channel').notNull(),
    /** Inbound: the identity that wrote (kind and normalized address), where a reply goes back. */
    senderKind: text('sender_kind'),
    senderAddress: text('sender_address'),
    providerMessageId: text('provider_message_id'),
    /** Conversation, post or call this message belongs to, for threading the next one. */
    threadKey: text('thread_key'),
    /** E-mail Message-ID we received or sent, for threading the next mail in the conversation. */
    messageIdHeader: text('message_id_header'),
    subject: text('subject'),
    bodyText: text('body_text').notNull(),
    bodyHtml: text('body_html'),
    language: text('language'),
    attachments: jsonb('attachments').$type<StoredAttachment[]>().notNull().default(sql`'[]'::jsonb`),
    /** Why a machine-made message (auto-reply, bounce) does not count as the customer speaking. */
    automated: text('automated'),
    /** Inbound e-mail (issue 19): SPF, DKIM, DMARC and ARC results and the verdict on its From. */
    authentication: jsonb('authentication').$type<SenderAuthentication>(),
    deliveryState: text('delivery_state'),
    deliveryAttempts: integer('delivery_attempts').notNull().default(0),
    deliveryError: text('delivery_error'),
    sentAt: instant('sent_at'),
    createdAt: createdAt(),
  },
  (t) => [
    // The idempotency key of every inbound webhook: a redelivery hits this and creates nothing.
    uniqueIndex('messages_channel_provider_id_uq')
      .on(t.channel, t.providerMessageId)
      .where(sql`${t.providerMessageId} is not null`),
    index('messages_ticket_created_idx').on(t.ticketId, t.createdAt, t.id),
    index('messages_message_id_header_idx').on(t.messageIdHeader).where(sql`${t.messageIdHeader} is not null`),
    index('messages_author_agent_id_idx').on(t.authorAgentId),
    index('messages_thread_key_idx').on(t.threadKey, t.createdAt).where(sql`${t.threadKey} is not null`),
  ],
);
