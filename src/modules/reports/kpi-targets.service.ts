import { and, desc, eq, getTableColumns, sql } from 'drizzle-orm';
import type { Database, Executor } from '../../db/client.js';
import { badRequest, notFound } from '../../shared/errors.js';
import { publishStreamEvent } from '../sla/breaches/stream-events.repository.js';
import { recordEvent } from '../events/events.writer.js';
import { teams } from '../teams/teams.table.js';
import { alarms, kpiTargets, type AlarmState, type Direction, type ScopeKind, type TargetKpi } from './kpi-targets.table.js';
import type { FigureSettings } from '../../domain/figures/settings.js';
import { queryKpis, type KpiRow } from './kpi.queries.js';
import { withOccupancy } from './kpi.service.js';

export type TargetRow = typeof kpiTargets.$inferSelect;
export type AlarmRow = typeof alarms.$inferSelect;

export type Scope = { kind: 'all' } | { kind: 'channel'; value: string } | { kind: 'team'; value: string };

export interface TargetView {
  id: string;
  kpi: TargetKpi;
  scope: { kind: ScopeKind; value?: string | undefined };
  threshold: number;
  direction: Direction;
  windowHours: number;
  createdAt: Date;
  updatedAt: Date;
}

export const targetView = (row: TargetRow): TargetView => ({
  id: row.id,
  kpi: row.kpi as TargetKpi,
  scope: row.scopeKind === 'all' ? { kind: 'all' } : { kind: row.scopeKind as ScopeKind, value: row.scopeValue },
  threshold: row.threshold,
  direction: row.direction as Direction,
  windowHours: row.windowHours,
  createdAt: row.createdAt,
  updatedAt: row.updatedAt,
});

/** The figure of the report's total row a target watches. */
export function kpiValue(row: KpiRow, kpi: TargetKpi): number | null {
  switch (kpi) {
    case 'first_response_median_sec':
      return row.firstResponse.calendar.median;
    case 'resolution_median_sec':
      return row.resolution.calendar.median;
    case 'sla_compliance_first_response':
      return row.sla.first_response.compliance;
    case 'sla_compliance_resolution':
      return row.sla.resolution.compliance;
    case 'fcr_rate':
      return row.fcr.rate;
    case 'csat_average':
      return row.csat.average;
    case 'reopen_rate':
      return row.reopenRate;
    case 'backlog':
      return row.backlogAtEnd;
    case 'service_level':
      return row.serviceLevel.rate;
    case 'average_speed_of_answer_sec':
      return row.averageSpeedOfAnswer;
    case 'abandonment_rate':
      return row.abandonmentRate;
    case 'handle_time_median_sec':
      return row.handleTime.median;
    case 'occupancy':
      return row.occupancy;
    case 'ces_average':
      return row.ces.average;
    case 'nps_score':
      return row.nps.score;
  }
}

/** Strictly beyond the threshold: a KPI exactly at it is on target. */
export const isOffTarget = (value: number, threshold: number, direction: Direction): boolean =>
  direction === 'above' ? value > threshold : value < threshold;

export interface Evaluation {
  targetId: string;
  value: number | null;
  outcome: 'raised' | 'still-raised' | 'cleared' | 'ok' | 'no-data';
}

const alarmEventData = (target: TargetRow, alarmId: string, value: number | null) => ({
  alarmId,
  targetId: target.id,
  kpi: target.kpi,
  scope: targetView(target).scope,
  threshold: target.threshold,
  direction: target.direction,
  windowHours: target.windowHours,
  value,
});

/** Raises, keeps or clears the target's alarm for `value`, in one transaction holding the target. */
async function applyValue(db: Database, targetId: string, value: number | null, now: Date): Promise<Evaluation['outcome'] | null> {
  return db.transaction(async (tx) => {
    const [target] = await tx.select().from(kpiTargets).where(eq(kpiTargets.id, targetId)).for('update');
    if (!target) return null; // deleted meanwhile
    const [open] = await tx.select().from(alarms).where(and(eq(alarms.targetId, targetId), eq(alarms.state, 'raised'))).limit(1);
    // No data in the window (a ratio without denominator): nothing to judge, the state stays.
    if (value === null) {
      if (open) await tx.update(alarms).set({ lastValue: null, lastEvaluatedAt: now }).where(eq(alarms.id, open.id));
      return 'no-data';
    }
    const off = isOffTarget(value, target.threshold, target.direction as Direction);
    if (open && off) {
      await tx.update(alarms).set({ lastValue: value, lastEvaluatedAt: now }).where(eq(alarms.id, open.id));
      return 'still-raised';
    }
    if (open) {
      await tx.update(alarms).set({ state: 'cleared', clearedAt: now, lastValue: value, lastEvaluatedAt: now }).where(eq(alarms.id, open.id));
      await publishStreamEvent(tx, 'alarm_cleared', { ...alarmEventData(target, open.id, value), raisedAt: open.raisedAt, clearedAt: now }, now);
      await recordEvent(tx, { type: 'alarm.cleared', resource: { type: 'alarm', id: open.id }, data: { alarmId: open.id, source: 'kpi_target', targetId, value }, occurredAt: now });
      return 'cleared';
    }
    if (!off) return 'ok';
    const [raised] = await tx
      .insert(alarms)
      .values({ targetId, state: 'raised', value, raisedAt: now, lastValue: value, lastEvaluatedAt: now })
      .onConflictDoNothing()
      .returning({ id: alarms.id });
    if (!raised) return 'still-raised';
    await publishStreamEvent(tx, 'alarm_raised', { ...alarmEventData(target, raised.id, value), raisedAt: now }, now);
    await recordEvent(tx, {
      type: 'alarm.raised',
      resource: { type: 'alarm', id: raised.id },
      data: { alarmId: raised.id, source: 'kpi_target', targetId, detail: `${target.kpi} ${target.direction} ${target.threshold}`, value },
      occurredAt: now,
    });
    return 'raised';
  });
}

/**
 * Evaluates every KPI target over its rolling window [now - windowHours, now), with the report's
 * own query (total row, the scope as a filter), and raises or clears alarms. Targets sharing a
 * scope and window share one query.
 */
export async function evaluateKpiTargets(db: Database, now: Date, settings?: FigureSettings): Promise<Evaluation[]> {
  const targets = await db.select().from(kpiTargets).orderBy(kpiTargets.createdAt, kpiTargets.id);
  const totals = new Map<string, Promise<KpiRow>>();
  const evaluations: Evaluation[] = [];
  for (const target of targets) {
    const key = `${target.scopeKind}|${target.scopeValue}|${target.windowHours}`;
    let total = totals.get(key);
    if (!total) {
      const q = {
        from: new Date(now.getTime() - target.windowHours * 3_600_000),
        to: now,
        groupBy: null,
        tz: 'UTC',
        channels: target.scopeKind === 'channel' ? [target.scopeValue] : undefined,
        teamId: target.scopeKind === 'team' ? target.scopeValue : undefined,
        now,
        settings,
      };
      // Occupancy (issue 16) comes from the agent report, added to the total as the report does.
      total = queryKpis(db, q)
        .then((r) => withOccupancy(db, q, r))
        .then((r) => r.total);
      totals.set(key, total);
    }
    const value = kpiValue(await total, target.kpi as TargetKpi);
    const outcome = await applyValue(db, target.id, value, now);
    if (outcome) evaluations.push({ targetId: target.id, value, outcome });
  }
  return evaluations;
}

// ---- targets and alarms, for the routes ----------------------------------------------------------

export interface TargetInput {
  kpi: TargetKpi;
  scope: Scope;
  threshold: number;
  direction: Direction;
  windowHours: number;
}

/** Insert or update the target of (kpi, scope); `created` tells which. A team scope must name a team. */
export async function upsertTarget(db: Executor, input: TargetInput, now: Date): Promise<{ target: TargetView; created: boolean }> {
  if (input.scope.kind === 'team') {
    const [team] = await db.select({ id: teams.id }).from(teams).where(eq(teams.id, input.scope.value));
    if (!team) throw badRequest('body.scope.value', `there is no team ${input.scope.value}`);
  }
  const scopeValue = input.scope.kind === 'all' ? '' : input.scope.value;
  const [row] = await db
    .insert(kpiTargets)
    .values({ kpi: input.kpi, scopeKind: input.scope.kind, scopeValue, threshold: input.threshold, direction: input.direction, windowHours: input.windowHours, createdAt: now, updatedAt: now })
    .onConflictDoUpdate({
      target: [kpiTargets.kpi, kpiTargets.scopeKind, kpiTargets.scopeValue],
      set: { threshold: input.threshold, direction: input.direction, windowHours: input.windowHours, updatedAt: now },
    })
    // xmax = 0: the row was inserted, not updated.
    .returning({ ...getTableColumns(kpiTargets), created: sql<boolean>`(xmax = 0)` });
  const { created, ...target } = row!;
  return { target: targetView(target), created };
}

export async function listTargets(db: Executor): Promise<TargetView[]> {
  const rows = await db.select().from(kpiTargets).orderBy(kpiTargets.kpi, kpiTargets.scopeKind, kpiTargets.scopeValue);
  return rows.map(targetView);
}

/** Deletes the target; its alarms go with it (foreign key cascade). */
export async function deleteTarget(db: Executor, id: string): Promise<void> {
  const [row] = await db.delete(kpiTargets).where(eq(kpiTargets.id, id)).returning({ id: kpiTargets.id });
  if (!row) throw notFound('KPI target', id);
}

export interface AlarmView {
  id: string;
  targetId: string;
  kpi: TargetKpi;
  scope: TargetView['scope'];
  threshold: number;
  direction: Direction;
  windowHours: number;
  state: AlarmState;
  value: number | null;
  raisedAt: Date;
  clearedAt: Date | null;
  lastValue: number | null;
  lastEvaluatedAt: Date;
}

export async function listAlarms(db: Executor, options: { state?: AlarmState | undefined; after?: { raisedAt: Date; id: string } | undefined; limit: number }): Promise<AlarmView[]> {
  const rows = await db
    .select({ alarm: alarms, target: kpiTargets })
    .from(alarms)
    .innerJoin(kpiTargets, eq(kpiTargets.id, alarms.targetId))
    .where(
      and(
        options.state ? eq(alarms.state, options.state) : undefined,
        options.after ? sql`(${alarms.raisedAt}, ${alarms.id}) < (${options.after.raisedAt.toISOString()}::timestamptz, ${options.after.id}::uuid)` : undefined,
      ),
    )
    .orderBy(desc(alarms.raisedAt), desc(alarms.id))
    .limit(options.limit);
  return rows.map(({ alarm, target }) => {
    const t = targetView(target);
    return {
      id: alarm.id,
      targetId: alarm.targetId,
      kpi: t.kpi,
      scope: t.scope,
      threshold: t.threshold,
      direction: t.direction,
      windowHours: t.windowHours,
      state: alarm.state as AlarmState,
      value: alarm.value,
      raisedAt: alarm.raisedAt,
      clearedAt: alarm.clearedAt,
      lastValue: alarm.lastValue,
      lastEvaluatedAt: alarm.lastEvaluatedAt,
    };
  });
}
