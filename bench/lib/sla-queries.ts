import { and, asc, eq, gte, inArray, isNull, lte, sql } from 'drizzle-orm';
import type { Database } from '../../src/db/client.js';
import { breaches, slaClocks } from '../../src/modules/sla/sla.table.js';
import { tickets } from '../../src/modules/tickets/tickets.table.js';

/**
 * The SQL of GET /v1/sla/breaches and GET /v1/sla/at-risk, written with the product's own
 * tables exactly as src/modules/sla/sla-ops.routes.ts writes it (the routes build their
 * queries inline, so there is no repository function to capture). Run through lib/sql.ts's
 * captureQueries, it gives the statement the baseline replays and EXPLAIN checks; the
 * benchmark compares its rows with the route's answer, so a route that changes its query
 * shows up as a mismatch instead of a silently wrong baseline.
 */
export async function breachQueuePage(db: Database, query: { channel?: string[]; limit?: number }) {
  const limit = query.limit ?? 50;
  return db
    .select({
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
    })
    .from(breaches)
    .innerJoin(tickets, eq(tickets.id, breaches.ticketId))
    .where(and(inArray(breaches.state, ['open']), query.channel ? inArray(breaches.channel, query.channel) : undefined))
    .orderBy(sql`${breaches.severity} desc nulls last`, asc(breaches.breachedAt), asc(breaches.id))
    .limit(limit + 1);
}

const UNIT_SEC: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

export async function atRiskPage(db: Database, query: { within: string; now: Date; limit?: number }) {
  const [, amount, unit] = /^(\d{1,6})(s|m|h|d)$/.exec(query.within)!;
  const until = new Date(query.now.getTime() + Number(amount) * UNIT_SEC[unit!]! * 1000);
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
    .where(and(eq(slaClocks.state, 'running'), isNull(slaClocks.breachedAt), gte(slaClocks.dueAt, query.now), lte(slaClocks.dueAt, until)))
    .orderBy(asc(slaClocks.dueAt))
    .limit(query.limit ?? 50);
}
