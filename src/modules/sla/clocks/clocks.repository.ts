import { asc, eq, getTableColumns, sql, type WithSubquery } from 'drizzle-orm';
import { clientOf, type Executor } from '../../../db/client.js';
import type { ClockStateName, SlaClock, SlaMetric } from '../../../domain/sla/sla.types.js';
import { slaClocks } from '../sla.table.js';

/** The sla_clocks rows: the engine's clocks read and written, and the lock order on them. */

export type ClockRow = typeof slaClocks.$inferSelect;

export function toDomainClock(row: ClockRow): SlaClock {
  return {
    metric: row.metric as SlaMetric,
    state: row.state as ClockStateName,
    targetSec: row.targetSec,
    startedAt: row.startedAt,
    resumedAt: row.resumedAt,
    usedSec: row.usedSec,
    dueAt: row.dueAt,
    warnDueAt: row.warnDueAt,
    pausedAt: row.pausedAt,
    warnedAt: row.warnedAt,
    breachedAt: row.breachedAt,
    stoppedAt: row.stoppedAt,
    generation: row.generation,
  };
}

export function clockColumns(clock: SlaClock) {
  return {
    metric: clock.metric,
    state: clock.state,
    targetSec: Math.round(clock.targetSec),
    startedAt: clock.startedAt,
    resumedAt: clock.resumedAt,
    usedSec: clock.usedSec,
    dueAt: clock.dueAt,
    warnDueAt: clock.warnDueAt,
    pausedAt: clock.pausedAt,
    warnedAt: clock.warnedAt,
    breachedAt: clock.breachedAt,
    stoppedAt: clock.stoppedAt,
    generation: clock.generation,
  };
}

/**
 * Writes the clocks the engine changed; one row per (ticket, metric). `alongside`: another
 * write (a CTE) that runs in the same statement, saving a round trip.
 */
export async function saveClocks(tx: Executor, ticketId: string, policyId: string | null, clocks: SlaClock[], now: Date, alongside?: WithSubquery): Promise<ClockRow[]> {
  if (clocks.length === 0) return [];
  return (alongside ? tx.with(alongside) : tx)
    .insert(slaClocks)
    .values(clocks.map((c) => ({ ticketId, policyId, ...clockColumns(c), updatedAt: now })))
    .onConflictDoUpdate({
      target: [slaClocks.ticketId, slaClocks.metric],
      set: {
        policyId: sql`excluded.policy_id`,
        state: sql`excluded.state`,
        targetSec: sql`excluded.target_sec`,
        startedAt: sql`excluded.started_at`,
        resumedAt: sql`excluded.resumed_at`,
        usedSec: sql`excluded.used_sec`,
        dueAt: sql`excluded.due_at`,
        warnDueAt: sql`excluded.warn_due_at`,
        pausedAt: sql`excluded.paused_at`,
        warnedAt: sql`excluded.warned_at`,
        breachedAt: sql`excluded.breached_at`,
        stoppedAt: sql`excluded.stopped_at`,
        generation: sql`excluded.generation`,
        updatedAt: sql`excluded.updated_at`,
      },
    })
    .returning();
}

/** A clock of a ticket created in the transaction, for saveNewTicketClocks. */
export interface NewTicketClock {
  ticketId: string;
  policyId: string | null;
  clock: SlaClock;
  now: Date;
}

/** Clock columns by SQL name, to map a raw row as drizzle's returning() does. */
const clockColumnsByName = Object.entries(getTableColumns(slaClocks)).map(([key, column]) => ({ key, column }));

function clockRowOf(raw: Record<string, unknown>): ClockRow {
  const row: Record<string, unknown> = {};
  for (const { key, column } of clockColumnsByName) {
    const value = raw[column.name];
    row[key] = value === null || value === undefined ? null : column.mapFromDriverValue(value);
  }
  return row as ClockRow;
}

/**
 * The clocks of many tickets created in one transaction (intake's group commit, issue 18), in
 * one statement instead of one saveClocks per ticket: the rows arrive as arrays, one per column,
 * expanded by unnest, so the text is fixed and it runs as a named prepared statement (parsed and
 * planned once per connection). Hand-written SQL, not drizzle's query builder: on this path the
 * builder cost about as much CPU as the round trip. It writes what saveClocks writes, conflict
 * clause included: two rows of one (ticket, metric) fail the statement rather than pass unseen.
 * Needs a transaction's client (clientOf). Answers the rows in no particular order.
 */
export async function saveNewTicketClocks(tx: Executor, rows: readonly NewTicketClock[]): Promise<ClockRow[]> {
  if (rows.length === 0) return [];
  const c = rows.map((r) => ({ ticketId: r.ticketId, policyId: r.policyId, ...clockColumns(r.clock), updatedAt: r.now }));
  const { rows: raw } = await clientOf(tx).query<Record<string, unknown>>({
    name: 'sla_new_ticket_clocks_v1',
    text: `insert into sla_clocks (ticket_id, policy_id, metric, state, target_sec, started_at, resumed_at, used_sec, due_at, warn_due_at, paused_at, warned_at, breached_at, stopped_at, generation, updated_at)
      select * from unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::int[], $6::timestamptz[], $7::timestamptz[], $8::float8[], $9::timestamptz[], $10::timestamptz[],
                           $11::timestamptz[], $12::timestamptz[], $13::timestamptz[], $14::timestamptz[], $15::int[], $16::timestamptz[])
      on conflict (ticket_id, metric) do update set
        policy_id = excluded.policy_id, state = excluded.state, target_sec = excluded.target_sec, started_at = excluded.started_at, resumed_at = excluded.resumed_at,
        used_sec = excluded.used_sec, due_at = excluded.due_at, warn_due_at = excluded.warn_due_at, paused_at = excluded.paused_at, warned_at = excluded.warned_at,
        breached_at = excluded.breached_at, stopped_at = excluded.stopped_at, generation = excluded.generation, updated_at = excluded.updated_at
      returning *`,
    values: [
      c.map((r) => r.ticketId),
      c.map((r) => r.policyId),
      c.map((r) => r.metric),
      c.map((r) => r.state),
      c.map((r) => r.targetSec),
      c.map((r) => r.startedAt),
      c.map((r) => r.resumedAt),
      c.map((r) => r.usedSec),
      c.map((r) => r.dueAt),
      c.map((r) => r.warnDueAt),
      c.map((r) => r.pausedAt),
      c.map((r) => r.warnedAt),
      c.map((r) => r.breachedAt),
      c.map((r) => r.stoppedAt),
      c.map((r) => r.generation),
      c.map((r) => r.updatedAt),
    ],
  });
  return raw.map(clockRowOf);
}

/** In id order, like the timer worker's batches (sla.firing.ts), so the two never deadlock. */
export async function lockClocksOfTicket(tx: Executor, ticketId: string): Promise<ClockRow[]> {
  return tx.select().from(slaClocks).where(eq(slaClocks.ticketId, ticketId)).orderBy(asc(slaClocks.id)).for('update');
}
