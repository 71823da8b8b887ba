import { sql } from 'drizzle-orm';
import { bigint, boolean, index, integer, numeric, pgTable, real, text, uuid, type AnyPgColumn } from 'drizzle-orm/pg-core';
import { createdAt, id, instant, tsvector, updatedAt } from '../../db/columns.js';
import { agents } from '../agents/agents.table.js';
import { customers } from '../customers/customers.table.js';
import { reasons, rootCauses } from '../reasons/reasons.table.js';
import { teams } from '../teams/teams.table.js';

export const tickets = pgTable(
  'tickets',
  {
    id: id(),
    /** The number customers quote ("[#1042]"); an identity column, so a sequence hands it out. */
    number: bigint('number', { mode: 'number' }).notNull().generatedAlwaysAsIdentity({ startWith: 1000 }).unique(),
    status: text('status').notNull(),
    priority: text('priority').notNull(),
    channel: text('channel').notNull(),
    subject: text('subject').notNull(),
    /** The complaint as first written; with the subject it feeds full-text search. */
    description: text('description').notNull().default(''),
    customerId: uuid('customer_id')
      .notNull()
      .references(() => customers.id),
    assigneeId: uuid('assignee_id').references(() => agents.id, { onDelete: 'set null' }),
    teamId: uuid('team_id').references(() => teams.id, { onDelete: 'set null' }),
    language: text('language'),
    tags: text('tags').array().notNull().default(sql`'{}'::text[]`),
    firstAssignedAt: instant('first_assigned_at'),
    firstResponseAt: instant('first_response_at'),
    solvedAt: instant('solved_at'),
    closedAt: instant('closed_at'),
    reopenCount: integer('reopen_count').notNull().default(0),
    handoffCount: integer('handoff_count').notNull().default(0),
    escalationLevel: integer('escalation_level').notNull().default(0),
    /** First-contact resolution: pending until the reopen window after solving closes, then yes or no. */
    fcrState: text('fcr_state').notNull().default('pending'),
    fcrSettlesAt: instant('fcr_settles_at'),
    /** The SLA policy that matched at the last (re)evaluation; no FK: policies may be deleted. */
    slaPolicyId: uuid('sla_policy_id'),
    mergedIntoId: uuid('merged_into_id').references((): AnyPgColumn => tickets.id),
    followUpOfId: uuid('follow_up_of_id').references((): AnyPgColumn => tickets.id),
    /**
     * Issue 19: opened by an e-mail whose From failed sender authentication (DMARC, or SPF and
     * DKIM without DMARC). Such a ticket has its own customer and joined nothing by its From.
     */
    senderUnverified: boolean('sender_unverified').notNull().default(false),
    /** Why, for agents: the DMARC/SPF/DKIM results that failed. */
    senderUnverifiedReason: text('sender_unverified_reason'),
    /** Wrap-up (issue 16): why the customer complained, the root cause on our side, the outcome and any redress given. */
    reasonId: uuid('reason_id').references(() => reasons.id, { onDelete: 'restrict' }),
    rootCauseId: uuid('root_cause_id').references(() => rootCauses.id, { onDelete: 'restrict' }),
    /** upheld | partially_upheld | rejected | withdrawn */
    outcome: text('outcome'),
    /** refund | credit | replacement | goodwill, with an amount in an ISO 4217 currency. */
    redressKind: text('redress_kind'),
    redressAmount: numeric('redress_amount', { precision: 18, scale: 4, mode: 'number' }),
    redressCurrency: text('redress_currency'),
    /** Handle time (issue 16), bookkeeping of the work module: merged handling and after-work seconds of every agent. */
    handlingSec: real('handling_sec').notNull().default(0),
    afterWorkSec: real('after_work_sec').notNull().default(0),
    /** Optimistic concurrency: every write bumps it; a write with a stale version is refused. */
    version: integer('version').notNull().default(1),
    // 'simple' configuration: complaints come in Hebrew, Polish, Arabic… and no single
    // stemmer fits them all; exact-word matching works for every script.
    search: tsvector('search')
      .notNull()
      .generatedAlwaysAs(sql`to_tsvector('simple', coalesce(subject, '') || ' ' || coalesce(description, ''))`),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    // Keyset pagination walks (created_at, id); each filter has its own prefix so a filtered
    // page is an index range scan, not a sort.
    index('tickets_created_idx').on(t.createdAt, t.id),
    index('tickets_updated_idx').on(t.updatedAt, t.id),
    index('tickets_status_created_idx').on(t.status, t.createdAt, t.id),
    index('tickets_channel_created_idx').on(t.channel, t.createdAt, t.id),
    index('tickets_priority_created_idx').on(t.priority, t.createdAt, t.id),
    index('tickets_language_created_idx').on(t.language, t.createdAt, t.id),
    index('tickets_assignee_created_idx').on(t.assigneeId, t.createdAt, t.id),
    index('tickets_team_created_idx').on(t.teamId, t.createdAt, t.id),
    index('tickets_customer_created_idx').on(t.customerId, t.createdAt, t.id),
    index('tickets_merged_into_id_idx').on(t.mergedIntoId),
    index('tickets_follow_up_of_id_idx').on(t.followUpOfId),
    index('tickets_search_idx').using('gin', t.search),
    index('tickets_fcr_settle_idx').on(t.fcrSettlesAt).where(sql`${t.fcrState} = 'pending' and ${t.fcrSettlesAt} is not null`),
    index('tickets_tags_idx').using('gin', t.tags),
    // KPI report (issue 6): tickets first answered / solved in a date range.
    index('tickets_first_response_at_idx').on(t.firstResponseAt).where(sql`${t.firstResponseAt} is not null`),
    index('tickets_solved_at_idx').on(t.solvedAt).where(sql`${t.solvedAt} is not null`),
    // KPI backlog by day/week: tickets closed in a date range (solved ones come from solved_at).
    index('tickets_closed_at_idx').on(t.closedAt).where(sql`${t.closedAt} is not null`),
    // A policy change recomputes the open tickets it governs (workers/sla-recovery.ts).
    index('tickets_sla_policy_id_idx').on(t.slaPolicyId),
    // Routing (issue 13): a team's waiting tickets, and an agent's load per channel.
    index('tickets_routing_waiting_idx').on(t.teamId, t.createdAt).where(sql`${t.assigneeId} is null and ${t.status} in ('new', 'open')`),
    index('tickets_routing_load_idx').on(t.assigneeId, t.channel).where(sql`${t.assigneeId} is not null and ${t.status} in ('new', 'open')`),
  ],
);
