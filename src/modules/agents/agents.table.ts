import { sql } from 'drizzle-orm';
import { boolean, index, jsonb, pgTable, text, uniqueIndex, uuid, type AnyPgColumn } from 'drizzle-orm/pg-core';
import { createdAt, id, instant, updatedAt } from '../../db/columns.js';
import type { CapacityOverride } from '../../domain/routing/routing.types.js';
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
    /** Routing (issue 13): online | away | offline; every change is also a row of agent_presence_events. */
    presence: text('presence').notNull().default('offline'),
    presenceChangedAt: instant('presence_changed_at'),
    /** The last request made with the agent's key (written at most every ~30 s): idle agents become away. */
    lastActivityAt: instant('last_activity_at'),
    /** Per-channel capacity overriding the team's defaults, channel by channel. */
    capacity: jsonb('capacity').$type<CapacityOverride>(),
    /** Extra teams the agent works in, besides team_id. */
    teamIds: uuid('team_ids').array().notNull().default(sql`'{}'::uuid[]`),
    /** When routing last gave the agent a ticket: ties and round robin go to the longest idle. */
    lastRoutedAt: instant('last_routed_at'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [uniqueIndex('agents_email_uq').on(sql`lower(${t.email})`), index('agents_team_id_idx').on(t.teamId)],
);
