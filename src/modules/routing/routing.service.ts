import { and, eq, inArray, isNull, lt, or, sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Database } from '../../db/client.js';
import { effectiveCapacity, PRESENCES, type CapacityOverride, type Presence, type PresenceReason, type RoutingSettings } from '../../domain/routing/routing.types.js';
import { unlessRedisIsAway, type Queues } from '../../queues/queues.js';
import type { Clock } from '../../shared/clock.js';
import type { Metrics } from '../../shared/metrics.js';
import { AppError, conflict, notFound } from '../../shared/errors.js';
import { toTicketView } from '../tickets/tickets.repository.js';
import { agents } from '../agents/agents.table.js';
import type { Principal } from '../auth/api-keys.service.js';
import { tickets } from '../tickets/tickets.table.js';
import { SWEEP_CONCURRENCY, type RoutingEngine } from './routing.engine.js';
import { agentViews, defaultQueue, DEFAULT_QUEUE, requireCalendar, SLOT_STATUSES } from './routing.repository.js';
import type { CalendarDefinition } from '../../domain/calendar.js';
import { shiftEnded } from '../../domain/routing/shift.js';
import { calendars } from '../sla/sla.table.js';
import { teams } from '../teams/teams.table.js';
import { agentPresenceEvents, routingQueues } from './routing.table.js';

/** Activity is written at most this often per agent: a busy desk's requests are reads, not writes. */
const ACTIVITY_RESOLUTION_MS = 30_000;

export function createRoutingService(deps: {
  db: Database;
  clock: Clock;
  logger: Logger;
  queues: Queues;
  engine: RoutingEngine;
  idleAwaySec: number;
  reassignAfterSec: number;
  metrics?: Metrics;
}) {
  const { db, clock, logger, queues, engine } = deps;
  const lastTouched = new Map<string, number>();

  // Triggers enqueue; the routing worker drains. While Redis is away they are dropped and
  // the sweep (every ROUTING_SWEEP_INTERVAL_MS) routes the same queues from Postgres.
  //
  // One drain reads the whole queue, so triggers of one queue (or agent) collapse: at most one
  // job runs and one waits (BullMQ deduplication with keepLastIfActive), and a trigger that
  // arrives while a drain runs still gets a drain after it, which sees its ticket. A job per
  // trigger queued a full drain per new ticket and per freed slot: in the full routing bench's
  // stream (2,000 new tickets and 2,000 freed slots) the jobs piled up and a new ticket waited
  // 21 s (p50) for its agent.
  const collapse = (id: string) => ({ deduplication: { id, keepLastIfActive: true } });
  const triggers = {
    async teamChanged(teamId: string | null): Promise<void> {
      await unlessRedisIsAway(() => queues.routing.add('route-team', { teamId }, collapse(`team:${teamId ?? 'default'}`)));
    },
    async agentChanged(agentId: string): Promise<void> {
      await unlessRedisIsAway(() => queues.routing.add('route-agent', { agentId }, collapse(`agent:${agentId}`)));
    },
  };

  async function agentOf(principal: Principal) {
    if (!principal.agentId) throw new AppError(404, 'no-agent', 'Not found', 'This API key belongs to no agent; create the key with an agentId.');
    return principal.agentId;
  }

  async function view(agentId: string) {
    const [row] = await db.select().from(agents).where(eq(agents.id, agentId));
    if (!row) throw notFound('Agent', agentId);
    return (await agentViews(db, [row]))[0]!;
  }

  async function setPresence(agentId: string, status: Presence, reason: PresenceReason) {
    const now = clock.now();
    const changed = await db.transaction(async (tx) => {
      const [row] = await tx.select({ presence: agents.presence }).from(agents).where(eq(agents.id, agentId)).for('no key update');
      if (!row) throw notFound('Agent', agentId);
      // Setting one's presence is activity too: an agent who just came online is not idle.
      await tx.update(agents).set({ presence: status, presenceChangedAt: row.presence === status ? undefined : now, lastActivityAt: now }).where(eq(agents.id, agentId));
      if (row.presence === status) return false;
      await tx.insert(agentPresenceEvents).values({ agentId, status, reason, at: now });
      return true;
    });
    lastTouched.set(agentId, now.getTime());
    if (changed && status === 'online') await triggers.agentChanged(agentId);
    // Offline gives back unanswered tickets at once; away only after REASSIGN_AFTER_SEC (the sweep).
    if (changed && status === 'offline') await engine.releaseUnanswered(agentId);
    return view(agentId);
  }

  /**
   * Agents (online or away) whose queue has a shift calendar that closed since they set their
   * presence go offline with reason `shift` (domain/routing/shift.ts): their team's calendar, or
   * the default queue's for an agent without a team. Going offline gives back their unanswered
   * tickets, as when they leave by hand.
   */
  async function endShifts(now: Date): Promise<number> {
    const queueCalendar = (await defaultQueue(db)).routing.shiftCalendarId;
    const rows = await db
      .select({ id: agents.id, teamId: agents.teamId, since: agents.presenceChangedAt, calendarId: sql<string | null>`${teams.routing} ->> 'shiftCalendarId'` })
      .from(agents)
      .leftJoin(teams, eq(teams.id, agents.teamId))
      .where(and(eq(agents.active, true), inArray(agents.presence, ['online', 'away']), or(sql`${teams.routing} ->> 'shiftCalendarId' is not null`, queueCalendar ? isNull(agents.teamId) : sql`false`)));
    if (rows.length === 0) return 0;
    const calendarOf = (r: (typeof rows)[number]) => (r.teamId === null ? queueCalendar : r.calendarId);
    const ids = [...new Set(rows.map(calendarOf).filter((id): id is string => id !== null))];
    // A calendar deleted since it was named ends no shift.
    const defined = new Map((await db.select({ id: calendars.id, definition: calendars.definition }).from(calendars).where(inArray(calendars.id, ids))).map((c) => [c.id, c.definition as CalendarDefinition]));
    let ended = 0;
    for (const row of rows) {
      const calendar = defined.get(calendarOf(row) ?? '');
      if (!calendar || !shiftEnded(calendar, row.since, now)) continue;
      await setPresence(row.id, 'offline', 'shift');
      ended++;
    }
    return ended;
  }

  async function refreshGauges(metrics: Metrics) {
    const overview = await service.queues();
    metrics.routingWaiting.reset();
    metrics.routingLongestWait.reset();
    for (const q of overview.queues) {
      const labels = { team: q.teamId ?? DEFAULT_QUEUE, channel: q.channel, language: q.language ?? 'none' };
      metrics.routingWaiting.set(labels, q.waiting);
      metrics.routingLongestWait.set(labels, q.longestWaitSec);
    }
    for (const presence of PRESENCES) metrics.routingAgents.set({ presence }, overview.agents.filter((a) => a.presence === presence).length);
  }

  if (deps.metrics) {
    const metrics = deps.metrics;
    // The three gauges' collects in a scrape (and scrapes at once) share one read.
    let reading: Promise<void> | null = null;
    metrics.routingGauges.refresh = () =>
      (reading ??= refreshGauges(metrics)
        // A scrape during a database outage answers the last figures rather than failing.
        .catch((error: unknown) => logger.warn({ err: error }, 'could not read the routing gauges'))
        .finally(() => (reading = null)));
  }

  const service = {
    triggers,
    setPresence,
    async me(principal: Principal) {
      return view(await agentOf(principal));
    },
    async setMyPresence(principal: Principal, status: Presence) {
      return setPresence(await agentOf(principal), status, 'manual');
    },

    /** Pull: the calling agent takes the best ticket it may take now; null when there is none. */
    async next(principal: Principal) {
      if (!principal.agentId) throw new AppError(403, 'no-agent', 'Forbidden', 'Only a key tied to an agent pulls tickets; create the key with an agentId.');
      const [row] = await db.select({ presence: agents.presence }).from(agents).where(eq(agents.id, principal.agentId));
      if (row?.presence !== 'online') throw conflict('agent-not-online', 'Set your presence online (PUT /v1/me/presence) before pulling tickets.');
      const ticket = await engine.pullNext(principal.agentId);
      return ticket ? toTicketView(ticket) : null;
    },

    /** A request made with an agent's key: written at most every ~30 s per agent and process. */
    touch(agentId: string): void {
      const now = clock.now().getTime();
      const last = lastTouched.get(agentId);
      if (last !== undefined && now - last < ACTIVITY_RESOLUTION_MS) return;
      if (lastTouched.size > 10_000) lastTouched.clear();
      lastTouched.set(agentId, now);
      void db
        .update(agents)
        .set({ lastActivityAt: new Date(now) })
        .where(eq(agents.id, agentId))
        .catch((error: unknown) => logger.warn({ err: error }, 'could not record agent activity'));
    },

    async settings() {
      const queue = await defaultQueue(db);
      return { routing: queue.routing, capacity: effectiveCapacity(queue.capacity) };
    },
    async updateSettings(input: { routing?: Partial<RoutingSettings> | undefined; capacity?: CapacityOverride | null | undefined }) {
      if (input.routing?.shiftCalendarId) await requireCalendar(db, input.routing.shiftCalendarId, 'body.routing.shiftCalendarId');
      const now = clock.now();
      const routing = input.routing ? sql`coalesce(${routingQueues.routing}, '{}'::jsonb) || ${JSON.stringify(input.routing)}::jsonb` : undefined;
      await db
        .insert(routingQueues)
        .values({ key: DEFAULT_QUEUE, routing: input.routing ?? null, capacity: input.capacity ?? null, updatedAt: now })
        .onConflictDoUpdate({ target: routingQueues.key, set: { ...(routing ? { routing } : {}), ...(input.capacity !== undefined ? { capacity: input.capacity } : {}), updatedAt: now } });
      await triggers.teamChanged(null);
      return service.settings();
    },

    /** Operations: waiting tickets per team, channel and language; agents with presence and load. */
    async queues() {
      const now = clock.now();
      const rows = await db
        .select({
          teamId: tickets.teamId,
          channel: tickets.channel,
          language: tickets.language,
          waiting: sql<number>`count(*)::int`,
          oldest: sql<Date>`min(${tickets.createdAt})`,
          soonestDue: sql<Date | null>`min((select min(c.due_at) from sla_clocks c where c.ticket_id = "tickets"."id" and c.state = 'running'))`,
        })
        .from(tickets)
        .where(and(isNull(tickets.assigneeId), sql`${tickets.status} in ('new', 'open')`))
        .groupBy(tickets.teamId, tickets.channel, tickets.language)
        .orderBy(tickets.teamId, tickets.channel, tickets.language);
      const staff = await db.select().from(agents).where(eq(agents.active, true)).orderBy(agents.id);
      const views = await agentViews(db, staff);
      return {
        queues: rows.map((r) => ({
          teamId: r.teamId,
          channel: r.channel,
          language: r.language,
          waiting: r.waiting,
          longestWaitSec: Math.max(0, Math.round((now.getTime() - new Date(r.oldest).getTime()) / 1000)),
          soonestDueAt: r.soonestDue ? new Date(r.soonestDue) : null,
        })),
        agents: views.map((a) => ({ id: a.id, name: a.name, teamId: a.teamId, teamIds: a.teamIds, presence: a.presence, load: a.load, capacity: a.capacity })),
      };
    },

    /** Route one queue now (a worker job). */
    routeTeam: (teamId: string | null) => engine.routeTeam(teamId),

    /** An agent came online, got a free slot or new skills: every queue it serves. */
    async routeAgent(agentId: string): Promise<number> {
      const [row] = await db.select({ teamId: agents.teamId, teamIds: agents.teamIds }).from(agents).where(eq(agents.id, agentId));
      if (!row) return 0;
      const made = await Promise.all([...new Set([row.teamId, ...row.teamIds, null])].map((teamId) => engine.routeTeam(teamId)));
      return made.reduce((sum, n) => sum + n, 0);
    },

    /**
     * The net: online agents idle past AGENT_IDLE_AWAY_SEC become away; then every queue with a
     * waiting ticket is routed (lost triggers, and the language fallback's deadline).
     */
    async sweep() {
      // One sweep at a time per process: a sweep slower than its interval (a large backlog on a
      // busy machine) is not joined by the next one doing the same work again.
      if (sweeping) return { skipped: true, shiftsEnded: 0, idle: 0, released: 0, assigned: 0 };
      sweeping = true;
      try {
        return await sweepOnce();
      } finally {
        sweeping = false;
      }
    },
  };

  let sweeping = false;
  async function sweepOnce() {
    const now = clock.now();
    // Shifts first: an agent whose shift ended is offline (reason shift), not idle-away.
    const shiftsEnded = await endShifts(now);
    const idleSince = new Date(now.getTime() - deps.idleAwaySec * 1000);
    const idle = await db.transaction(async (tx) => {
      const rows = await tx
        .update(agents)
        .set({ presence: 'away', presenceChangedAt: now })
        .where(and(eq(agents.presence, 'online'), lt(sql`coalesce(${agents.lastActivityAt}, ${agents.presenceChangedAt}, ${agents.updatedAt})`, idleSince)))
        .returning({ id: agents.id });
      if (rows.length) await tx.insert(agentPresenceEvents).values(rows.map((r) => ({ agentId: r.id, status: 'away', reason: 'idle', at: now })));
      return rows.length;
    });
    const queuesWithWork = await db
      .selectDistinct({ teamId: tickets.teamId })
      .from(tickets)
      .where(and(sql`${tickets.assigneeId} is null`, sql`${tickets.status} in (${sql.join(SLOT_STATUSES.map((s) => sql`${s}`), sql`, `)})`));
    // Agents away past REASSIGN_AFTER_SEC give back unanswered tickets. Not offline ones: every
    // agent starts offline, and a desk that never uses presence keeps its manual assignments
    // (going offline releases at once, in setPresence).
    const awaySince = new Date(now.getTime() - deps.reassignAfterSec * 1000);
    const unavailable = await db
      .selectDistinct({ id: tickets.assigneeId })
      .from(tickets)
      .innerJoin(agents, eq(agents.id, tickets.assigneeId))
      .where(
        and(
          sql`${tickets.status} in ('new', 'open')`,
          isNull(tickets.firstResponseAt),
          eq(agents.presence, 'away'),
          lt(agents.presenceChangedAt, awaySince),
        ),
      );
    let released = 0;
    for (const { id } of unavailable) released += await engine.releaseUnanswered(id!);
    // Several queues at once (each drain is its own transactions; the row locks keep them apart).
    let assigned = 0;
    const pending = queuesWithWork.map((q) => q.teamId);
    await Promise.all(
      Array.from({ length: Math.min(SWEEP_CONCURRENCY, pending.length) }, async () => {
        for (let teamId = pending.shift(); teamId !== undefined; teamId = pending.shift()) {
          const made = await engine.routeTeam(teamId);
          assigned += made;
        }
      }),
    );
    return { skipped: false, shiftsEnded, idle, released, assigned };
  }
  return service;
}

export type RoutingService = ReturnType<typeof createRoutingService>;
