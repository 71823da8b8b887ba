import { poolOf, type Database } from '../../db/client.js';
import { queryAgentReport } from './agent-report.js';
import { occupancyFromRollups, occupancyOf } from './kpi-occupancy.js';
import { queryKpisFromRollups } from './kpi-rollup.report.js';
import { DAY_MS } from './kpi-rollup.refresh.js';
import { queryKpis, type KpiQuery, type KpiReport } from './kpi.queries.js';

export type KpiSource = 'rollups' | 'exact';

/**
 * The KPI report: from the rollups for ranges of a day or more (a month in well under a
 * second at a million tickets), from the exact statement for shorter ranges and whenever the
 * rollups cannot serve the query (kpi-rollup.report.ts says when).
 */
export async function kpiReport(db: Database, q: KpiQuery): Promise<{ report: KpiReport; source: KpiSource }> {
  if (q.to.getTime() - q.from.getTime() >= DAY_MS) {
    const report = await queryKpisFromRollups(poolOf(db), q);
    if (report) return { report: await withOccupancy(db, q, report, true), source: 'rollups' };
  }
  return { report: await withOccupancy(db, q, await queryKpis(db, q)), source: 'exact' };
}

/**
 * Occupancy (issue 16) from the agent report: on the total row, and on agent, team and day rows
 * (the agent report groups the same way). Agents are not per channel: with a channel filter
 * occupancy stays null. With `fromRollups`, the whole hours come from agent_hour_rollups
 * (kpi-occupancy.ts, exactly the agent report's sums) and only the edges are computed live.
 */
export async function withOccupancy(db: Database, q: KpiQuery, report: KpiReport, fromRollups = false): Promise<KpiReport> {
  if (q.channels?.length) return report;
  const groupBy = q.groupBy === 'agent' || q.groupBy === 'team' || q.groupBy === 'day' ? q.groupBy : null;
  const query = { from: q.from, to: q.to, groupBy, tz: q.tz, teamId: q.teamId };
  let parts = fromRollups ? await occupancyFromRollups(poolOf(db), query) : null;
  if (!parts) {
    const agents = await queryAgentReport(poolOf(db), query);
    parts = { groups: new Map(agents.rows.map((r) => [r.group.key, r])), total: agents.total };
  }
  const { groups, total } = parts;
  return {
    rows: report.rows.map((row) => ({ ...row, occupancy: groupBy ? occupancyOf(groups.get(row.group.key)) : null })),
    total: { ...report.total, occupancy: occupancyOf(total) },
  };
}

