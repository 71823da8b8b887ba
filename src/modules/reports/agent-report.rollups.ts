import type pg from 'pg';
import { sumFigures, type AgentFigures } from '../../domain/figures/occupancy.js';
import { queryAgentReport, sortAgentRows, type AgentReport, type AgentReportQuery, type AgentRow } from './agent-report.js';
import { storedAgentHours } from './kpi-occupancy.js';

/**
 * The agent report (agent-report.ts) over long ranges: the closed hours' seconds from
 * agent_hour_rollups (migration 0029; kpi-occupancy.ts stores them, in milliseconds, with the
 * same pure functions as the agent report), the partial first and last hour and the hours after
 * the rollups' watermark computed live, and tickets handled counted in SQL (distinct tickets are
 * not additive over hours). The seconds are measures of time sets clipped to hours, so the sum
 * over a period's hours is the agent report's figure: both paths give the same report
 * (tests/integration/figures/figures.test.ts compares them). Null when no whole stored hour
 * falls in the range, or for a day grouping in a zone whose days do not start on whole UTC
 * hours: the caller then uses the agent report alone.
 */
const HOUR_MS = 3_600_000;
/** Work intervals are at most 24 hours long (POST /v1/tickets/:id/work). */
const LONGEST_WORK_MS = 24 * HOUR_MS;

export async function agentReportFromRollups(pool: pg.Pool, q: AgentReportQuery): Promise<AgentReport | null> {
  const span = await storedAgentHours(pool, q);
  if (!span) return null;
  const { from, to, h1, stored } = span;

  // The group's key and label as the agent report makes them ($tz is the last parameter when used).
  const keyOf = (hour: string, tz: string) =>
    q.groupBy === 'agent' ? 'a.id::text' : q.groupBy === 'team' ? 'a.team_id::text' : q.groupBy === 'day' ? `to_char(${hour} at time zone ${tz}, 'YYYY-MM-DD')` : 'null::text';
  const labelOf = (key: string) => (q.groupBy === 'agent' ? 'a.name' : q.groupBy === 'team' ? `coalesce(t.name, '(no team)')` : q.groupBy === 'day' ? key : `'Total'`);
  const agentFilter = (team: string, agent: string) => `(${team}::uuid is null or a.team_id = ${team}::uuid) and (${agent}::uuid is null or a.id = ${agent}::uuid)`;

  const storedKey = keyOf('r.hour', '$5');
  const storedParams: unknown[] = [new Date(h1), new Date(stored), q.teamId ?? null, q.agentId ?? null];
  if (q.groupBy === 'day') storedParams.push(q.tz);
  // An interval counts for every period it overlaps by a positive length (as in the agent
  // report: then the agent has handling time there); for days, each local day it overlaps.
  const day = `d.day`;
  const ticketKey = q.groupBy === 'day' ? `to_char(${day}, 'YYYY-MM-DD')` : keyOf('', '');
  const ticketParams: unknown[] = [new Date(from - LONGEST_WORK_MS), q.to, q.from, q.teamId ?? null, q.agentId ?? null];
  if (q.groupBy === 'day') ticketParams.push(q.tz);
  const days =
    q.groupBy === 'day'
      ? `cross join lateral generate_series(date_trunc('day', greatest(w.started_at, $3) at time zone $6), (least(w.ended_at, $2) at time zone $6) - interval '1 millisecond', interval '1 day') d(day)`
      : '';

  const [rows, tickets, head, tail] = await Promise.all([
    pool.query<{ key: string | null; label: string; logged_in: string; available: string; away: string; handling: string; idle: string }>(
      `select ${storedKey} as key, ${labelOf(storedKey)} as label,
              sum(r.logged_in_ms)::text as logged_in, sum(r.available_ms)::text as available, sum(r.away_ms)::text as away,
              sum(r.handling_ms)::text as handling, sum(r.idle_ms)::text as idle
         from agent_hour_rollups r join agents a on a.id = r.agent_id left join teams t on t.id = a.team_id
        where r.hour >= $1 and r.hour < $2 and ${agentFilter('$3', '$4')}
        group by 1, 2`,
      storedParams,
    ),
    pool.query<{ key: string | null; total: boolean; n: number }>(
      `select key, grouping(key) = 1 as total, count(distinct ticket_id)::int as n
         from (select ${ticketKey} as key, w.ticket_id
                 from work_intervals w join agents a on a.id = w.agent_id ${days}
                where w.started_at >= $1 and w.started_at < $2 and w.ended_at > $3 and w.ended_at > w.started_at and ${agentFilter('$4', '$5')}) s
        group by grouping sets ((key), ())`,
      ticketParams,
    ),
    from < h1 ? queryAgentReport(pool, { ...q, to: new Date(h1) }) : null,
    stored < to ? queryAgentReport(pool, { ...q, from: new Date(stored) }) : null,
  ]);

  const groups = new Map<string | null, { label: string; figures: AgentFigures[] }>();
  const all: AgentFigures[] = [];
  const add = (key: string | null, label: string, figures: AgentFigures) => {
    let group = groups.get(key);
    if (!group) groups.set(key, (group = { label, figures: [] }));
    group.figures.push(figures);
    all.push(figures);
  };
  const seconds = (ms: string) => Number(ms) / 1000;
  for (const r of rows.rows) {
    add(r.key, r.label, { loggedInSec: seconds(r.logged_in), availableSec: seconds(r.available), awaySec: seconds(r.away), handlingSec: seconds(r.handling), idleSec: seconds(r.idle), occupancy: null, utilization: null });
  }
  for (const report of [head, tail]) if (report) for (const r of q.groupBy === null ? [report.total] : report.rows) add(r.group.key, r.group.label, r);
  const ticketsOf = new Map(tickets.rows.filter((r) => !r.total).map((r) => [r.key, r.n]));
  const totalTickets = tickets.rows.find((r) => r.total)?.n ?? 0;
  const rowsOut =
    q.groupBy === null ? [] : [...groups].map(([key, g]): AgentRow => ({ group: { key, label: g.label }, ...sumFigures(g.figures), ticketsHandled: ticketsOf.get(key) ?? 0 }));
  return { rows: sortAgentRows(rowsOut, q.groupBy), total: { group: { key: null, label: 'Total' }, ...sumFigures(all), ticketsHandled: totalTickets } };
}
