import { and, asc, desc, eq, inArray, isNull, sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Channel } from '../../channels/channel.types.js';
import type { Database } from '../../db/client.js';
import { compareQueued } from '../../domain/routing/queue-order.js';
import type { RoutingOrder } from '../../domain/routing/routing.types.js';
import { selectAgent, type CandidateAgent, type Selection, type WaitingTicket } from '../../domain/routing/selection.js';
import { assign, lifecycleStateOf, type Priority } from '../../domain/ticket-lifecycle.js';
import type { Clock } from '../../shared/clock.js';
import type { Metrics } from '../../shared/metrics.js';
import { agents } from '../agents/agents.table.js';
import { publishStreamEvent } from '../sla/breaches/stream-events.repository.js';
import type { TicketChange, TicketHooks } from '../tickets/tickets.hooks.js';
import { appendEvents, type NewEvent, type TicketRow } from '../tickets/tickets.repository.js';
import { tickets } from '../tickets/tickets.table.js';
import { patchTicket, type TicketPatch } from '../tickets/tickets.writer.js';
import { capacitiesOf, loadsOf, lockAgent, routingOfTeam, SLOT_STATUSES } from './routing.repository.js';

/** Waiting tickets read per pass of a drain; a drain runs passes while they assign. */
const PASS_SIZE = 200;
const MAX_PASSES = 50;

const teamIs = (teamId: string | null) => (teamId === null ? isNull(tickets.teamId) : eq(tickets.teamId, teamId));
const waiting = (teamId: string | null) => and(teamIs(teamId), isNull(tickets.assigneeId), inArray(tickets.status, [...SLOT_STATUSES]));

const PRIORITY_RANK = sql`case ${tickets.priority} when 'urgent' then 3 when 'high' then 2 when 'normal' then 1 else 0 end`;

/**
 * The I/O edge of routing: reads a queue's waiting tickets and its online agents, asks the pure
 * selection (src/domain/routing) whom each ticket goes to, and assigns through the ticket writer.
 *
 * Correctness under several routers: each assignment is one transaction that locks the ticket
 * (FOR NO KEY UPDATE SKIP LOCKED: a ticket another router or an agent holds is left for the
 * next pass), then the agent's row (FOR NO KEY UPDATE: routers choosing the same agent queue up
 * there), re-reads that the ticket still waits and the agent is online with a free slot on the
 * channel, and only then writes. Ticket before agent, then the SLA hook's clocks: the engine's
 * lock order with the agent in second place; no path locks an agent and then a ticket.
 */
export function createRoutingEngine(deps: { db: Database; clock: Clock; logger: Logger; hooks: TicketHooks; metrics?: Metrics }) {
  const { db, clock, logger, hooks } = deps;

  async function waitingTickets(teamId: string | null, order: RoutingOrder, now: Date) {
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
    const rows = await db
      .select({ id: tickets.id, teamId: tickets.teamId, channel: tickets.channel, language: tickets.language, priority: tickets.priority, customerId: tickets.customerId, createdAt: tickets.createdAt, waitingSince: since, slaDueAt: due, warned })
      .from(tickets)
      .where(waiting(teamId))
      .orderBy(...orderBy)
      .limit(PASS_SIZE);
    const parsed = rows.map((r) => ({ ...r, priority: r.priority as Priority, waitingSince: new Date(r.waitingSince), slaDueAt: r.slaDueAt ? new Date(r.slaDueAt) : null }));
    // The SQL order is the pure order (queue-order.ts); sorting again keeps them one definition.
    return parsed.sort(compareQueued(order));
  }

  /** Online agents serving the queue (every agent serves the default queue), with load and capacity. */
  async function candidates(teamId: string | null): Promise<CandidateAgent[]> {
    const serves = teamId === null ? undefined : sql`(${agents.teamId} = ${teamId} or ${teamId} = any(${agents.teamIds}))`;
    const rows = await db.select().from(agents).where(and(eq(agents.active, true), eq(agents.presence, 'online'), serves));
    const [loads, capacities] = await Promise.all([loadsOf(db, rows.map((r) => r.id)), capacitiesOf(db, rows)]);
    return rows.map((r) => ({
      id: r.id,
      presence: 'online',
      teamIds: [...(r.teamId ? [r.teamId] : []), ...r.teamIds],
      languages: r.languages,
      load: loads.get(r.id) ?? {},
      capacity: capacities.get(r.id)!,
      lastAssignedAt: r.lastRoutedAt,
    }));
  }

  /** The agent of each customer's latest assigned ticket within `days`. */
  async function previousAgents(customerIds: string[], days: number, now: Date) {
    if (customerIds.length === 0 || days <= 0) return new Map<string, { agentId: string; at: Date }>();
    const since = new Date(now.getTime() - days * 86_400_000);
    const rows = await db
      .selectDistinctOn([tickets.customerId], { customerId: tickets.customerId, agentId: tickets.assigneeId, at: tickets.createdAt })
      .from(tickets)
      .where(and(inArray(tickets.customerId, customerIds), sql`${tickets.assigneeId} is not null`, sql`${tickets.createdAt} >= ${since}`))
      .orderBy(tickets.customerId, desc(tickets.createdAt));
    return new Map(rows.map((r) => [r.customerId, { agentId: r.agentId!, at: r.at }]));
  }

  /** One assignment, re-checked under the locks. False: the ticket or the agent's slot was taken meanwhile. */
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
      await publishStreamEvent(tx, 'agent_assigned', { agentId: agent.id, ticketId: row.id, ticketNumber: row.number, channel, by, reason: choice.reason, languageMatched: choice.languageMatched }, now);
      deps.metrics?.routingLatency.observe({ channel, reason: choice.reason }, Math.max(0, (now.getTime() - row.createdAt.getTime()) / 1000));
      return updated;
    });
    await hooks.afterCommit(changes, (error) => logger.error({ err: error }, 'ticket hook failed after a routing assignment'));
    return assigned;
  }

  /**
   * Drains one queue while its tickets find agents: passes of the waiting tickets in the
   * team's order, each offered to the selection with the loads as they stand after the
   * assignments before it. Answers the number of assignments.
   */
  async function routeTeam(teamId: string | null): Promise<number> {
    const settings = await routingOfTeam(db, teamId);
    if (!settings?.enabled) return 0;
    let total = 0;
    let fruitless = 0;
    for (let pass = 0; pass < MAX_PASSES; pass++) {
      const now = clock.now();
      // Agents first: with nobody online (the common case for a trigger) the queue is not read.
      const pool = await candidates(teamId);
      if (pool.length === 0) break;
      const queue = await waitingTickets(teamId, settings.order, now);
      if (queue.length === 0) break;
      const previous = await previousAgents([...new Set(queue.map((t) => t.customerId))], settings.stickyDays, now);
      let made = 0;
      let lost = false;
      for (const t of queue) {
        const ticket: WaitingTicket = {
          id: t.id,
          teamId: t.teamId,
          channel: t.channel as Channel,
          language: t.language,
          previousAgent: previous.get(t.customerId) ?? null,
          waitedSec: (now.getTime() - t.waitingSince.getTime()) / 1000,
          slaWarningReached: t.warned,
        };
        const choice = selectAgent(ticket, pool, settings, now);
        if (choice.kind === 'wait') continue;
        if (await assignOne(t.id, teamId, ticket.channel, choice)) {
          const agent = pool.find((a) => a.id === choice.agentId)!;
          agent.load[ticket.channel] = (agent.load[ticket.channel] ?? 0) + 1;
          agent.lastAssignedAt = now;
          made++;
        } else {
          // Another router or a person got there first (or holds the ticket): the next pass
          // reads the queue and the loads again.
          lost = true;
        }
      }
      total += made;
      if (made === 0 && (!lost || ++fruitless > 2)) break;
    }
    return total;
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
        for (const t of await waitingTickets(teamId, settings.order, now)) {
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
