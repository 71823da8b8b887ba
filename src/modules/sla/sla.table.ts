import { sql } from 'drizzle-orm';
import { bigint, doublePrecision, index, integer, jsonb, pgTable, primaryKey, real, text, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { createdAt, id, instant, updatedAt, xid8 } from '../../db/columns.js';
import type { CalendarDefinition } from '../../domain/calendar.js';
import type { EscalationLevel, SlaPolicy, SlaTargets } from '../../domain/sla/sla.types.js';
import { agents } from '../agents/agents.table.js';
import { tickets } from '../tickets/tickets.table.js';

export const calendars = pgTable('calendars', {
  id: id(),
  name: text('name').notNull().unique(),
  definition: jsonb('definition').$type<CalendarDefinition>().notNull(),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
});

export const slaPolicies = pgTable(
  'sla_policies',
  {
    id: id(),
    name: text('name').notNull().unique(),
    position: integer('position').notNull(),
    match: jsonb('match').$type<SlaPolicy['match']>().notNull(),
    calendarId: uuid('calendar_id').references(() => calendars.id, { onDelete: 'restrict' }),
    targets: jsonb('targets').$type<SlaTargets>().notNull(),
    warnAt: real('warn_at').notNull().default(0.75),
    escalation: jsonb('escalation').$type<EscalationLevel[]>().notNull().default(sql`'[]'::jsonb`),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [index('sla_policies_calendar_id_idx').on(t.calendarId), index('sla_policies_position_idx').on(t.position)],
);

/** One row per (ticket, metric): the current clock. A restarted clock reuses its row. */
export const slaClocks = pgTable(
  'sla_clocks',
  {
    id: id(),
    ticketId: uuid('ticket_id')
      .notNull()
      .references(() => tickets.id, { onDelete: 'cascade' }),
    policyId: uuid('policy_id').references(() => slaPolicies.id, { onDelete: 'set null' }),
    metric: text('metric').notNull(),
    state: text('state').notNull(),
    targetSec: integer('target_sec').notNull(),
    startedAt: instant('started_at').notNull(),
    resumedAt: instant('resumed_at'),
    usedSec: doublePrecision('used_sec').notNull().default(0),
    dueAt: instant('due_at'),
    warnDueAt: instant('warn_due_at'),
    pausedAt: instant('paused_at'),
    warnedAt: instant('warned_at'),
    breachedAt: instant('breached_at'),
    stoppedAt: instant('stopped_at'),
    generation: integer('generation').notNull().default(1),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('sla_clocks_ticket_metric_uq').on(t.ticketId, t.metric),
    index('sla_clocks_policy_id_idx').on(t.policyId),
    // The reconciler and the at-risk list read running clocks by due time; partial indexes
    // keep them small however many met clocks pile up.
    index('sla_clocks_running_due_idx').on(t.dueAt).where(sql`${t.state} = 'running'`),
    index('sla_clocks_running_warn_idx').on(t.warnDueAt).where(sql`${t.state} = 'running' and ${t.warnedAt} is null`),
    // KPI report (issue 6): clocks stopped in a date range.
    index('sla_clocks_stopped_idx').on(t.stoppedAt).where(sql`${t.stoppedAt} is not null`),
  ],
);

export const BREACH_STATES = ['open', 'acknowledged', 'resolved'] as const;

/**
 * A missed target (or an overdue commitment) on the operations queue. Unique per clock run
 * (clock id + the run's start), so however many workers race, a clock breaches once.
 */
export const breaches = pgTable(
  'breaches',
  {
    id: id(),
    ticketId: uuid('ticket_id')
      .notNull()
      .references(() => tickets.id, { onDelete: 'cascade' }),
    clockId: uuid('clock_id'),
    clockStartedAt: instant('clock_started_at'),
    commitmentId: uuid('commitment_id'),
    policyId: uuid('policy_id').references(() => slaPolicies.id, { onDelete: 'set null' }),
    metric: text('metric').notNull(),
    channel: text('channel').notNull(),
    teamId: uuid('team_id'),
    /** Priority rank at breach (urgent 3 … low 0), raised with escalations: the queue's first sort key. */
    severity: integer('severity').notNull(),
    dueAt: instant('due_at').notNull(),
    breachedAt: instant('breached_at').notNull(),
    escalationLevel: integer('escalation_level').notNull().default(0),
    state: text('state').notNull().default('open'),
    acknowledgedBy: text('acknowledged_by'),
    acknowledgedAt: instant('acknowledged_at'),
    ackNote: text('ack_note'),
    resolvedAt: instant('resolved_at'),
  },
  (t) => [
    uniqueIndex('breaches_clock_run_uq').on(t.clockId, t.clockStartedAt),
    uniqueIndex('breaches_commitment_uq').on(t.commitmentId),
    index('breaches_ticket_id_idx').on(t.ticketId),
    index('breaches_policy_id_idx').on(t.policyId),
    index('breaches_queue_idx').on(t.state, t.severity.desc(), t.breachedAt, t.id),
    index('breaches_team_queue_idx').on(t.teamId, t.state, t.severity.desc(), t.breachedAt),
    // KPI report (issue 6): breaches in a date range.
    index('breaches_breached_at_idx').on(t.breachedAt),
  ],
);

/** Promises an agent made to a customer ("the credit reaches you within 5 days"). */
export const commitments = pgTable(
  'commitments',
  {
    id: id(),
    ticketId: uuid('ticket_id')
      .notNull()
      .references(() => tickets.id, { onDelete: 'cascade' }),
    description: text('description').notNull(),
    dueAt: instant('due_at').notNull(),
    state: text('state').notNull().default('open'),
    createdByAgentId: uuid('created_by_agent_id').references(() => agents.id, { onDelete: 'set null' }),
    remindedAt: instant('reminded_at'),
    overdueAt: instant('overdue_at'),
    closedAt: instant('closed_at'),
    generation: integer('generation').notNull().default(1),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    index('commitments_ticket_id_idx').on(t.ticketId),
    index('commitments_created_by_idx').on(t.createdByAgentId),
    index('commitments_open_due_idx').on(t.dueAt).where(sql`${t.state} = 'open'`),
    // KPI report (issue 6): commitments due in a date range, whatever their state.
    index('commitments_due_idx').on(t.dueAt),
  ],
);

/**
 * What operations watch live (warning, breach, escalation, resolved), numbered so an SSE
 * client that reconnects with Last-Event-ID misses nothing.
 */
export const slaStreamEvents = pgTable(
  'sla_stream_events',
  {
    // Partitioned by month of created_at (issue 18, migration 0027): the key holds created_at
    // too; id alone stays unique (one identity sequence), so a Last-Event-ID still names one row.
    id: bigint('id', { mode: 'number' }).notNull().generatedAlwaysAsIdentity(),
    // The writing transaction (issue 15): a resumed stream reads in (tx_id, id) order below
    // the oldest running transaction, so an id that commits after a higher one is not missed.
    txId: xid8('tx_id')
      .notNull()
      .default(sql`pg_current_xact_id()`),
    type: text('type').notNull(),
    data: jsonb('data').$type<Record<string, unknown>>().notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    primaryKey({ name: 'sla_stream_events_pkey', columns: [t.id, t.createdAt] }),
    index('sla_stream_events_created_idx').on(t.createdAt),
    index('sla_stream_events_tx_order_idx').on(t.txId, t.id),
  ],
);

/**
 * A policy (or a calendar it uses) changed and the running clocks under it must be recomputed.
 * Written in the change's own transaction, so no edit is committed without it; the recompute
 * deletes its request when done, and the reconciler queues a recompute for any request left
 * (the job could not be queued: Redis was away). No foreign key: a deleted policy's tickets
 * re-match too. A new edit replaces `requestId`, so the job of an older one never clears it.
 */
export const slaRecomputeRequests = pgTable('sla_recompute_requests', {
  policyId: uuid('policy_id').primaryKey(),
  requestId: uuid('request_id').notNull(),
  requestedAt: instant('requested_at').notNull(),
});
