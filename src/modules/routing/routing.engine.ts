import { and, asc, desc, eq, inArray, isNull, sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import { CHANNELS, type Channel } from '../../channels/channel.types.js';
import type { Database, Executor } from '../../db/client.js';
import { compareQueued } from '../../domain/routing/queue-order.js';
import type { RoutingOrder, RoutingSettings } from '../../domain/routing/routing.types.js';
import { freeSlots, planAssignments, selectAgent, type CandidateAgent, type Selection, type WaitingTicket } from '../../domain/routing/selection.js';
import { assign, lifecycleStateOf, type Priority } from '../../domain/ticket-lifecycle.js';
import type { Clock } from '../../shared/clock.js';
import type { Metrics } from '../../shared/metrics.js';
import { agents } from '../agents/agents.table.js';
import { publishStreamEvent, publishStreamEventsFrom, STREAM_CHANNEL } from '../sla/breaches/stream-events.repository.js';
import type { TicketChange, TicketHooks } from '../tickets/tickets.hooks.js';
import { appendEvents, appendEventsFrom, type NewEvent, type TicketRow } from '../tickets/tickets.repository.js';
import { tickets } from '../tickets/tickets.table.js';
import { patchTicket, patchTicketAssignments, type BatchAssignment, type TicketPatch } from '../tickets/tickets.writer.js';
import { capacitiesOf, loadsOf, lockAgent, routingOfTeam, SLOT_STATUSES, type AgentRow } from './routing.repository.js';

/** Waiting tickets locked and matched per transaction of a drain. */
const BATCH_SIZE = 500;
/** Waiting tickets a pull looks at per queue (in the queue's order) for one it may take. */
const PULL_PAGE = 200;
/** A drain's passes (batches) at most: a trigger does bounded work; the sweep comes back. */
const MAX_PASSES = 50;
/** Queues a sweep drains at once (each in its own transaction and connection). */
export const SWEEP_CONCURRENCY = 4;

const teamIs = (teamId: string | null) => (teamId === null ? isNull(tickets.teamId) : eq(tickets.teamId, teamId));
const waiting = (teamId: string | null) => and(teamIs(teamId), isNull(tickets.assigneeId), inArray(tickets.status, [...SLOT_STATUSES]));
/** The default queue (every agent serves it) or a team (its agents and those with it in teamIds). */
const serving = (teamId: string | null) => and(eq(agents.active, true), eq(agents.presence, 'online'), teamId === null ? undefined : sql`(${agents.teamId} = ${teamId} or ${teamId} = any(${agents.teamIds}))`);

const PRIORITY_RANK = sql`case ${tickets.priority} when 'urgent' then 3 when 'high' then 2 when 'normal' then 1 else 0 end`;

const toCandidate = (r: AgentRow, load: CandidateAgent['load'], capacity: CandidateAgent['capacity']): CandidateAgent => ({
  id: r.id,
  presence: 'online',
  teamIds: [...(r.teamId ? [r.teamId] : []), ...r.teamIds],
  languages: r.languages,
  load,
  capacity,
  lastAssignedAt: r.lastRoutedAt,
});

/**
 * The I/O edge of routing: reads a queue's waiting tickets and its online agents, asks the pure
 * selection (src/domain/routing) whom each ticket goes to, and assigns through the ticket writer.
 *
 * A drain works in batches, one transaction each: it locks up to BATCH_SIZE waiting tickets of
 * the queue in its order (FOR NO KEY UPDATE SKIP LOCKED: tickets another router or an agent
 * holds are left to them), then the queue's online agents (FOR NO KEY UPDATE, in id order:
 * routers sharing agents queue up there and cannot deadlock), reads the agents' loads and
 * capacities under those locks, matches the batch to them in memory (planAssignments) and
 * writes every assignment, its `assigned` event, the agents' stream events and the ticket
 * hooks before one commit. Reading the loads after the agent locks is the capacity re-check:
 * no router can fill an agent between the read and the write. Ticket before agent, then the
 * SLA hook's clocks: the engine's lock order with the agents in second place; no path locks
 * an agent and then a ticket.
 */
export function createRoutingEngine(deps: { db: Database; clock: Clock; logger: Logger; hooks: TicketHooks; metrics?: Metrics }) {
  const { db, clock, logger, hooks } = deps;

  /**
   * A queue's waiting tickets in its order, with what selection needs. `lock`: FOR NO KEY
   * UPDATE SKIP LOCKED (a drain's batch); `exclude`: tickets this drain already found waiting.
   */
  async function waitingTickets(tx: Executor, teamId: string | null, order: RoutingOrder, now: Date, options: { limit: number; lock?: boolean; exclude?: readonly string[] }) {
    // Spelled with explicit tables: drizzle leaves columns of a one-table select unqualified,
    // and an unqualified "id" inside these subqueries would be the subquery's own.
    const due = sql<Date | null>`(select min(c.due_at) from sla_clocks c where c.ticket_id = "tickets"."id" and c.state = 'running')`;
    const warned = sql<boolean>`exists (select 1 from sla_clocks c where c.ticket_id = "tickets"."id" and c.state = 'running' and (c.warned_at is not null or c.warn_due_at <= ${now}))`;
    // Waiting since it was opened, reopened, unassigned or moved to this queue: a reopened
    // Hebrew ticket of last month waits for a speaker like a new one.
    const since = sql<Date>`greatest("tickets"."created_at", (select max(e.created_at) from ticket_events e where e.ticket_id = "tickets"."id" and e.type in ('reopened', 'assigned', 'team_changed')))`;
    const orderBy =
      order === 'fifo'
        ? [asc(tickets.createdAt), asc(tickets.id)]
        : order === 'priority'
          ? [desc(PRIORITY_RANK), asc(tickets.createdAt), asc(tickets.id)]
          : [sql`${due} asc nulls last`, desc(PRIORITY_RANK), asc(tickets.createdAt), asc(tickets.id)];
    // uuids only: safe in an array literal, one parameter however many.
    const notSeen = options.exclude?.length ? sql`${tickets.id} <> all(${`{${options.exclude.join(',')}}`}::uuid[])` : undefined;
    const query = tx
      .select({ row: tickets, waitingSince: since, slaDueAt: due, warned })
      .from(tickets)
      .where(and(waiting(teamId), notSeen))
      .orderBy(...orderBy)
      .limit(options.limit);
    const rows = options.lock ? await query.for('no key update', { skipLocked: true }) : await query;
    const parsed = rows.map((r) => ({ ...r.row, priority: r.row.priority as Priority, row: r.row, waitingSince: new Date(r.waitingSince), slaDueAt: r.slaDueAt ? new Date(r.slaDueAt) : null, warned: r.warned }));
    // The SQL order is the pure order (queue-order.ts); sorting again keeps them one definition.
    return parsed.sort(compareQueued(order));
  }

  /** The agent of each customer's latest assigned ticket within `days`. */
  async function previousAgents(tx: Executor, customerIds: string[], days: number, now: Date) {
    if (customerIds.length === 0 || days <= 0) return new Map<string, { agentId: string; at: Date }>();
    const since = new Date(now.getTime() - days * 86_400_000);
    const rows = await tx
      .selectDistinctOn([tickets.customerId], { customerId: tickets.customerId, agentId: tickets.assigneeId, at: tickets.createdAt })
      .from(tickets)
      .where(and(inArray(tickets.customerId, customerIds), sql`${tickets.assigneeId} is not null`, sql`${tickets.createdAt} >= ${since}`))
      .orderBy(tickets.customerId, desc(tickets.createdAt));
    return new Map(rows.map((r) => [r.customerId, { agentId: r.agentId!, at: r.at }]));
  }

  type Waiting = Awaited<ReturnType<typeof waitingTickets>>[number];
  const toWaiting = (t: Waiting, previous: Map<string, { agentId: string; at: Date }>, now: Date): WaitingTicket => ({
    id: t.id,
    teamId: t.teamId,
    channel: t.channel as Channel,
    language: t.language,
    previousAgent: previous.get(t.customerId) ?? null,
    waitedSec: (now.getTime() - t.waitingSince.getTime()) / 1000,
    slaWarningReached: t.warned,
  });

  /**
   * One batch of a drain, in one transaction. Answers how many it assigned, the tickets it
   * found waiting (left in the queue: no agent, or a language wait) and whether the queue may
   * hold more (a full batch, and an agent with a free slot left).
   */
  async function assignBatch(teamId: string | null, settings: RoutingSettings, seen: readonly string[]) {
    const now = clock.now();
    const changes: TicketChange[] = [];
    const result = await db.transaction(async (tx) => {
      const queue = await waitingTickets(tx, teamId, settings.order, now, { limit: BATCH_SIZE, lock: true, exclude: seen });
      if (queue.length === 0) return { made: 0, waited: [] as string[], more: false };
      const staff = await tx.select().from(agents).where(serving(teamId)).orderBy(asc(agents.id)).for('no key update');
      if (staff.length === 0) return { made: 0, waited: [] as string[], more: false };
      const [loads, capacities] = [await loadsOf(tx, staff.map((a) => a.id)), await capacitiesOf(tx, staff)];
      const pool = staff.map((a) => toCandidate(a, loads.get(a.id) ?? {}, capacities.get(a.id)!));
      const previous = await previousAgents(tx, [...new Set(queue.map((t) => t.customerId))], settings.stickyDays, now);
      const plan = planAssignments(
        queue.map((t) => toWaiting(t, previous, now)),
        pool,
        settings,
        now,
      );
      const byId = new Map(queue.map((t) => [t.id, t]));
      const assignments: { t: Waiting; choice: Extract<Selection, { kind: 'assign' }>; at: Date; events: NewEvent[]; patch: BatchAssignment }[] = [];
      const waited: string[] = [];
      for (const { ticket, selection, at } of plan) {
        if (selection.kind === 'wait') {
          waited.push(ticket.id);
          continue;
        }
        const t = byId.get(ticket.id)!;
        const transition = assign(lifecycleStateOf(t.row), selection.agentId);
        const events: NewEvent[] = transition.events.map((e) => (e.type === 'assigned' ? { ...e, data: { ...e.data, by: 'routing', reason: selection.reason, languageMatched: selection.languageMatched } } : e));
        assignments.push({ t, choice: selection, at, events, patch: { id: t.id, assigneeId: selection.agentId, handoffCount: transition.patch.handoffCount ?? t.handoffCount, firstAssignedAt: now } });
      }
      if (assignments.length > 0) {
        const updated = new Map((await patchTicketAssignments(tx, assignments.map((a) => a.patch), now)).map((r) => [r.id, r]));
        await recordAssignments(tx, assignments.map((a) => ({ ticket: a.t.row, agentId: a.choice.agentId, at: a.at, events: a.events, stream: streamData(a.t.row, a.choice, 'routing') })), now);
        for (const a of assignments) changes.push({ ticket: updated.get(a.t.id)!, events: a.events, now });
        // One pass of the hooks over the whole batch (the events outbox writes it in one statement).
        await hooks.inTransactionBatch(tx, changes);
      }
      // Another batch only if this one was full and some agent still has a free slot somewhere.
      const taken = new Map<string, number>();
      for (const a of assignments) taken.set(`${a.choice.agentId}/${a.t.channel}`, (taken.get(`${a.choice.agentId}/${a.t.channel}`) ?? 0) + 1);
      const freeLeft = pool.some((agent) => CHANNELS.some((c) => freeSlots(agent, c) - (taken.get(`${agent.id}/${c}`) ?? 0) > 0));
      return { made: assignments.length, waited, more: queue.length === BATCH_SIZE && freeLeft, observed: assignments };
    });
    for (const a of result.observed ?? []) deps.metrics?.routingLatency.observe({ channel: a.t.channel, reason: a.choice.reason }, Math.max(0, (now.getTime() - a.t.createdAt.getTime()) / 1000));
    await hooks.afterCommit(changes, (error) => logger.error({ err: error }, 'ticket hook failed after a routing assignment'));
    return result;
  }

  const streamData = (row: TicketRow, choice: Extract<Selection, { kind: 'assign' }>, by: 'routing' | 'pull') => ({
    agentId: choice.agentId,
    ticketId: row.id,
    ticketNumber: row.number,
    channel: row.channel,
    by,
    reason: choice.reason,
    languageMatched: choice.languageMatched,
  });

  /**
   * The timeline events of a batch of assignments, the agents' stream events (GET
   * /v1/me/stream reads them; one NOTIFY at commit) and each agent's "routed last" time, in
   * one statement.
   */
  async function recordAssignments(tx: Executor, items: { ticket: TicketRow; agentId: string; at: Date; events: NewEvent[]; stream: Record<string, unknown> }[], now: Date) {
    const events = items.flatMap((i) => i.events.map((e) => ({ ticketId: i.ticket.id, type: e.type, data: e.data ?? {} })));
    const routed = new Map<string, Date>();
    for (const i of items) routed.set(i.agentId, i.at);
    await tx.execute(sql`
      with e as (
        ${appendEventsFrom(sql`select "ticketId", "type", 'system', null, "data", ${now}::timestamptz from jsonb_to_recordset(${JSON.stringify(events)}::jsonb) as v("ticketId" uuid, "type" text, "data" jsonb)`)}
      ), s as (
        ${publishStreamEventsFrom(sql`select 'agent_assigned', v, ${now}::timestamptz from jsonb_array_elements(${JSON.stringify(items.map((i) => i.stream))}::jsonb) as v`)}
      ), n as (
        -- One notification per batch: the hub reads every new row on each.
        select pg_notify(${STREAM_CHANNEL}, max(id)::text) from s having count(*) > 0
      ), r as (
        update agents set last_routed_at = v.at from jsonb_to_recordset(${JSON.stringify([...routed].map(([id, at]) => ({ id, at })))}::jsonb) as v(id uuid, at timestamptz) where agents.id = v.id
      )
      select (select count(*) from n) as notified`);
  }

  /**
   * Drains one queue while its tickets find agents: batches in the queue's order; a ticket
   * found waiting (no free agent, or a language wait) is not offered again in the same drain,
   * so the tickets behind it get their turn.
   */
  async function drain(teamId: string | null): Promise<number> {
    const settings = await routingOfTeam(db, teamId);
    if (!settings?.enabled) return 0;
    // Nobody online (the common case for a trigger) or nothing waiting: two small reads, no transaction.
    const [anyone] = await db.select({ id: agents.id }).from(agents).where(serving(teamId)).limit(1);
    if (!anyone) return 0;
    const seen: string[] = [];
    let total = 0;
    for (let pass = 0; pass < MAX_PASSES; pass++) {
      const { made, waited, more } = await assignBatch(teamId, settings, seen);
      total += made;
      seen.push(...waited);
      if (!more) break;
    }
    return total;
  }

  /**
   * One drain per queue at a time in this process: a trigger for a queue being drained asks
   * the running drain for one more round (nothing it should see is missed) and resolves when
   * that round is done. Other processes' drains of the same queue are kept apart by the locks.
   */
  const draining = new Map<string, { again: boolean; done: Promise<number> }>();
  function routeTeam(teamId: string | null): Promise<number> {
    const key = teamId ?? '';
    const running = draining.get(key);
    if (running) {
      running.again = true;
      return running.done.then(() => 0);
    }
    const state = { again: false, done: Promise.resolve(0) };
    draining.set(key, state);
    state.done = (async () => {
      try {
        let total = 0;
        do {
          state.again = false;
          total += await drain(teamId);
        } while (state.again);
        return total;
      } finally {
        draining.delete(key);
      }
    })();
    return state.done;
  }

  /** One assignment (a pull), re-checked under the locks. False: the ticket or the agent's slot was taken meanwhile. */
  async function assignOne(ticketId: string, teamId: string | null, channel: Channel, choice: Extract<Selection, { kind: 'assign' }>, by: 'routing' | 'pull' = 'routing'): Promise<TicketRow | null> {
    const now = clock.now();
    const changes: TicketChange[] = [];
    const assigned = await db.transaction(async (tx): Promise<TicketRow | null> => {
      const [row] = await tx.select().from(tickets).where(eq(tickets.id, ticketId)).for('no key update', { skipLocked: true });
      if (!row || row.assigneeId !== null || !(SLOT_STATUSES as readonly string[]).includes(row.status) || row.teamId !== teamId || row.channel !== channel) return null;
      const agent = await lockAgent(tx, choice.agentId);
      if (!agent || !agent.active || agent.presence !== 'online') return null;
      const [load, capacity] = [(await loadsOf(tx, [agent.id])).get(agent.id) ?? {}, (await capacitiesOf(tx, [agent])).get(agent.id)!];
      if ((load[channel] ?? 0) >= capacity[channel]) return null;
      const transition = assign(lifecycleStateOf(row), agent.id);
      const patch: TicketPatch = { ...transition.patch, ...(row.firstAssignedAt === null ? { firstAssignedAt: now } : {}) };
      const updated = await patchTicket(tx, row.id, patch, now);
      const events: NewEvent[] = transition.events.map((e) => (e.type === 'assigned' ? { ...e, data: { ...e.data, by, reason: choice.reason, languageMatched: choice.languageMatched } } : e));
      await appendEvents(tx, row.id, { kind: 'system', id: null }, events, now);
      await tx.update(agents).set({ lastRoutedAt: now }).where(eq(agents.id, agent.id));
      const change = { ticket: updated, events, now };
      await hooks.inTransaction(tx, change);
      changes.push(change);
      // The agent's own stream (GET /v1/me/stream) reads this; published at commit like the SLA stream's events.
      await publishStreamEvent(tx, 'agent_assigned', streamData(row, choice, by), now);
      deps.metrics?.routingLatency.observe({ channel, reason: choice.reason }, Math.max(0, (now.getTime() - row.createdAt.getTime()) / 1000));
      return updated;
    });
    await hooks.afterCommit(changes, (error) => logger.error({ err: error }, 'ticket hook failed after a routing assignment'));
    return assigned;
  }

  /**
   * Pull: the best waiting ticket the agent may take now (its queues, a free slot on the
   * channel, its language unless the fallback applies), in each queue's order, its own team
   * first. Works for queues with routing off (where nothing is pushed). Null: nothing to take.
   */
  async function pullNext(agentId: string): Promise<TicketRow | null> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const [row] = await db.select().from(agents).where(eq(agents.id, agentId));
      if (!row || row.presence !== 'online') return null;
      const [loads, capacities] = await Promise.all([loadsOf(db, [row.id]), capacitiesOf(db, [row])]);
      const me: CandidateAgent = { id: row.id, presence: 'online', teamIds: [...(row.teamId ? [row.teamId] : []), ...row.teamIds], languages: row.languages, load: loads.get(row.id) ?? {}, capacity: capacities.get(row.id)!, lastAssignedAt: row.lastRoutedAt };
      let lost = false;
      for (const teamId of new Set([row.teamId, ...row.teamIds, null])) {
        const settings = await routingOfTeam(db, teamId);
        if (!settings) continue;
        const now = clock.now();
        for (const t of await waitingTickets(db, teamId, settings.order, now, { limit: PULL_PAGE })) {
          const ticket: WaitingTicket = { id: t.id, teamId: t.teamId, channel: t.channel as Channel, language: t.language, previousAgent: null, waitedSec: (now.getTime() - t.waitingSince.getTime()) / 1000, slaWarningReached: t.warned };
          const choice = selectAgent(ticket, [me], settings, now);
          if (choice.kind === 'wait') continue;
          const taken = await assignOne(t.id, teamId, ticket.channel, choice, 'pull');
          if (taken) return taken;
          lost = true;
          break;
        }
        if (lost) break;
      }
      if (!lost) return null;
    }
    return null;
  }

  /**
   * An unavailable agent's tickets still waiting for their first public reply go back to their
   * queue (tickets already in conversation stay). One transaction per ticket, ticket lock only;
   * the routing hook routes each again after commit, and the next assignment is a handoff.
   */
  async function releaseUnanswered(agentId: string): Promise<number> {
    const held = await db
      .select({ id: tickets.id })
      .from(tickets)
      .where(and(eq(tickets.assigneeId, agentId), inArray(tickets.status, [...SLOT_STATUSES]), isNull(tickets.firstResponseAt)));
    let released = 0;
    for (const { id } of held) {
      const now = clock.now();
      const changes: TicketChange[] = [];
      await db.transaction(async (tx) => {
        const [row] = await tx.select().from(tickets).where(eq(tickets.id, id)).for('no key update');
        if (!row || row.assigneeId !== agentId || row.firstResponseAt !== null || !(SLOT_STATUSES as readonly string[]).includes(row.status)) return;
        const transition = assign(lifecycleStateOf(row), null);
        const updated = await patchTicket(tx, row.id, transition.patch, now);
        const events: NewEvent[] = transition.events.map((e) => ({ ...e, data: { ...e.data, by: 'routing', reason: 'agent_unavailable' } }));
        await appendEvents(tx, row.id, { kind: 'system', id: null }, events, now);
        await publishStreamEvent(tx, 'agent_unassigned', { agentId, ticketId: row.id, ticketNumber: row.number, channel: row.channel, by: 'routing', reason: 'agent_unavailable' }, now);
        const change = { ticket: updated, events, now };
        await hooks.inTransaction(tx, change);
        changes.push(change);
        released++;
      });
      await hooks.afterCommit(changes, (error) => logger.error({ err: error }, 'ticket hook failed after a routing release'));
    }
    return released;
  }

  return { routeTeam, pullNext, releaseUnanswered };
}

export type RoutingEngine = ReturnType<typeof createRoutingEngine>;
