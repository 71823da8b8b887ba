import { asc, eq, sql, type WithSubquery } from 'drizzle-orm';
import type { Executor } from '../../../db/client.js';
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

/** In id order, like the timer worker's batches (sla.firing.ts), so the two never deadlock. */
export async function lockClocksOfTicket(tx: Executor, ticketId: string): Promise<ClockRow[]> {
  return tx.select().from(slaClocks).where(eq(slaClocks.ticketId, ticketId)).orderBy(asc(slaClocks.id)).for('update');
}
