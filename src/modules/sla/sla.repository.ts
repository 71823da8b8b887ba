import { asc, eq, sql, type SQL, type WithSubquery } from 'drizzle-orm';
import type { Executor } from '../../db/client.js';
import type { BusinessCalendar, CalendarDefinition } from '../../domain/calendar.js';
import type { ClockStateName, SlaClock, SlaMetric, SlaPolicy } from '../../domain/sla/sla.types.js';
import { PRIORITIES, type Priority } from '../../domain/ticket-lifecycle.js';
import { calendars, slaClocks, slaPolicies, slaStreamEvents } from './sla.table.js';

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

export const severityOf = (priority: string): number => Math.max(0, PRIORITIES.indexOf(priority as Priority));

export interface LoadedPolicies {
  policies: SlaPolicy[];
  byId: Map<string, SlaPolicy>;
}

export async function loadPolicies(tx: Executor): Promise<LoadedPolicies> {
  const calendarRows = await tx.select().from(calendars);
  // One object per calendar: the calendar module caches its preparation by identity.
  const calendarById = new Map<string, BusinessCalendar>(calendarRows.map((c) => [c.id, c.definition as CalendarDefinition]));
  const rows = await tx.select().from(slaPolicies).orderBy(asc(slaPolicies.position), asc(slaPolicies.createdAt));
  const policies: SlaPolicy[] = rows.map((r) => ({
    id: r.id,
    name: r.name,
    position: r.position,
    match: r.match,
    calendar: r.calendarId ? (calendarById.get(r.calendarId) ?? null) : null,
    targets: r.targets,
    warnAt: r.warnAt,
    escalation: r.escalation,
  }));
  return { policies, byId: new Map(policies.map((p) => [p.id, p])) };
}

/**
 * Policies change rarely and are read on every ticket change: each process keeps them for a
 * few seconds, and the process that edits them drops its copy at once.
 *
 * A caller inside a transaction passes it, and a reload then runs on the connection it already
 * holds. It must never wait for the pool: when every pooled connection is a transaction waiting
 * for the cache (a burst of ticket changes or timer jobs after a policy change, or at the TTL),
 * a reload through the pool would wait forever and the whole process would hang.
 */
export class PolicyCache {
  #cached: { value: LoadedPolicies; at: number } | null = null;
  #loading: Promise<LoadedPolicies> | null = null;
  /** Bumped by invalidate(): a load that started before it must not be cached as fresh. */
  #generation = 0;

  constructor(
    private readonly db: Executor,
    private readonly ttlMs = 5_000,
  ) {}

  get(tx?: Executor): Promise<LoadedPolicies> {
    const cached = this.#cached;
    if (cached && Date.now() - cached.at <= this.ttlMs) return Promise.resolve(cached.value);
    // In a transaction: load on its own connection rather than share a load that needs the pool.
    if (tx) return this.#load(tx);
    if (!this.#loading) {
      const loading = this.#load(this.db).finally(() => {
        if (this.#loading === loading) this.#loading = null;
      });
      this.#loading = loading;
    }
    return this.#loading;
  }

  invalidate(): void {
    this.#generation++;
    this.#cached = null;
    this.#loading = null;
  }

  async #load(executor: Executor): Promise<LoadedPolicies> {
    const generation = this.#generation;
    const at = Date.now();
    const value = await loadPolicies(executor);
    if (generation === this.#generation && (!this.#cached || this.#cached.at < at)) this.#cached = { value, at };
    return value;
  }
}

/** Records an operations event; NOTIFY wakes every API process's SSE hub at commit. */
export async function publishStreamEvent(tx: Executor, type: string, data: Record<string, unknown>, now: Date): Promise<void> {
  const [row] = await tx.insert(slaStreamEvents).values({ type, data, createdAt: now }).returning({ id: slaStreamEvents.id });
  await tx.execute(sql`select pg_notify(${STREAM_CHANNEL}, ${String(row!.id)})`);
}

export const STREAM_CHANNEL = 'sla_stream';

/**
 * The batch form, as a statement to run inside a larger one (a CTE): `select` yields, in
 * order, type, data, created_at. Returns the ids; the caller notifies STREAM_CHANNEL once.
 */
export function publishStreamEventsFrom(select: SQL): SQL {
  return sql`insert into sla_stream_events (type, data, created_at) ${select} returning id`;
}
