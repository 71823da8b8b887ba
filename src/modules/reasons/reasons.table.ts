import { sql } from 'drizzle-orm';
import { boolean, index, jsonb, pgTable, text, uniqueIndex, uuid, type AnyPgColumn } from 'drizzle-orm/pg-core';
import { createdAt, id, updatedAt } from '../../db/columns.js';

/**
 * Complaint reasons (issue 16): a managed two-level tree (Delivery → Damaged parcel), each with a
 * stable code and names per language. A ticket is classified by a reason (a leaf where a team
 * requires one on solve) and a root cause.
 */
export const reasons = pgTable(
  'reasons',
  {
    id: id(),
    /** null: a top-level reason; otherwise its parent (top-level only: two levels). */
    parentId: uuid('parent_id').references((): AnyPgColumn => reasons.id, { onDelete: 'restrict' }),
    code: text('code').notNull(),
    name: text('name').notNull(),
    /** Names by language (ISO 639-1): {"he": "...", "pl": "..."}. */
    translations: jsonb('translations').$type<Record<string, string>>().notNull().default(sql`'{}'::jsonb`),
    active: boolean('active').notNull().default(true),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [uniqueIndex('reasons_code_uq').on(sql`lower(${t.code})`), index('reasons_parent_idx').on(t.parentId)],
);

/** Root causes (issue 16): why the complaint happened on our side (a carrier, a billing bug...). */
export const rootCauses = pgTable(
  'root_causes',
  {
    id: id(),
    code: text('code').notNull(),
    name: text('name').notNull(),
    translations: jsonb('translations').$type<Record<string, string>>().notNull().default(sql`'{}'::jsonb`),
    active: boolean('active').notNull().default(true),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [uniqueIndex('root_causes_code_uq').on(sql`lower(${t.code})`)],
);
