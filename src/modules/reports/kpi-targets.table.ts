import { sql } from 'drizzle-orm';
import { doublePrecision, index, integer, pgTable, text, unique, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { createdAt, id, instant, updatedAt } from '../../db/columns.js';

/** The KPIs a target can watch: each is one figure of the report's total row (see kpi.queries.ts). */
export const TARGET_KPIS = [
  'first_response_median_sec',
  'resolution_median_sec',
  'sla_compliance_first_response',
  'sla_compliance_resolution',
  'fcr_rate',
  'csat_average',
  'reopen_rate',
  'backlog',
  // Issue 16: contact-center figures (rates and shares 0-1, seconds, the NPS score -100..100).
  'service_level',
  'average_speed_of_answer_sec',
  'abandonment_rate',
  'handle_time_median_sec',
  'occupancy',
  'ces_average',
  'nps_score',
] as const;
export type TargetKpi = (typeof TARGET_KPIS)[number];

export const SCOPE_KINDS = ['all', 'channel', 'team'] as const;
export type ScopeKind = (typeof SCOPE_KINDS)[number];

export const DIRECTIONS = ['above', 'below'] as const;
export type Direction = (typeof DIRECTIONS)[number];

export const ALARM_STATES = ['raised', 'cleared'] as const;
export type AlarmState = (typeof ALARM_STATES)[number];

/**
 * A KPI target: alarm when the KPI, over the rolling window ending now, goes above (or below)
 * the threshold. One target per (kpi, scope); scope_value is '' for the 'all' scope so the
 * unique constraint needs no NULL handling.
 */
export const kpiTargets = pgTable(
  'kpi_targets',
  {
    id: id(),
    kpi: text('kpi').notNull(),
    scopeKind: text('scope_kind').notNull(),
    /** The channel name or the team id; '' when the scope is 'all'. */
    scopeValue: text('scope_value').notNull().default(''),
    threshold: doublePrecision('threshold').notNull(),
    direction: text('direction').notNull(),
    windowHours: integer('window_hours').notNull(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [unique('kpi_targets_kpi_scope_uq').on(t.kpi, t.scopeKind, t.scopeValue)],
);

/** A target's alarm: raised when the KPI crosses the threshold, cleared when it recovers. */
export const alarms = pgTable(
  'alarms',
  {
    id: id(),
    targetId: uuid('target_id')
      .notNull()
      .references(() => kpiTargets.id, { onDelete: 'cascade' }),
    state: text('state').notNull(),
    /** The KPI when the alarm was raised. */
    value: doublePrecision('value'),
    raisedAt: instant('raised_at').notNull(),
    clearedAt: instant('cleared_at'),
    lastValue: doublePrecision('last_value'),
    lastEvaluatedAt: instant('last_evaluated_at').notNull(),
  },
  (t) => [
    // At most one open alarm per target, however many evaluators race.
    uniqueIndex('alarms_one_raised_per_target_uq').on(t.targetId).where(sql`${t.state} = 'raised'`),
    index('alarms_target_id_idx').on(t.targetId),
    index('alarms_raised_idx').on(t.raisedAt, t.id),
  ],
);
