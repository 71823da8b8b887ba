import { index, integer, jsonb, pgTable, primaryKey, text, uuid } from 'drizzle-orm/pg-core';
import { instant } from '../db/columns.js';

/**
 * The first answer to a POST sent with an Idempotency-Key, per API key: replayed to a retry with
 * the same key and request, refused (422) for the same key with another request. A row is
 * 'running' while its request is being worked on (a concurrent retry gets 409), 'committed' once
 * a transaction of the work committed (written in that transaction), 'done' with the answer once
 * it is sent. 5xx answers before any commit are not kept: the client may retry them.
 */
export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    apiKeyId: uuid('api_key_id').notNull(),
    key: text('key').notNull(),
    /** sha256 of method, path, principal and body: "the same request". */
    requestHash: text('request_hash').notNull(),
    state: text('state', { enum: ['running', 'committed', 'done'] }).notNull(),
    status: integer('status'),
    /** The answer's headers worth replaying (content-type, etag, location). */
    headers: jsonb('headers').$type<Record<string, string>>(),
    body: text('body'),
    /** When the running request took the key; a 'running' row older than the lock window is taken over (its process died). */
    lockedAt: instant('locked_at').notNull(),
    createdAt: instant('created_at').notNull(),
    expiresAt: instant('expires_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.apiKeyId, t.key] }), index('idempotency_keys_expires_at_idx').on(t.expiresAt)],
);
