import { DateTime } from 'luxon';
import type pg from 'pg';
import type { Interval } from '../../domain/figures/intervals.js';
import { agentFigures, presenceIntervals, sumFigures, type AgentFigures, type PresenceChange } from '../../domain/figures/occupancy.js';

/**
 * The agent report (issue 16): per agent, team (the agent's own team) or day (in `tz`), from the
 * presence timeline (agent_presence_events, written by routing) and the work intervals:
 * logged-in, available, away, handling and available-idle seconds, occupancy, utilization, and
 * tickets handled (tickets with work of a positive length in the period). The figures are computed by the pure
 * functions of src/domain/figures/occupancy.ts; this file only reads.
 */
export const AGENT_GROUP_BYS = ['agent', 'team', 'day'] as const;
export type AgentGroupBy = (typeof AGENT_GROUP_BYS)[number];

export interface AgentReportQuery {
  from: Date;
  to: Date;
  groupBy: AgentGroupBy | null;
  tz: string;
  teamId?: string | undefined;
  agentId?: string | undefined;
}

export interface AgentRow extends AgentFigures {
  group: { key: string | null; label: string };
  ticketsHandled: number;
}

export interface AgentReport {
  rows: AgentRow[];
  total: AgentRow;
}

/** Work intervals are at most 24 hours long (POST /v1/tickets/:id/work): those overlapping a range start at most a day before it. */
const LONGEST_WORK_MS = 24 * 3_600_000;

export async function queryAgentReport(pool: pg.Pool, q: AgentReportQuery): Promise<AgentReport> {
  const from = q.from.getTime();
  const to = q.to.getTime();
  const agents = await pool.query<{ id: string; name: string; team_id: string | null; team_name: string | null; status_at_from: string | null }>(
    `select a.id::text, a.name, a.team_id::text, t.name as team_name,
            (select p.status from agent_presence_events p where p.agent_id = a.id and p.at < $1 order by p.at desc limit 1) as status_at_from
       from agents a left join teams t on t.id = a.team_id
      where ($2::uuid is null or a.team_id = $2::uuid) and ($3::uuid is null or a.id = $3::uuid)
      order by a.name, a.id`,
    [q.from, q.teamId ?? null, q.agentId ?? null],
  );
  const ids = agents.rows.map((a) => a.id);
  const [presence, work] = await Promise.all([
    pool.query<{ agent_id: string; status: string; at: Date }>(
      'select agent_id::text, status, at from agent_presence_events where agent_id = any($1::uuid[]) and at >= $2 and at < $3 order by agent_id, at, id',
      [ids, q.from, q.to],
    ),
    pool.query<{ agent_id: string; ticket_id: string; started_at: Date; ended_at: Date }>(
      `select agent_id::text, ticket_id::text, started_at, ended_at from work_intervals
        where agent_id = any($1::uuid[]) and started_at >= $2 and started_at < $3 and ended_at > $4 and ended_at > started_at`,
      [ids, new Date(from - LONGEST_WORK_MS), q.to, q.from],
    ),
  ]);
  const changesOf = new Map<string, PresenceChange[]>();
  for (const p of presence.rows) {
    const list = changesOf.get(p.agent_id) ?? [];
    list.push({ status: p.status, at: p.at.getTime() });
    changesOf.set(p.agent_id, list);
  }
  const workOf = new Map<string, (Interval & { ticketId: string })[]>();
  for (const w of work.rows) {
    const list = workOf.get(w.agent_id) ?? [];
    list.push({ start: w.started_at.getTime(), end: w.ended_at.getTime(), ticketId: w.ticket_id });
    workOf.set(w.agent_id, list);
  }

  // Periods: the whole range, or its days in tz.
  const periods: { key: string | null; from: number; to: number }[] = [];
  if (q.groupBy === 'day') {
    for (let d = DateTime.fromMillis(from, { zone: q.tz }).startOf('day'); d.toMillis() < to; d = d.plus({ days: 1 })) {
      periods.push({ key: d.toFormat('yyyy-MM-dd'), from: Math.max(from, d.toMillis()), to: Math.min(to, d.plus({ days: 1 }).toMillis()) });
    }
  } else periods.push({ key: null, from, to });

  /** Figures and tickets per (group key), summed over agents and periods. */
  const groups = new Map<string | null, { label: string; figures: AgentFigures[]; tickets: Set<string> }>();
  const totalFigures: AgentFigures[] = [];
  const totalTickets = new Set<string>();
  for (const agent of agents.rows) {
    const timeline = presenceIntervals(agent.status_at_from ?? 'offline', changesOf.get(agent.id) ?? [], from, to);
    const intervals = (workOf.get(agent.id) ?? []).sort((a, b) => a.start - b.start);
    for (const period of periods) {
      // Only the intervals that can overlap the period (they start at most LONGEST_WORK_MS before it): a month by day reads each interval a few times, not 31.
      const inPeriod = intervals.slice(firstStartingAtOrAfter(intervals, period.from - LONGEST_WORK_MS), firstStartingAtOrAfter(intervals, period.to)).filter((i) => i.end > period.from);
      const figures = agentFigures(timeline, inPeriod, period.from, period.to);
      const tickets = new Set(inPeriod.map((i) => i.ticketId));
      // An agent never logged in and without work in a period adds nothing to it.
      if (figures.loggedInSec === 0 && figures.handlingSec === 0) continue;
      const key = q.groupBy === 'agent' ? agent.id : q.groupBy === 'team' ? agent.team_id : q.groupBy === 'day' ? period.key : null;
      const label = q.groupBy === 'agent' ? agent.name : q.groupBy === 'team' ? (agent.team_name ?? '(no team)') : (period.key ?? 'Total');
      let group = groups.get(key);
      if (!group) groups.set(key, (group = { label, figures: [], tickets: new Set() }));
      group.figures.push(figures);
      for (const t of tickets) {
        group.tickets.add(t);
        totalTickets.add(t);
      }
      totalFigures.push(figures);
    }
  }
  const rows = q.groupBy === null ? [] : [...groups].map(([key, g]): AgentRow => ({ group: { key, label: g.label }, ...sumFigures(g.figures), ticketsHandled: g.tickets.size }));
  return { rows: sortAgentRows(rows, q.groupBy), total: { group: { key: null, label: 'Total' }, ...sumFigures(totalFigures), ticketsHandled: totalTickets.size } };
}

/** Days in order, agents and teams by label; the group without a key (agents without a team) last. */
export function sortAgentRows(rows: AgentRow[], groupBy: AgentGroupBy | null): AgentRow[] {
  return rows.sort((a, b) => (a.group.key === null ? 1 : b.group.key === null ? -1 : groupBy === 'day' ? (a.group.key < b.group.key ? -1 : 1) : a.group.label.localeCompare(b.group.label)));
}

/** The index of the first interval (sorted by start) starting at or after `at`. */
function firstStartingAtOrAfter(sorted: readonly Interval[], at: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]!.start < at) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

const AGENT_COLUMNS = ['group.key', 'group.label', 'loggedInSec', 'availableSec', 'awaySec', 'handlingSec', 'idleSec', 'occupancy', 'utilization', 'ticketsHandled'] as const;

export function agentReportCsvRows(rows: AgentRow[]): { header: string[]; rows: Record<string, string | number | null>[] } {
  return {
    header: [...AGENT_COLUMNS],
    rows: rows.map((r) => ({
      'group.key': r.group.key,
      'group.label': r.group.label,
      loggedInSec: r.loggedInSec,
      availableSec: r.availableSec,
      awaySec: r.awaySec,
      handlingSec: r.handlingSec,
      idleSec: r.idleSec,
      occupancy: r.occupancy,
      utilization: r.utilization,
      ticketsHandled: r.ticketsHandled,
    })),
  };
}
