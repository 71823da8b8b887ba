import { bigint, customType, index, integer, jsonb, pgTable, primaryKey, smallint, text, timestamp, uuid } from 'drizzle-orm/pg-core';

const bytea = customType<{ data: Buffer }>({ dataType: () => 'bytea' });

/**
 * Pre-aggregated KPI facts (kpi-rollup.refresh.ts): one row per UTC hour (and per UTC day, the
 * merge of its 24 hours) and (channel, team) of the fact, alone (dim '') or crossed with one
 * more grouping dimension (dim 'agent' | 'language' | 'priority', its value in `value`).
 * Channel and team are on every row because the report filters by them under any grouping.
 * Each fact sits in the hour of its own instant with the attributes the exact statement
 * (kpi.queries.ts) groups it by.
 */
export const kpiRollups = pgTable(
  'kpi_rollups',
  {
    period: text('period').notNull(),
    startsAt: timestamp('starts_at', { withTimezone: true, mode: 'date' }).notNull(),
    channel: text('channel').notNull(),
    teamId: uuid('team_id'),
    dim: text('dim').notNull(),
    value: text('value'),
    /** Tickets created and done (solved or closed, whichever came first): the backlog is their running difference. */
    created: integer('created').notNull(),
    done: integer('done').notNull(),
    /** Every other counter and sum of the cell (kpi-rollup.cells.ts). */
    counts: jsonb('counts').$type<Record<string, number>>().notNull(),
    /** The four duration sketches (first response and resolution, calendar and business), kpi-sketch.ts. */
    sketches: bytea('sketches').notNull(),
  },
  (t) => [index('kpi_rollups_period_dim_starts_idx').on(t.period, t.dim, t.startsAt)],
);

/**
 * Hours whose facts changed after they closed, written by triggers on the fact tables
 * (migration kpi_rollup_triggers): append-only, so a writer never waits on another writer;
 * the refresh deletes the rows its snapshot saw once it has re-aggregated their days.
 */
export const kpiRollupDirtyHours = pgTable('kpi_rollup_dirty_hours', { hour: timestamp('hour', { withTimezone: true, mode: 'date' }).notNull() }, (t) => [
  index('kpi_rollup_dirty_hours_hour_idx').on(t.hour),
]);

/** One row (id 1): hours before `watermark` are in kpi_rollups, then the open hour up to `partial_until`; later instants are read live. */
export const kpiRollupState = pgTable('kpi_rollup_state', {
  id: smallint('id').primaryKey(),
  watermark: timestamp('watermark', { withTimezone: true, mode: 'date' }).notNull(),
  /** The open hour starting at `watermark` is stored up to here (period 'partial'), recomputed by every refresh. */
  partialUntil: timestamp('partial_until', { withTimezone: true, mode: 'date' }),
  refreshedAt: timestamp('refreshed_at', { withTimezone: true, mode: 'date' }).notNull(),
  lastRefresh: jsonb('last_refresh').$type<Record<string, unknown>>().notNull(),
});

/**
 * The agents' time per UTC hour (kpi-occupancy.ts), for occupancy in the KPI report at month
 * scale: what the agent report (agent-report.ts) computes from the presence timeline and the
 * work intervals, clipped to the hour, in milliseconds so that hours add up exactly. Rows only
 * for hours with time logged in or handled; the agent's team is read from agents at report time
 * (as the agent report does). Refreshed with kpi_rollups (same watermark, same dirty hours:
 * triggers on work_intervals and agent_presence_events mark the hours a change touches).
 */
export const agentHourRollups = pgTable(
  'agent_hour_rollups',
  {
    hour: timestamp('hour', { withTimezone: true, mode: 'date' }).notNull(),
    agentId: uuid('agent_id').notNull(),
    loggedInMs: bigint('logged_in_ms', { mode: 'number' }).notNull(),
    availableMs: bigint('available_ms', { mode: 'number' }).notNull(),
    awayMs: bigint('away_ms', { mode: 'number' }).notNull(),
    handlingMs: bigint('handling_ms', { mode: 'number' }).notNull(),
    idleMs: bigint('idle_ms', { mode: 'number' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.hour, t.agentId] })],
);
