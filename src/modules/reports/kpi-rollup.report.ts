import { DateTime } from 'luxon';
import type pg from 'pg';
import { emptyCell, figuresOf, hasFacts, mergeCell, mergeStored, type Cell } from './kpi-rollup.cells.js';
import { aggregateFacts, type Dim, type HourCell } from './kpi-rollup.facts.js';
import { DAY_MS, HOUR_MS } from './kpi-rollup.refresh.js';
import type { GroupBy, KpiQuery, KpiReport, KpiRow } from './kpi.queries.js';

/**
 * The KPI report from the rollups: the same rows and figures as the exact statement
 * (kpi.queries.ts), counts and rates equal, medians and p90 within the sketch's relative
 * accuracy (kpi-sketch.ts). The range is cut into
 *   - whole hours before the watermark (except the hour holding "now", whose open commitments
 *     turn overdue inside it): stored cells, whole UTC days as their day rows when a day falls
 *     in one bucket;
 *   - the open hour after the watermark as the last refresh stored it, up to a minute or two
 *     before it ran (when the range goes past it);
 *   - the rest (a partial first and last hour, what came after the stored part, the hour of
 *     "now"): aggregated live from the fact tables, the same cells computed on the spot.
 * The backlog at an instant is the running sum of created − done over every hour before it.
 * Answers null when the rollups cannot serve the query (never refreshed, no whole hour of the
 * range before the watermark, a time zone whose day boundaries are not whole UTC hours):
 * the caller then runs the exact statement.
 */
const floorTo = (ms: number, unit: number) => Math.floor(ms / unit) * unit;
const ceilTo = (ms: number, unit: number) => Math.ceil(ms / unit) * unit;

const DIM_OF: Record<GroupBy, Dim> = { channel: '', team: '', day: '', week: '', agent: 'agent', language: 'language', priority: 'priority', reason: 'reason', rootCause: 'rootCause' };
const isTime = (g: GroupBy | null): g is 'day' | 'week' => g === 'day' || g === 'week';

interface StoredRow {
  period: 'hour' | 'day' | 'partial';
  starts_at: Date;
  channel: string;
  team_id: string | null;
  value: string | null;
  counts: Record<string, number>;
  sketches: Buffer;
}

export async function queryKpisFromRollups(pool: pg.Pool, q: KpiQuery): Promise<KpiReport | null> {
  const state = await pool.query<{ watermark: Date; partial_until: Date | null }>('select watermark, partial_until from kpi_rollup_state where id = 1');
  const watermark = state.rows[0]?.watermark.getTime();
  if (watermark === undefined) return null;
  const from = q.from.getTime();
  const to = q.to.getTime();
  const h1 = ceilTo(from, HOUR_MS);
  const stored = Math.min(floorTo(to, HOUR_MS), watermark);
  if (h1 >= stored) return null;
  const now = q.now.getTime();
  const nowHour = floorTo(now, HOUR_MS);
  // The open hour's stored minutes [watermark, partialUntil): those the range covers whole (all
  // of them when it ends after partialUntil), when "now" is past them (their open commitments
  // were counted overdue as of the refresh).
  const partialUntil = state.rows[0]!.partial_until?.getTime() ?? null;
  const partialEnd = partialUntil === null ? null : to >= partialUntil ? partialUntil : floorTo(to, 60_000);
  const partial = partialEnd !== null && stored === watermark && partialEnd > watermark && now >= partialEnd && nowHour >= watermark;
  const liveFrom = partial ? partialEnd : stored;

  const groupBy = q.groupBy;
  const bucketOf = isTime(groupBy) ? bucketFunction(groupBy, q.tz) : null;
  if (bucketOf && !bucketsOnHours(groupBy as 'day' | 'week', q.tz, from, to)) return null;
  const dim: Dim = groupBy === null ? '' : DIM_OF[groupBy];

  // The stored part: whole UTC days where a day row can stand for its 24 hours, hours elsewhere.
  const days: Date[] = [];
  const hours: Date[] = [];
  for (let h = h1; h < stored; ) {
    const dayFits = h % DAY_MS === 0 && h + DAY_MS <= stored && !(nowHour >= h && nowHour < h + DAY_MS) && (!bucketOf || bucketOf(h) === bucketOf(h + DAY_MS - 1));
    if (dayFits) {
      days.push(new Date(h));
      h += DAY_MS;
    } else {
      if (h !== nowHour) hours.push(new Date(h));
      h += HOUR_MS;
    }
  }
  const filters: string[] = [];
  const params: unknown[] = [dim];
  if (q.channels?.length) {
    params.push(q.channels);
    filters.push(`and channel = any($${params.length}::text[])`);
  }
  if (q.teamId) {
    params.push(q.teamId);
    filters.push(`and team_id = $${params.length}::uuid`);
  }
  const where = `dim = $1 ${filters.join(' ')}`;
  const n = params.length;
  const [storedRows, baseRows, live] = await Promise.all([
    pool.query<StoredRow>(
      `select period, starts_at, channel, team_id, value, counts, sketches from kpi_rollups
        where ${where} and ((period = 'day' and starts_at = any($${n + 1}::timestamptz[])) or (period = 'hour' and starts_at = any($${n + 2}::timestamptz[]))
          or (period = 'partial' and $${n + 3}::boolean and starts_at < $${n + 4}::timestamptz))`,
      [...params, days, hours, partial, partialEnd === null ? null : new Date(partialEnd)],
    ),
    // Everything before the first whole hour, for the backlog: created − done since the start.
    pool.query<{ channel: string; team_id: string | null; value: string | null; open: number }>(
      `select channel, team_id, value, sum(created - done)::int as open from kpi_rollups
        where ${where} and ((period = 'day' and starts_at < $${n + 1}) or (period = 'hour' and starts_at >= $${n + 1} and starts_at < $${n + 2}))
        group by channel, team_id, value`,
      [...params, new Date(floorTo(h1, DAY_MS)), new Date(h1)],
    ),
    Promise.all([
      liveCells(pool, from, h1, q, dim),
      nowHour >= h1 && nowHour < stored ? liveCells(pool, nowHour, nowHour + HOUR_MS, q, dim) : [],
      liveCells(pool, liveFrom, to, q, dim),
    ]),
  ]);
  const [head, nowCells, tail] = live;

  const groupKey = (row: { channel: string; teamId: string | null; value: string | null }, hour: number): string | null => {
    if (groupBy === null) return null;
    if (bucketOf) return bucketOf(hour);
    if (groupBy === 'channel') return row.channel;
    if (groupBy === 'team') return row.teamId;
    return row.value;
  };
  const groups = new Map<string | null, Cell>();
  const cellFor = (key: string | null) => {
    let cell = groups.get(key);
    if (!cell) groups.set(key, (cell = emptyCell()));
    return cell;
  };
  const total = emptyCell();
  /** created − done per group (or per bucket for a time grouping) from the first whole hour on. */
  const moves = new Map<string | null, number>();
  const move = (key: string | null, delta: number) => moves.set(key, (moves.get(key) ?? 0) + delta);

  for (const row of storedRows.rows) {
    const start = row.period === 'partial' ? watermark : row.starts_at.getTime();
    const key = groupKey({ channel: row.channel, teamId: row.team_id, value: row.value }, start);
    let counts = row.counts;
    // A stored hour counts its open commitments overdue; after "now" they are not due yet.
    if (start >= now && counts.commitmentsOverdue) {
      counts = { ...counts, commitmentsPending: (counts.commitmentsPending ?? 0) + counts.commitmentsOverdue, commitmentsOverdue: 0 };
    }
    // Decoded straight into the group's sketches (adding bins, no intermediate sketch); the
    // total is the merge of the groups, below (each row is decoded once, not twice).
    mergeStored(cellFor(key), counts, row.sketches);
    move(key, (counts.created ?? 0) - (counts.done ?? 0));
  }
  for (const [cells, inBacklog] of [
    [head, false],
    [nowCells, true],
    [tail, true],
  ] as const) {
    for (const c of cells) {
      const key = groupKey(c, c.hour.getTime());
      mergeCell(cellFor(key), c.cell);
      // The head's facts are in the base (the stored hour before the first whole hour); the now
      // hour is read live only (never among the stored rows above).
      if (inBacklog) move(key, c.cell.counts.created! - c.cell.counts.done!);
    }
  }
  // Every fact is in exactly one group: the total is their merge.
  for (const cell of groups.values()) mergeCell(total, cell);
  const base = new Map<string | null, number>();
  for (const row of baseRows.rows) {
    const key = bucketOf ? null : groupKey({ channel: row.channel, teamId: row.team_id, value: row.value }, 0);
    base.set(key, (base.get(key) ?? 0) + Number(row.open));
  }

  let rows: { key: string | null; cell: Cell; backlog: number }[];
  let totalBacklog: number;
  if (bucketOf) {
    const buckets = bucketList(groupBy as 'day' | 'week', q.tz, from, to);
    let running = base.get(null) ?? 0;
    rows = buckets.map((key) => {
      running += moves.get(key) ?? 0;
      return { key, cell: groups.get(key) ?? emptyCell(), backlog: running };
    });
    totalBacklog = running;
  } else {
    const keys = new Set<string | null>([...groups.keys()].filter((k) => hasFacts(groups.get(k)!)));
    const backlogOf = (key: string | null) => (base.get(key) ?? 0) + (moves.get(key) ?? 0);
    for (const key of new Set([...base.keys(), ...moves.keys()])) if (backlogOf(key) > 0) keys.add(key);
    rows = [...keys].map((key) => ({ key, cell: groups.get(key) ?? emptyCell(), backlog: backlogOf(key) }));
    totalBacklog = [...base.values(), ...moves.values()].reduce((sum, n) => sum + n, 0);
  }
  rows.sort((a, b) => (a.key === null ? 1 : b.key === null ? -1 : a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const labels = await labelsOf(pool, groupBy, rows.map((r) => r.key));
  return {
    rows: groupBy === null ? [] : rows.map((r): KpiRow => ({ group: { key: r.key, label: labels(r.key) }, ...figuresOf(r.cell, r.backlog) })),
    total: { group: { key: null, label: 'Total' }, ...figuresOf(total, totalBacklog) },
  };
}

async function liveCells(pool: pg.Pool, from: number, to: number, q: KpiQuery, dim: Dim): Promise<HourCell[]> {
  if (from >= to) return [];
  const cells = await aggregateFacts(pool, { from: new Date(from), to: new Date(to), now: q.now }, [dim], 'hour', q.settings);
  return cells.filter((c) => (!q.channels?.length || q.channels.includes(c.channel)) && (!q.teamId || c.teamId === q.teamId));
}

/** The bucket (its local start, YYYY-MM-DD) of an instant, as the exact statement cuts it in tz. */
function bucketFunction(unit: 'day' | 'week', tz: string): (ms: number) => string {
  // Memoised: a month's stored rows share a few hundred instants, and luxon's zone arithmetic
  // costs tens of microseconds a call.
  const memo = new Map<number, string>();
  return (ms) => {
    let key = memo.get(ms);
    if (key === undefined) memo.set(ms, (key = DateTime.fromMillis(ms, { zone: tz }).startOf(unit).toFormat('yyyy-MM-dd')));
    return key;
  };
}

/**
 * Whether every bucket boundary in [from, to] is a whole UTC hour (not so in zones at :30 or
 * :45): the bucket starts after the first hour's start, walked bucket by bucket (31 for a month
 * by day, not 720 hours).
 */
function bucketsOnHours(unit: 'day' | 'week', tz: string, from: number, to: number): boolean {
  const first = floorTo(from, HOUR_MS);
  for (let b = DateTime.fromMillis(first, { zone: tz }).startOf(unit); b.toMillis() < to; b = b.plus(unit === 'day' ? { days: 1 } : { weeks: 1 })) {
    if (b.toMillis() > first && b.toMillis() % HOUR_MS !== 0) return false;
  }
  return true;
}

function bucketList(unit: 'day' | 'week', tz: string, from: number, to: number): string[] {
  const keys: string[] = [];
  for (let b = DateTime.fromMillis(from, { zone: tz }).startOf(unit); b.toMillis() < to; b = b.plus(unit === 'day' ? { days: 1 } : { weeks: 1 })) keys.push(b.toFormat('yyyy-MM-dd'));
  return keys;
}

async function labelsOf(pool: pg.Pool, groupBy: GroupBy | null, keys: (string | null)[]): Promise<(key: string | null) => string> {
  const ids = keys.filter((k): k is string => k !== null);
  if (groupBy === 'team' || groupBy === 'agent') {
    const table = groupBy === 'team' ? 'teams' : 'agents';
    const names = new Map((await pool.query<{ id: string; name: string }>(`select id::text, name from ${table} where id = any($1::uuid[])`, [ids])).rows.map((r) => [r.id, r.name]));
    const none = groupBy === 'team' ? '(no team)' : '(unassigned)';
    return (key) => (key === null ? none : (names.get(key) ?? key));
  }
  if (groupBy === 'language') return (key) => key ?? '(unknown)';
  if (groupBy === 'reason' || groupBy === 'rootCause') {
    const table = groupBy === 'reason' ? 'reasons' : 'root_causes';
    const names = new Map((await pool.query<{ id: string; label: string }>(`select id::text, code || ' ' || name as label from ${table} where id = any($1::uuid[])`, [ids])).rows.map((r) => [r.id, r.label]));
    const none = groupBy === 'reason' ? '(no reason)' : '(no root cause)';
    return (key) => (key === null ? none : (names.get(key) ?? key));
  }
  if (groupBy === 'week') return (key) => (key === null ? 'null' : DateTime.fromISO(key, { zone: 'UTC' }).toFormat("kkkk-'W'WW"));
  return (key) => String(key);
}
