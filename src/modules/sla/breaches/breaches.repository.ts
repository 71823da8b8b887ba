import { and, eq, inArray, ne, sql, type SQL } from 'drizzle-orm';
import type { Executor } from '../../../db/client.js';
import { PRIORITIES, type Priority } from '../../../domain/ticket-lifecycle.js';
import { breaches } from '../sla.table.js';

/**
 * The one module that writes `breaches` (single rows and the timer worker's batch). Breaches
 * are unique per clock run and per commitment: a second writer of the same breach records
 * nothing (undefined / no id), which is how racing workers breach a clock once.
 */

export type NewBreach = typeof breaches.$inferInsert;

/** A breach's severity: its ticket's priority as a rank (low 0 … urgent 3), for the queue's order. */
export const severityOf = (priority: string): number => Math.max(0, PRIORITIES.indexOf(priority as Priority));

export async function recordBreach(tx: Executor, values: NewBreach): Promise<{ id: string } | undefined> {
  const [row] = await tx.insert(breaches).values(values).onConflictDoNothing().returning({ id: breaches.id });
  return row;
}

/**
 * The batch form, as a statement to run inside a larger one (a CTE of the timer worker):
 * `select` yields, in order, id, ticket_id, clock_id, clock_started_at, policy_id, metric,
 * channel, team_id, severity, due_at, breached_at. Returns the ids recorded.
 */
export function recordBreachesFrom(select: SQL): SQL {
  return sql`insert into breaches (id, ticket_id, clock_id, clock_started_at, policy_id, metric, channel, team_id, severity, due_at, breached_at)
    ${select}
    on conflict do nothing
    returning id`;
}

/** Resolves the open breaches of stopped clocks or of a closed commitment. */
export async function resolveBreaches(tx: Executor, of: { clockIds: string[] } | { commitmentId: string }, now: Date): Promise<{ id: string; metric: string }[]> {
  const which = 'clockIds' in of ? inArray(breaches.clockId, of.clockIds) : eq(breaches.commitmentId, of.commitmentId);
  return tx
    .update(breaches)
    .set({ state: 'resolved', resolvedAt: now })
    .where(and(which, ne(breaches.state, 'resolved')))
    .returning({ id: breaches.id, metric: breaches.metric });
}

export async function acknowledgeBreach(tx: Executor, breachId: string, by: string, note: string | null, now: Date): Promise<void> {
  await tx.update(breaches).set({ state: 'acknowledged', acknowledgedBy: by, acknowledgedAt: now, ackNote: note }).where(eq(breaches.id, breachId));
}

/** An escalation level reached: the breach follows its ticket's priority and team. */
export async function escalateBreach(tx: Executor, breachId: string, level: number, ticket: { severity: number; teamId: string | null }): Promise<void> {
  await tx.update(breaches).set({ escalationLevel: level, severity: ticket.severity, teamId: ticket.teamId }).where(eq(breaches.id, breachId));
}

/** Locks one breach for a change of its state. */
export async function lockBreach(tx: Executor, breachId: string) {
  const [row] = await tx.select().from(breaches).where(eq(breaches.id, breachId)).for('update');
  return row;
}
