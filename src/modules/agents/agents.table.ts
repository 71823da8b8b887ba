import { sql } from 'drizzle-orm';
import { boolean, index, pgTable, text, uniqueIndex, uuid, type AnyPgColumn } from 'drizzle-orm/pg-core';
import { createdAt, id, updatedAt } from '../../db/columns.js';
import { teams } from '../teams/teams.table.js';

export const agents = pgTable(
  'agents',
  {
    id: id(),
    name: text('name').notNull(),
    email: text('email').notNull(),
    teamId: uuid('team_id').references((): AnyPgColumn => teams.id, { onDelete: 'set null' }),
    /** Languages the agent can answer in (ISO 639-1), for routing customers in their own language. */
    languages: text('languages').array().notNull().default(sql`'{}'::text[]`),
    active: boolean('active').notNull().default(true),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [uniqueIndex('agents_email_uq').on(sql`lower(${t.email})`), index('agents_team_id_idx').on(t.teamId)],
);
