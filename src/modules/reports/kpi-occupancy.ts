import { DateTime } from 'luxon';
import type pg from 'pg';
import type { Interval } from '../../domain/figures/intervals.js';
import { agentFigures, presenceIntervals, type PresenceChange } from '../../domain/figures/occupancy.js';
import { queryAgentReport, type AgentGroupBy } from './agent-report.js';
import type { Queryable } from './kpi-rollup.facts.js';

/**
 * Occupancy from the agent hour rollups (agent_hour_rollups, migration 0029): the agents' time
 * per UTC hour, stored in milliseconds by the KPI rollup refresh (kpi-rollup.refresh.ts) from
 * the same presence timeline and work intervals, and with the same pure functions
 * (src/domain/figures/occupancy.ts), as the agent report (agent-report.ts). Seconds are
 * measures of time sets clipped to the hour, so a period's figures are the exact sum of its
 * hours: the rollups reproduce the agent report exactly.
 */
const HOUR_MS = 3_600_000;
/** Work intervals are at most 24 hours long (POST /v1/tickets/:id/work). */
const LONGEST_WORK_MS = 24 * HOUR_MS;

export interface AgentHour {
  hour: Date;
  agentId: string;
  loggedInMs: number;
  availableMs: number;
  awayMs: number;
  handlingMs: number;
  idleMs: number;
}

/** Every agent's figures for each UTC hour of [from, to) (whole hours), the hours with time logged in or handled. */
export async function agentHours(db: Queryable, from: Date, to: Date): Promise<AgentHour[]> {
  const start = from.getTime();
  const end = to.getTime();
  if (start >= end) return [];
  // One after the other: the refresh runs these on one client inside its transaction.
  const agents = await db.query<{ id: string; status_at_from: string | null }>(
      `select a.id::text, (select p.status from agent_presence_events p where p.agent_id = a.id and p.at < $1 order by p.at desc limit 1) as status_at_from from agents a`,
      [from],
  );
  const presence = await db.query<{ agent_id: string; status: string; at: Date }>('select agent_id::text, status, at from agent_presence_events where at >= $1 and at < $2 order by agent_id, at, id', [from, to]);
  const work = await db.query<{ agent_id: string; started_at: Date; ended_at: Date }>(
    'select agent_id::text, started_at, ended_at from work_intervals where started_at >= $1 and started_at < $2 and ended_at > $3',
    [new Date(start - LONGEST_WORK_MS), to, from],
  );
  const changesOf = new Map<string, PresenceChange[]>();
  for (const p of presence.rows) {
    const list = changesOf.get(p.agent_id) ?? [];
    list.push({ status: p.status, at: p.at.getTime() });
    changesOf.set(p.agent_id, list);
  }
  const workOf = new Map<string, Interval[]>();
  for (const w of work.rows) {
    const list = workOf.get(w.agent_id) ?? [];
    list.push({ start: w.started_at.getTime(), end: w.ended_at.getTime() });
    workOf.set(w.agent_id, list);
  }
  const out: AgentHour[] = [];
  for (const agent of agents.rows) {
    const timeline = presenceIntervals(agent.status_at_from ?? 'offline', changesOf.get(agent.id) ?? [], start, end);
    const intervals = workOf.get(agent.id) ?? [];
    if (intervals.length === 0 && timeline.online.length === 0 && timeline.away.length === 0) continue;
    for (let h = start; h < end; h += HOUR_MS) {
      const f = agentFigures(timeline, intervals, h, Math.min(h + HOUR_MS, end));
      if (f.loggedInSec === 0 && f.handlingSec === 0) continue;
      const ms = (sec: number) => Math.round(sec * 1000);
      out.push({ hour: new Date(h), agentId: agent.id, loggedInMs: ms(f.loggedInSec), availableMs: ms(f.availableSec), awayMs: ms(f.awaySec), handlingMs: ms(f.handlingSec), idleMs: ms(f.idleSec) });
    }
  }
  return out;
}

/** Replaces the stored agent hours of [from, to) (whole hours), inside the refresh's transaction. */
export async function storeAgentHours(db: Queryable, ranges: readonly [number, number][]): Promise<number> {
  let written = 0;
  for (const [from, to] of ranges) {
    const rows = await agentHours(db, new Date(from), new Date(to));
    await db.query('delete from agent_hour_rollups where hour >= $1 and hour < $2', [new Date(from), new Date(to)]);
    for (let i = 0; i < rows.length; i += 5000) {
      const chunk = rows.slice(i, i + 5000);
      await db.query(
        `insert into agent_hour_rollups (hour, agent_id, logged_in_ms, available_ms, away_ms, handling_ms, idle_ms)
         select * from unnest($1::timestamptz[], $2::uuid[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[])`,
        [chunk.map((r) => r.hour), chunk.map((r) => r.agentId), chunk.map((r) => r.loggedInMs), chunk.map((r) => r.availableMs), chunk.map((r) => r.awayMs), chunk.map((r) => r.handlingMs), chunk.map((r) => r.idleMs)],
      );
    }
    written += rows.length;
  }
  return written;
}

export interface OccupancyParts {
  handlingSec: number;
  idleSec: number;
}
export interface OccupancyByGroup {
  /** Per group key (agent id, team id, local day), for agent, team and day groupings. */
  groups: Map<string | null, OccupancyParts>;
  total: OccupancyParts;
}

export const occupancyOf = (p: OccupancyParts | undefined): number | null => (!p || p.handlingSec + p.idleSec === 0 ? null : p.handlingSec / (p.handlingSec + p.idleSec));

/**
 * The whole UTC hours [h1, stored) of [from, to) that agent_hour_rollups holds (up to the
 * refresh's watermark); the partial hours around them are the caller's to read live. Null when
 * no whole stored hour falls in the range, or when a by-day grouping's local days do not all
 * start on a whole UTC hour (zones at :30 or :45): the caller then reads the raw tables alone.
 */
export async function storedAgentHours(pool: pg.Pool, q: { from: Date; to: Date; groupBy: string | null; tz: string }): Promise<{ from: number; to: number; h1: number; stored: number } | null> {
  const state = await pool.query<{ watermark: Date }>('select watermark from kpi_rollup_state where id = 1');
  const watermark = state.rows[0]?.watermark.getTime();
  if (watermark === undefined) return null;
  const from = q.from.getTime();
  const to = q.to.getTime();
  const h1 = Math.ceil(from / HOUR_MS) * HOUR_MS;
  const stored = Math.min(Math.floor(to / HOUR_MS) * HOUR_MS, watermark);
  if (h1 >= stored) return null;
  if (q.groupBy === 'day') {
    for (let d = DateTime.fromMillis(from, { zone: q.tz }).startOf('day'); d.toMillis() < to; d = d.plus({ days: 1 })) if (d.toMillis() % HOUR_MS !== 0) return null;
  }
  return { from, to, h1, stored };
}

/**
 * Handling and available-idle seconds per group over [from, to): the stored hours in
 * [ceil(from), min(floor(to), watermark)) from agent_hour_rollups, the rest (a partial first
 * and last hour, hours after the watermark) live from the agent report. Null when no whole
 * stored hour falls in the range, or a day grouping in a zone whose days do not start on whole
 * UTC hours: the caller then uses the agent report alone.
 */
export async function occupancyFromRollups(
  pool: pg.Pool,
  q: { from: Date; to: Date; groupBy: AgentGroupBy | null; tz: string; teamId?: string | undefined },
): Promise<OccupancyByGroup | null> {
  const span = await storedAgentHours(pool, q);
  if (!span) return null;
  const { from, to, h1, stored } = span;
  const key = q.groupBy === 'agent' ? 'r.agent_id::text' : q.groupBy === 'team' ? 'a.team_id::text' : q.groupBy === 'day' ? `to_char(r.hour at time zone $4, 'YYYY-MM-DD')` : 'null::text';
  const params: unknown[] = [new Date(h1), new Date(stored), q.teamId ?? null];
  if (q.groupBy === 'day') params.push(q.tz);
  const [rows, head, tail] = await Promise.all([
    pool.query<{ key: string | null; handling: string; idle: string }>(
      `select ${key} as key, sum(r.handling_ms)::text as handling, sum(r.idle_ms)::text as idle
         from agent_hour_rollups r join agents a on a.id = r.agent_id
        where r.hour >= $1 and r.hour < $2 and ($3::uuid is null or a.team_id = $3::uuid)
        group by 1`,
      params,
    ),
    from < h1 ? queryAgentReport(pool, { from: q.from, to: new Date(h1), groupBy: q.groupBy, tz: q.tz, teamId: q.teamId }) : null,
    stored < to ? queryAgentReport(pool, { from: new Date(stored), to: q.to, groupBy: q.groupBy, tz: q.tz, teamId: q.teamId }) : null,
  ]);
  const groups = new Map<string | null, OccupancyParts>();
  const total: OccupancyParts = { handlingSec: 0, idleSec: 0 };
  const add = (k: string | null, handlingSec: number, idleSec: number) => {
    const g = groups.get(k) ?? { handlingSec: 0, idleSec: 0 };
    g.handlingSec += handlingSec;
    g.idleSec += idleSec;
    groups.set(k, g);
    total.handlingSec += handlingSec;
    total.idleSec += idleSec;
  };
  for (const r of rows.rows) add(r.key, Number(r.handling) / 1000, Number(r.idle) / 1000);
  for (const report of [head, tail]) if (report) for (const r of q.groupBy === null ? [report.total] : report.rows) add(r.group.key, r.handlingSec, r.idleSec);
  return { groups, total };
}
