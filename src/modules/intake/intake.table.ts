import { customType, index, integer, jsonb, pgTable, text, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { createdAt, id, instant } from '../../db/columns.js';
import { messages } from '../tickets/messages.table.js';

export const bytea = customType<{ data: Buffer; driverData: Buffer }>({ dataType: () => 'bytea' });

/**
 * Every webhook body we answered 2xx, stored raw in the same transaction as its messages:
 * the audit trail, and the means to replay a payload after a parser fix. Unique on the
 * body's hash per channel, so a redelivered webhook stores nothing twice.
 */
export const inboundPayloads = pgTable(
  'inbound_payloads',
  {
    id: id(),
    channel: text('channel').notNull(),
    sha256: text('sha256').notNull(),
    contentType: text('content_type'),
    body: bytea('body').notNull(),
    /** What became of it: messages created, duplicates, events skipped and why. */
    outcome: jsonb('outcome').$type<Record<string, unknown>>().notNull().default({}),
    receivedAt: instant('received_at').notNull(),
  },
  (t) => [uniqueIndex('inbound_payloads_channel_sha_uq').on(t.channel, t.sha256), index('inbound_payloads_received_idx').on(t.receivedAt)],
);

/** Payloads we could not accept (malformed), kept with the reason instead of dropped. */
export const deadLetters = pgTable(
  'dead_letters',
  {
    id: id(),
    channel: text('channel').notNull(),
    reason: text('reason').notNull(),
    field: text('field'),
    contentType: text('content_type'),
    body: bytea('body').notNull(),
    receivedAt: instant('received_at').notNull(),
  },
  (t) => [index('dead_letters_received_idx').on(t.receivedAt)],
);

/** Attachment bytes: in Postgres by default, or a path under ATTACHMENTS_DIR. */
export const attachments = pgTable(
  'attachments',
  {
    id: id(),
    messageId: uuid('message_id')
      .notNull()
      .references(() => messages.id, { onDelete: 'cascade' }),
    filename: text('filename'),
    contentType: text('content_type').notNull(),
    size: integer('size').notNull(),
    checksum: text('checksum'),
    content: bytea('content'),
    storagePath: text('storage_path'),
    createdAt: createdAt(),
  },
  (t) => [index('attachments_message_id_idx').on(t.messageId)],
);

