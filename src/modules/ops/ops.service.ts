import { and, asc, count, desc, eq, gte, inArray, isNull, lte, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import type { Clock } from '../../shared/clock.js';
import { agents } from '../agents/agents.table.js';
import { customers } from '../customers/customers.table.js';
import { kpiValue, listAlarms, listTargets, isOffTarget } from '../reports/kpi-targets.service.js';
import type { TargetKpi } from '../reports/kpi-targets.table.js';
import { queryKpis, type KpiRow } from '../reports/kpi.queries.js';
import { breachColumns } from '../sla/breaches/breach-ops.service.js';
import { breaches, slaClocks, type BREACH_STATES } from '../sla/sla.table.js';
import { teams } from '../teams/teams.table.js';
import { tickets } from '../tickets/tickets.table.js';

/** Breaches the wall shows: the ones someone still has to act on or is acting on. */
const WALL_BREACH_STATES = ['open', 'acknowledged'];

/**
 * What the operations wall reads (issue 17): read-only views joining the tables other modules
 * own (breaches, clocks, tickets, customers, agents, teams, KPI targets). The wall needs the
 * customer's name and the names of agents and teams in every row, which the JSON API's breach
 * queue and at-risk list leave out, and it caps each list with a count of the rest so a flood
 * of breaches costs the page a fixed amount of work.
 */
export function createOpsService(deps: { db: Database; clock: Clock }) {
  const { db, clock } = deps;

  async function breachList(limit: number) {
    const where = inArray(breaches.state, WALL_BREACH_STATES);
    const [rows, totals] = await Promise.all([
      db
        .select({
          ...breachColumns,
          customerName: customers.name,
          subject: tickets.subject,
          // Acknowledged by an agent's key: its agent id; by another key: the key's name.
          acknowledgedBy: sql<string | null>`coalesce(${agents.name}, ${breaches.acknowledgedBy})`,
        })
        .from(breaches)
        .innerJoin(tickets, eq(tickets.id, breaches.ticketId))
        .innerJoin(customers, eq(customers.id, tickets.customerId))
        .leftJoin(agents, sql`${agents.id}::text = ${breaches.acknowledgedBy}`)
        .where(where)
        // Most severe first, and within a severity the newest first: what just went wrong is on top.
        .orderBy(sql`${breaches.severity} desc nulls last`, desc(breaches.breachedAt), asc(breaches.id))
        .limit(limit),
      db
        .select({ state: breaches.state, n: count() })
        .from(breaches)
        .where(where)
        .groupBy(breaches.state),
    ]);
    const open = totals.find((t) => t.state === 'open')?.n ?? 0;
    const acknowledged = totals.find((t) => t.state === 'acknowledged')?.n ?? 0;
    return { items: rows.map((r) => ({ ...r, state: r.state as (typeof BREACH_STATES)[number] })), total: open + acknowledged, open, acknowledged };
  }

  async function atRiskList(now: Date, withinSec: number, limit: number) {
    const until = new Date(now.getTime() + withinSec * 1000);
    const where = and(eq(slaClocks.state, 'running'), isNull(slaClocks.breachedAt), gte(slaClocks.dueAt, now), lte(slaClocks.dueAt, until));
    const [rows, [total]] = await Promise.all([
      db
        .select({
          clockId: slaClocks.id,
          ticketId: tickets.id,
          ticketNumber: tickets.number,
          customerName: customers.name,
          subject: tickets.subject,
          channel: tickets.channel,
          metric: slaClocks.metric,
          priority: tickets.priority,
          teamId: tickets.teamId,
          assigneeName: agents.name,
          dueAt: slaClocks.dueAt,
        })
        .from(slaClocks)
        .innerJoin(tickets, eq(tickets.id, slaClocks.ticketId))
        .innerJoin(customers, eq(customers.id, tickets.customerId))
        .leftJoin(agents, eq(agents.id, tickets.assigneeId))
        .where(where)
        .orderBy(asc(slaClocks.dueAt), asc(slaClocks.id))
        .limit(limit),
      db.select({ n: count() }).from(slaClocks).where(where),
    ]);
    // The filter keeps only clocks with a due time.
    return { items: rows.map((r) => ({ ...r, dueAt: r.dueAt! })), total: total?.n ?? 0, withinSec };
  }

  return {
    /** The breach queue and the at-risk list, capped, with the server's "now" (the page ticks from it). */
    async wall(query: { limit: number; withinSec: number }) {
      const now = clock.now();
      const [breachesView, atRisk, teamRows] = await Promise.all([
        breachList(query.limit),
        atRiskList(now, query.withinSec, query.limit),
        db.select({ id: teams.id, name: teams.name }).from(teams).orderBy(asc(teams.name)),
      ]);
      return { now, breaches: breachesView, atRisk, teams: teamRows };
    },

    /**
     * Every KPI target with its value now, computed as the evaluator computes it (the report's
     * total row over the target's rolling window, its scope as a filter), and the raised alarms.
     * Targets sharing scope and window share one query.
     */
    async kpis() {
      const now = clock.now();
      const targets = await listTargets(db);
      const totals = new Map<string, Promise<KpiRow>>();
      const items = await Promise.all(
        targets.map(async (target) => {
          const key = `${target.scope.kind}|${target.scope.value ?? ''}|${target.windowHours}`;
          let total = totals.get(key);
          if (!total) {
            total = queryKpis(db, {
              from: new Date(now.getTime() - target.windowHours * 3_600_000),
              to: now,
              groupBy: null,
              tz: 'UTC',
              channels: target.scope.kind === 'channel' && target.scope.value ? [target.scope.value] : undefined,
              teamId: target.scope.kind === 'team' ? target.scope.value : undefined,
              now,
            }).then((report) => report.total);
            totals.set(key, total);
          }
          const value = kpiValue(await total, target.kpi as TargetKpi);
          return { ...target, value, offTarget: value === null ? false : isOffTarget(value, target.threshold, target.direction) };
        }),
      );
      const alarms = await listAlarms(db, { state: 'raised', limit: 200 });
      return { now, targets: items, alarms };
    },
  };
}

export type OpsService = ReturnType<typeof createOpsService>;
