import { and, asc, eq, gte, inArray, isNull, lte, sql } from 'drizzle-orm';
import type { Database } from '../../../db/client.js';
import { cursorKeys, decodeCursor, toPage } from '../../../http/pagination.js';
import type { Clock } from '../../../shared/clock.js';
import { conflict, notFound } from '../../../shared/errors.js';
import { tickets } from '../../tickets/tickets.table.js';
import { acknowledgeBreach, lockBreach } from './breaches.repository.js';
import { publishStreamEvent } from './stream-events.repository.js';
import type { BREACH_STATES } from '../sla.table.js';
import { breaches, slaClocks } from '../sla.table.js';

export type BreachState = (typeof BREACH_STATES)[number];

export interface BreachQueueQuery {
  state: string[];
  channel?: string[] | undefined;
  metric?: string[] | undefined;
  teamId?: string | undefined;
  limit: number;
  /** Where the previous page ended: the severity, breach time and id of its last row. */
  after?: { severity: number; breachedAt: Date; id: string } | undefined;
}

/** The columns of a breach as the API shows it (breachView); the wall adds names to them. */
export const breachColumns = {
  id: breaches.id,
  ticketId: breaches.ticketId,
  ticketNumber: tickets.number,
  channel: breaches.channel,
  metric: breaches.metric,
  priority: tickets.priority,
  severity: breaches.severity,
  teamId: breaches.teamId,
  dueAt: breaches.dueAt,
  breachedAt: breaches.breachedAt,
  escalationLevel: breaches.escalationLevel,
  state: breaches.state,
  acknowledgedBy: breaches.acknowledgedBy,
  acknowledgedAt: breaches.acknowledgedAt,
  ackNote: breaches.ackNote,
  resolvedAt: breaches.resolvedAt,
};

/**
 * The breach queue's statement: most severe first, then oldest; `limit + 1` rows (the extra
 * one says there is a next page). Exported for the benchmark, which measures this very query.
 */
export function breachQueueRows(db: Database, q: BreachQueueQuery) {
  // Severity descends, age ascends: the mixed-direction keyset written out.
  const after = q.after
    ? sql`(${breaches.severity} < ${q.after.severity} or (${breaches.severity} = ${q.after.severity} and (${breaches.breachedAt}, ${breaches.id}) > (${q.after.breachedAt}, ${q.after.id}::uuid)))`
    : undefined;
  return (
    db
      .select(breachColumns)
      .from(breaches)
      .innerJoin(tickets, eq(tickets.id, breaches.ticketId))
      .where(
        and(
          inArray(breaches.state, q.state),
          q.channel ? inArray(breaches.channel, q.channel) : undefined,
          q.metric ? inArray(breaches.metric, q.metric) : undefined,
          q.teamId ? eq(breaches.teamId, q.teamId) : undefined,
          after,
        ),
      )
      // NULLS LAST like breaches_queue_idx (drizzle's .desc() index): otherwise the planner cannot walk
      // the index and sorts every open breach (severity is never null, so the order is the same).
      .orderBy(sql`${breaches.severity} desc nulls last`, asc(breaches.breachedAt), asc(breaches.id))
      .limit(q.limit + 1)
  );
}

/** Running clocks due within [now, until], soonest first. Exported for the benchmark too. */
export function atRiskRows(db: Database, q: { now: Date; until: Date; channel?: string[] | undefined; teamId?: string | undefined; limit: number }) {
  return db
    .select({
      clockId: slaClocks.id,
      ticketId: tickets.id,
      ticketNumber: tickets.number,
      channel: tickets.channel,
      priority: tickets.priority,
      assigneeId: tickets.assigneeId,
      teamId: tickets.teamId,
      metric: slaClocks.metric,
      dueAt: slaClocks.dueAt,
    })
    .from(slaClocks)
    .innerJoin(tickets, eq(tickets.id, slaClocks.ticketId))
    .where(
      and(
        eq(slaClocks.state, 'running'),
        isNull(slaClocks.breachedAt),
        gte(slaClocks.dueAt, q.now),
        lte(slaClocks.dueAt, q.until),
        q.channel ? inArray(tickets.channel, q.channel) : undefined,
        q.teamId ? eq(tickets.teamId, q.teamId) : undefined,
      ),
    )
    .orderBy(asc(slaClocks.dueAt))
    .limit(q.limit);
}

/** The operations side of breaches: the queue, acknowledging, the clocks at risk. */
export function createBreachOpsService(deps: { db: Database; clock: Clock }) {
  const { db, clock } = deps;
  const withState = <T extends { state: string }>(row: T) => ({ ...row, state: row.state as BreachState });

  return {
    async queue(query: Omit<BreachQueueQuery, 'after'> & { cursor?: string | undefined }) {
      const cursor = decodeCursor(query.cursor, cursorKeys.severityInstant);
      let after: BreachQueueQuery['after'];
      if (cursor) {
        const [severity, at] = cursor.v.split('|');
        after = { severity: Number(severity), breachedAt: new Date(at!), id: cursor.id };
      }
      const rows = await breachQueueRows(db, { ...query, after });
      return toPage(rows, query.limit, (r) => ({ v: `${r.severity}|${r.breachedAt.toISOString()}`, id: r.id }), withState);
    },

    /** Someone is on it. Acknowledging twice is a no-op; a resolved breach is a conflict. */
    async acknowledge(breachId: string, by: string, note: string | null) {
      const now = clock.now();
      await db.transaction(async (tx) => {
        const breach = await lockBreach(tx, breachId);
        if (!breach) throw notFound('Breach', breachId);
        if (breach.state === 'resolved') throw conflict('breach-resolved', 'The breach is already resolved');
        if (breach.state === 'acknowledged') return;
        await acknowledgeBreach(tx, breach.id, by, note, now);
        await publishStreamEvent(tx, 'acknowledged', { breachId: breach.id, ticketId: breach.ticketId, metric: breach.metric, acknowledgedBy: by }, now);
      });
      const [row] = await db.select(breachColumns).from(breaches).innerJoin(tickets, eq(tickets.id, breaches.ticketId)).where(eq(breaches.id, breachId));
      return withState(row!);
    },

    async atRisk(query: { withinSec: number; channel?: string[] | undefined; teamId?: string | undefined; limit: number }) {
      const now = clock.now();
      const rows = await atRiskRows(db, { ...query, now, until: new Date(now.getTime() + query.withinSec * 1000) });
      return rows.map((r) => ({ ...r, dueAt: r.dueAt!, remainingSec: Math.round((r.dueAt!.getTime() - now.getTime()) / 1000) }));
    },
  };
}

export type BreachOpsService = ReturnType<typeof createBreachOpsService>;

