import { index, pgTable, text, uuid } from 'drizzle-orm/pg-core';
import { createdAt, id, instant } from '../../db/columns.js';
import { agents } from '../agents/agents.table.js';

/**
 * API keys are stored as salted SHA-256 hashes: the secret is shown once at creation.
 * `prefix` is the public part of the key ("cdk_<prefix>_<secret>") used to find the row;
 * a fast hash is enough because secrets are 256 random bits, not passwords.
 */
export const apiKeys = pgTable(
  'api_keys',
  {
    id: id(),
    name: text('name').notNull(),
    role: text('role').notNull(),
    prefix: text('prefix').notNull().unique(),
    salt: text('salt').notNull(),
    hash: text('hash').notNull(),
    agentId: uuid('agent_id').references(() => agents.id, { onDelete: 'set null' }),
    createdAt: createdAt(),
    lastUsedAt: instant('last_used_at'),
    revokedAt: instant('revoked_at'),
  },
  (t) => [index('api_keys_agent_id_idx').on(t.agentId)],
);
