import { sql } from 'drizzle-orm';
import { customType, index, integer, jsonb, pgTable, primaryKey, text, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { createdAt, id, instant } from '../../db/columns.js';
import { messages } from '../tickets/messages.table.js';

export const bytea = customType<{ data: Buffer; driverData: Buffer }>({ dataType: () => 'bytea' });

/**
 * Every webhook body we answered 2xx, stored raw in the same transaction as its messages:
 * the audit trail, and the means to replay a payload after a parser fix. A redelivered
 * webhook stores nothing twice: its (channel, hash) is claimed in inbound_payload_keys first.
 * Partitioned by month of received_at (issue 18, migration 0027), so the key holds
 * received_at and no unique index on (channel, sha256) can exist here: the claim table keeps
 * the dedupe exact across months. Expired months are dropped whole (modules/maintenance).
 */
export const inboundPayloads = pgTable(
  'inbound_payloads',
  {
    id: uuid('id').notNull().default(sql`gen_random_uuid()`),
    channel: text('channel').notNull(),
    sha256: text('sha256').notNull(),
    contentType: text('content_type'),
    body: bytea('body').notNull(),
    /** What became of it: messages created, duplicates, events skipped and why. */
    outcome: jsonb('outcome').$type<Record<string, unknown>>().notNull().default({}),
    receivedAt: instant('received_at').notNull(),
  },
  (t) => [primaryKey({ name: 'inbound_payloads_pkey', columns: [t.id, t.receivedAt] }), index('inbound_payloads_received_idx').on(t.receivedAt)],
);

/**
 * One row per stored raw payload, not partitioned: the (channel, hash) a payload claims in
 * the transaction that stores it (insert … on conflict do nothing). A concurrent delivery of
 * the same bytes waits on the claim and then stores nothing, in any month. Rows go with the
 * raw-payload retention (the partition job deletes claims older than it).
 */
export const inboundPayloadKeys = pgTable(
  'inbound_payload_keys',
  {
    channel: text('channel').notNull(),
    sha256: text('sha256').notNull(),
    receivedAt: instant('received_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.channel, t.sha256] }), index('inbound_payload_keys_received_idx').on(t.receivedAt)],
);

/**
 * Signature tokens already seen (Mailgun signs timestamp + token, not the content), with a digest
 * of the content each first came with. A token is accepted again only with the same content: a
 * provider's redelivery passes (and is deduplicated downstream), a captured signature replayed
 * with other content is refused. Rows are pruned once their signature is too old to verify
 * anyway; kept in Postgres, not Redis, so that losing Redis cannot reopen the replay window.
 */
export const webhookTokens = pgTable(
  'webhook_tokens',
  {
    channel: text('channel').notNull(),
    token: text('token').notNull(),
    contentDigest: text('content_digest').notNull(),
    /** After this, the signature fails its age check, so the row is no longer needed. */
    expiresAt: instant('expires_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.channel, t.token] }), index('webhook_tokens_expires_idx').on(t.expiresAt)],
);

/**
 * Payloads we could not accept (malformed), kept with the reason instead of dropped. One row per
 * distinct body per channel: a provider retrying (or anyone re-posting) the same refused bytes
 * bumps `deliveries` and `last_received_at` instead of storing the body again, so repeated
 * deliveries cannot grow the table without bound.
 */
export const deadLetters = pgTable(
  'dead_letters',
  {
    id: id(),
    channel: text('channel').notNull(),
    /** hex SHA-256 of body. */
    sha256: text('sha256').notNull(),
    reason: text('reason').notNull(),
    field: text('field'),
    contentType: text('content_type'),
    body: bytea('body').notNull(),
    /** How many times these bytes were refused on this channel. */
    deliveries: integer('deliveries').notNull().default(1),
    /** The first delivery. */
    receivedAt: instant('received_at').notNull(),
    lastReceivedAt: instant('last_received_at').notNull(),
  },
  (t) => [index('dead_letters_received_idx').on(t.receivedAt), uniqueIndex('dead_letters_channel_sha_uq').on(t.channel, t.sha256)],
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

