import { asc } from 'drizzle-orm';
import type { Executor } from '../../../db/client.js';
import type { BusinessCalendar, CalendarDefinition } from '../../../domain/calendar.js';
import type { SlaPolicy } from '../../../domain/sla/sla.types.js';
import { calendars, slaPolicies } from '../sla.table.js';

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
