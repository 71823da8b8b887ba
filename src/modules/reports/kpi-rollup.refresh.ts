import type pg from 'pg';
import { emptyCell, mergeCell, mergeStored, type Cell } from './kpi-rollup.cells.js';
import { aggregateFacts, type Dim, type HourCell } from './kpi-rollup.facts.js';
import { storeAgentHours } from './kpi-occupancy.js';
import { encodeSketches } from './kpi-sketch.js';
import { DEFAULT_FIGURE_SETTINGS, type FigureSettings } from '../../domain/figures/settings.js';

/**
 * Brings the KPI rollups up to date (the maintenance worker's 'kpi-rollup' job).
 *
 * The watermark W is the end of the last hour aggregated: hours before W are in kpi_rollups,
 * later ones are read live. A run moves W to the last hour that closed at least
 * ROLLUP_MARGIN_MS ago (by the database clock) and re-aggregates, day by day:
 *   - the hours between the old and the new W (the first run: every day since the first ticket);
 *   - the hours marked dirty by the fact tables' triggers: a fact of a closed hour
 *     changed (a ticket reopened, reassigned, its survey answered, its commitment kept, a work
 *     interval reported late, a presence change backdated...). The
 *     triggers mark the hours of the old and the new instants, so a fact that moves leaves its
 *     old hour corrected too.
 * A day's hours are recomputed from the fact tables (with the agents' time per hour,
 * agent_hour_rollups, for occupancy), and its day row (once the day is whole)
 * merged from its 24 stored hours, in one REPEATABLE READ transaction that also deletes
 * the dirty marks its snapshot sees: a mark written by a transaction still in flight is not
 * seen, stays, and brings the day back next run, by when that change is visible. The triggers
 * skip hours still open: the margin covers a transaction that wrote a fact just before its hour
 * closed and commits just after (transactions are far shorter than the margin).
 * The open hour is stored too, up to now − margin (storePartialHour), so a read computes live
 * only the last couple of minutes.
 */
export const ROLLUP_MARGIN_MS = 120_000;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
/** Session advisory lock: one refresh at a time across every worker process. */
const REFRESH_LOCK = 726_345_018;

export interface RefreshResult {
  skipped?: 'another refresh is running';
  watermark: string | null;
  days: number;
  dirtyHours: number;
  rows: number;
  ms: number;
}

const floorDay = (ms: number) => Math.floor(ms / DAY_MS) * DAY_MS;

export async function refreshKpiRollups(pool: pg.Pool, settings: FigureSettings = DEFAULT_FIGURE_SETTINGS): Promise<RefreshResult> {
  const started = performance.now();
  const client = await pool.connect();
  let locked = false;
  try {
    locked = (await client.query<{ ok: boolean }>('select pg_try_advisory_lock($1) as ok', [REFRESH_LOCK])).rows[0]!.ok;
    if (!locked) return { skipped: 'another refresh is running', watermark: null, days: 0, dirtyHours: 0, rows: 0, ms: 0 };
    const plan = await client.query<{ old: Date | null; next: Date; partial: Date; first: Date | null }>(
      `select (select watermark from kpi_rollup_state where id = 1) as old,
              date_trunc('hour', now() - make_interval(secs => $1::float8 / 1000), 'UTC') as next,
              now() - make_interval(secs => $1::float8 / 1000) as partial,
              -- Agent hours (occupancy) may start before the first ticket.
              least((select min(created_at) from tickets), (select min(at) from agent_presence_events), (select min(started_at) from work_intervals)) as first`,
      [ROLLUP_MARGIN_MS],
    );
    const { old, first } = plan.rows[0]!;
    const next = old && old > plan.rows[0]!.next ? old : plan.rows[0]!.next;
    /** Per UTC day, the hours to re-aggregate (null: the whole day, the first build). */
    const days = new Map<number, Set<number> | null>();
    const addHour = (hour: number) => {
      const day = floorDay(hour);
      if (!days.has(day)) days.set(day, new Set());
      days.get(day)?.add(hour);
    };
    if (!old && first) for (let day = floorDay(first.getTime()); day < next.getTime(); day += DAY_MS) days.set(day, null);
    if (old) for (let hour = old.getTime(); hour < next.getTime(); hour += HOUR_MS) addHour(hour);
    const dirty = await client.query<{ hour: Date }>('select distinct hour from kpi_rollup_dirty_hours where hour < $1', [next]);
    for (const { hour } of dirty.rows) addHour(hour.getTime());
    let rows = 0;
    for (const [day, hours] of [...days].sort((a, b) => a[0] - b[0])) rows += await recomputeDay(client, new Date(day), next, hours && [...hours].sort((a, b) => a - b), settings);
    rows += await storePartialHour(client, next, plan.rows[0]!.partial, { days: days.size, dirtyHours: dirty.rowCount, rows, ms: Math.round(performance.now() - started) }, settings);
    return { watermark: next.toISOString(), days: days.size, dirtyHours: dirty.rowCount ?? 0, rows, ms: Math.round(performance.now() - started) };
  } finally {
    if (locked) await client.query('select pg_advisory_unlock($1)', [REFRESH_LOCK]).catch(() => undefined);
    client.release();
  }
}

/**
 * The open hour from the watermark up to `until` (now − margin) as 'partial' rows, one per
 * minute slice, with the new
 * watermark, in one transaction: a reader sees either the old state or the new one. The open
 * hour's changes are not marked dirty; every refresh recomputes it whole instead.
 */
async function storePartialHour(client: pg.PoolClient, watermark: Date, until: Date, summary: Record<string, unknown>, settings: FigureSettings): Promise<number> {
  const partialUntil = until > watermark ? until : null;
  await client.query('begin isolation level repeatable read');
  try {
    // Per minute, so that a report ending inside the open hour still reads most of it stored.
    const cells = partialUntil ? await aggregateFacts(client, { from: watermark, to: partialUntil, now: null }, undefined, 'minute', settings) : [];
    await client.query(`delete from kpi_rollups where period = 'partial'`);
    for (let i = 0; i < cells.length; i += 500) await insertRows(client, cells.slice(i, i + 500).map((c) => ['partial', c] as const));
    await client.query(
      `insert into kpi_rollup_state (id, watermark, partial_until, refreshed_at, last_refresh) values (1, $1, $2, now(), $3)
       on conflict (id) do update set watermark = excluded.watermark, partial_until = excluded.partial_until, refreshed_at = excluded.refreshed_at, last_refresh = excluded.last_refresh`,
      [watermark, partialUntil, summary],
    );
    await client.query('commit');
    return cells.length;
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    throw error;
  }
}

const keyOf = (c: Pick<HourCell, 'channel' | 'teamId' | 'dim' | 'value'>) => `${c.channel}\u0000${c.teamId ?? ''}\u0000${c.dim}\u0000${c.value ?? '\u0001'}`;

/**
 * Re-aggregates hours of one UTC day before `watermark`: `hours` (sorted), or all of them when
 * null; then the day's row when the day is whole, merged from its 24 stored hours.
 */
async function recomputeDay(client: pg.PoolClient, day: Date, watermark: Date, hours: number[] | null, settings: FigureSettings): Promise<number> {
  const dayEnd = new Date(Math.min(day.getTime() + DAY_MS, watermark.getTime()));
  const ranges: [number, number][] = [];
  if (hours === null) ranges.push([day.getTime(), dayEnd.getTime()]);
  else for (const hour of hours) {
    const last = ranges.at(-1);
    if (last && last[1] === hour) last[1] = hour + HOUR_MS;
    else ranges.push([hour, hour + HOUR_MS]);
  }
  await client.query('begin isolation level repeatable read');
  try {
    const cells: HourCell[] = [];
    for (const [from, to] of ranges) cells.push(...(await aggregateFacts(client, { from: new Date(from), to: new Date(to), now: null }, undefined, 'hour', settings)));
    const hourList = hours?.map((h) => new Date(h)) ?? null;
    if (hourList) await client.query(`delete from kpi_rollups where period = 'hour' and starts_at = any($1::timestamptz[])`, [hourList]);
    else await client.query(`delete from kpi_rollups where period = 'hour' and starts_at >= $1 and starts_at < $2`, [day, new Date(day.getTime() + DAY_MS)]);
    for (let i = 0; i < cells.length; i += 500) await insertRows(client, cells.slice(i, i + 500).map((c) => ['hour', c] as const));
    let written = cells.length;
    // The agents' time in the same hours (occupancy, kpi-occupancy.ts), same transaction.
    written += await storeAgentHours(client, ranges);
    if (day.getTime() + DAY_MS <= watermark.getTime()) {
      const dayCells = new Map<string, HourCell>();
      const merge = (c: Omit<HourCell, 'cell' | 'hour'>, add: (into: Cell) => void) => {
        const key = keyOf(c);
        let merged = dayCells.get(key);
        if (!merged) dayCells.set(key, (merged = { ...c, hour: day, cell: emptyCell() }));
        add(merged.cell);
      };
      if (hourList === null) for (const c of cells) merge(c, (into) => mergeCell(into, c.cell));
      else {
        const stored = await client.query<{ channel: string; team_id: string | null; dim: Dim; value: string | null; counts: Record<string, number>; sketches: Buffer }>(
          `select channel, team_id, dim, value, counts, sketches from kpi_rollups where period = 'hour' and starts_at >= $1 and starts_at < $2`,
          [day, new Date(day.getTime() + DAY_MS)],
        );
        for (const r of stored.rows) merge({ channel: r.channel, teamId: r.team_id, dim: r.dim, value: r.value }, (into) => mergeStored(into, r.counts, r.sketches));
      }
      await client.query(`delete from kpi_rollups where period = 'day' and starts_at = $1`, [day]);
      const dayRows = [...dayCells.values()];
      for (let i = 0; i < dayRows.length; i += 500) await insertRows(client, dayRows.slice(i, i + 500).map((c) => ['day', c] as const));
      written += dayRows.length;
    }
    if (hourList) await client.query('delete from kpi_rollup_dirty_hours where hour = any($1::timestamptz[])', [hourList]);
    else await client.query('delete from kpi_rollup_dirty_hours where hour >= $1 and hour < $2', [day, dayEnd]);
    await client.query('commit');
    return written;
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    throw error;
  }
}

async function insertRows(client: pg.PoolClient, rows: (readonly ['hour' | 'day' | 'partial', HourCell])[]): Promise<void> {
  if (rows.length === 0) return;
  const columns = { period: [] as string[], startsAt: [] as Date[], channel: [] as string[], team: [] as (string | null)[], dim: [] as string[], value: [] as (string | null)[] };
  const created: number[] = [];
  const done: number[] = [];
  const counts: string[] = [];
  const sketches: Buffer[] = [];
  for (const [period, c] of rows) {
    columns.period.push(period);
    columns.startsAt.push(c.hour);
    columns.channel.push(c.channel);
    columns.team.push(c.teamId);
    columns.dim.push(c.dim);
    columns.value.push(c.value);
    created.push(c.cell.counts.created!);
    done.push(c.cell.counts.done!);
    counts.push(JSON.stringify(compactCounts(c.cell)));
    sketches.push(encodeSketches(c.cell.sketches));
  }
  await client.query(
    `insert into kpi_rollups (period, starts_at, channel, team_id, dim, value, created, done, counts, sketches)
     select * from unnest($1::text[], $2::timestamptz[], $3::text[], $4::uuid[], $5::text[], $6::text[], $7::int[], $8::int[], $9::jsonb[], $10::bytea[])`,
    [columns.period, columns.startsAt, columns.channel, columns.team, columns.dim, columns.value, created, done, counts, sketches],
  );
}

/** Zero counters are left out of the stored form: most cells have a few facts of a few kinds. */
function compactCounts(cell: Cell): Record<string, number> {
  return Object.fromEntries(Object.entries(cell.counts).filter(([, v]) => v !== 0));
}

export { HOUR_MS, DAY_MS };
