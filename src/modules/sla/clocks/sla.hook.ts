import type { Executor } from '../../../db/client.js';
import { applySlaEvent } from '../../../domain/sla/sla-clocks.js';
import { matchPolicy, slaTicketOf } from '../../../domain/sla/sla-policy.js';
import type { SlaClock, SlaEvent, SlaPolicy } from '../../../domain/sla/sla.types.js';
import type { TicketStatus } from '../../../domain/ticket-lifecycle.js';
import type { TicketChange, TicketHook } from '../../tickets/tickets.hooks.js';
import type { NewEvent } from '../../tickets/tickets.repository.js';
import { tickets } from '../../tickets/tickets.table.js';
import { setTicketBookkeeping } from '../../tickets/tickets.writer.js';
import { appendEvents } from '../../tickets/tickets.repository.js';
import type { Metrics } from '../../../shared/metrics.js';
import { lockClocksOfTicket, saveClocks, saveNewTicketClocks, toDomainClock, type ClockRow } from './clocks.repository.js';
import { publishStreamEvent } from '../breaches/stream-events.repository.js';
import type { PolicyCache } from '../policies/policy.cache.js';
import { unlessRedisIsAway } from '../../../queues/queues.js';
import type { ClockTimer, TimerScheduler } from './sla.timers.js';
import { recordBreach, resolveBreaches, severityOf } from '../breaches/breaches.repository.js';

/** Which timeline events move which clocks. Everything else leaves the clocks alone. */
export function slaEventsOf(events: NewEvent[], at: Date): SlaEvent[] {
  const out: SlaEvent[] = [];
  for (const event of events) {
    switch (event.type) {
      case 'created':
        out.push({ type: 'ticket_created', at });
        break;
      case 'customer_message':
        out.push({ type: 'customer_message', at });
        break;
      case 'agent_reply':
      case 'call_answered':
        out.push({ type: 'agent_response', at });
        break;
      case 'status_changed':
        out.push({ type: 'status_changed', from: event.data?.from as TicketStatus, to: event.data?.to as TicketStatus, at });
        break;
      case 'priority_changed':
      case 'team_changed':
      case 'merged_from':
      case 'sla_recomputed':
        out.push({ type: 'policy_changed', at });
        break;
    }
  }
  return out;
}

/**
 * The engine over a change's SLA events (slaEventsOf, not empty), from the ticket's clocks
 * before it: the clocks after it. Pure; the one-change and the batch paths both decide here.
 */
function clocksAfter(change: TicketChange, events: SlaEvent[], policy: SlaPolicy | null, before: SlaClock[]): SlaClock[] {
  const { ticket, now } = change;
  const slaTicket = slaTicketOf(ticket);
  if ((policy?.id ?? null) !== ticket.slaPolicyId && !events.some((e) => e.type === 'ticket_created')) {
    events.push({ type: 'policy_changed', at: now });
  }
  if (before.length === 0 && !events.some((e) => e.type === 'ticket_created') && policy) {
    // A ticket that predates every policy gets clocks when it next changes.
    events.unshift({ type: 'ticket_created', at: now });
  }
  let clocks: SlaClock[] = before;
  for (const event of events) clocks = applySlaEvent(clocks, event, policy, slaTicket);
  return clocks;
}

/** The timers to schedule after commit: the running clocks among those saved. */
const timersOf = (saved: readonly ClockRow[]): ClockTimer[] =>
  saved.filter((c) => c.state === 'running').map((c) => ({ clockId: c.id, generation: c.generation, warnDueAt: c.warnDueAt, dueAt: c.dueAt, warnedAt: c.warnedAt, breachedAt: c.breachedAt }));

/**
 * Keeps SLA clocks in step with the ticket, inside the ticket's transaction: a reply and the
 * clock it stops commit together. After commit it schedules the timers of changed clocks;
 * if Redis is away then, the reconciler finds the clocks in Postgres.
 */
export function createSlaHook(deps: { policies: PolicyCache; timers: TimerScheduler; metrics?: Metrics }): TicketHook {
  const pending = new WeakMap<TicketChange, ClockTimer[]>();

  async function inTransaction(tx: Executor, change: TicketChange) {
    const events = slaEventsOf(change.events, change.now);
    if (events.length === 0) return;
    const { ticket, now } = change;
    // Through the transaction: see PolicyCache on why a caller holding a connection must not wait for the pool.
    const { policies } = await deps.policies.get(tx);
    const policy = matchPolicy(policies, slaTicketOf(ticket));
    // A ticket created in this very change has no clocks yet: no need to read (and lock) them.
    const isNew = change.events.some((e) => e.type === 'created');
    const rows = isNew ? [] : await lockClocksOfTicket(tx, ticket.id);
    const before = rows.map(toDomainClock);
    const policyId = policy?.id ?? null;
    const clocks = clocksAfter(change, events, policy, before);
    const changed = clocks.filter((c) => !before.includes(c));
    const policyMoved = policyId !== ticket.slaPolicyId;
    const setPolicy = () => setTicketBookkeeping(tx, ticket.id, { slaPolicyId: policyId });
    // The ticket's policy is set in the statement that saves its clocks when there are any.
    const saved = await saveClocks(tx, ticket.id, policyId, changed, now, policyMoved ? tx.$with('set_policy').as(setPolicy().returning({ id: tickets.id })) : undefined);
    if (policyMoved) {
      if (changed.length === 0) await setPolicy();
      // The change's row is the one the caller answers with (POST/PATCH): keep it in step.
      ticket.slaPolicyId = policyId;
    }

    // The engine counts a reply that came after the due time as a breach even when the
    // timer had not fired yet (a slow queue must not turn a late answer into a met SLA):
    // record that breach, already resolved, so reports and the queue's history see it.
    const wasBreached = new Set(before.filter((c) => c.breachedAt).map((c) => c.metric));
    for (const late of saved.filter((c) => c.breachedAt && c.stoppedAt && !wasBreached.has(c.metric as SlaClock['metric']))) {
      const breach = await recordBreach(tx, {
          ticketId: ticket.id,
          clockId: late.id,
          clockStartedAt: late.startedAt,
          policyId,
          metric: late.metric,
          channel: ticket.channel,
          teamId: ticket.teamId,
          severity: severityOf(ticket.priority),
          dueAt: late.dueAt ?? late.breachedAt!,
          breachedAt: late.breachedAt!,
          state: 'resolved',
        resolvedAt: now,
      });
      if (!breach) continue;
      await appendEvents(tx, ticket.id, { kind: 'system', id: 'sla' }, [{ type: 'sla_breached', data: { metric: late.metric, dueAt: late.dueAt, breachId: breach.id, late: true } }], now);
      await publishStreamEvent(tx, 'breach', { breachId: breach.id, ticketId: ticket.id, ticketNumber: ticket.number, channel: ticket.channel, metric: late.metric, dueAt: late.dueAt, breachedAt: late.breachedAt, resolved: true }, now);
      deps.metrics?.slaBreaches.inc({ channel: ticket.channel, metric: late.metric });
    }

    // A breached clock that has now stopped (answered, solved) resolves its breach.
    const stoppedBreached = saved.filter((c) => c.breachedAt && c.stoppedAt);
    if (stoppedBreached.length > 0) {
      const resolved = await resolveBreaches(tx, { clockIds: stoppedBreached.map((c) => c.id) }, now);
      for (const b of resolved) {
        await publishStreamEvent(tx, 'resolved', { breachId: b.id, ticketId: ticket.id, ticketNumber: ticket.number, metric: b.metric }, now);
      }
    }
    pending.set(change, timersOf(saved));
  }

  return {
    inTransaction,

    /**
     * The changes of one transaction (distinct tickets). Those that create their ticket, as
     * intake's group commit writes them set-based, get their clocks in ONE statement
     * (saveNewTicketClocks) instead of one saveClocks each: the engine decides them exactly as
     * inTransaction does, from no clocks. A new ticket that needs more than an insert (its
     * policy is not the one stored on it, or a clock is breached already, which records a
     * breach) and every other change (a reply to an existing ticket reads and locks its
     * clocks) take inTransaction, in order, before the statement.
     */
    async inTransactionBatch(tx: Executor, changes: readonly TicketChange[]) {
      const fresh: { change: TicketChange; clocks: SlaClock[]; policyId: string | null }[] = [];
      // One set of policies for the whole batch (the cache may turn over between two changes).
      const { policies } = await deps.policies.get(tx);
      for (const change of changes) {
        const events = slaEventsOf(change.events, change.now);
        if (events.length === 0) continue;
        if (!change.events.some((e) => e.type === 'created')) {
          await inTransaction(tx, change);
          continue;
        }
        const policy = matchPolicy(policies, slaTicketOf(change.ticket));
        const policyId = policy?.id ?? null;
        const clocks = clocksAfter(change, events, policy, []);
        if (policyId !== change.ticket.slaPolicyId || clocks.some((c) => c.breachedAt)) await inTransaction(tx, change);
        else fresh.push({ change, clocks, policyId });
      }
      if (fresh.length === 0) return;
      const saved = await saveNewTicketClocks(
        tx,
        fresh.flatMap(({ change, clocks, policyId }) => clocks.map((clock) => ({ ticketId: change.ticket.id, policyId, clock, now: change.now }))),
      );
      const byTicket = new Map<string, ClockRow[]>();
      for (const row of saved) byTicket.set(row.ticketId, [...(byTicket.get(row.ticketId) ?? []), row]);
      for (const { change } of fresh) pending.set(change, timersOf(byTicket.get(change.ticket.id) ?? []));
    },

    /** The changes of one transaction (one, or a group commit's many): their timers in one addBulk. */
    async afterCommitBatch(changes: readonly TicketChange[]) {
      const timers = changes.flatMap((change) => pending.get(change) ?? []);
      // Postgres holds the deadlines: with Redis away the change still succeeds, and the
      // reconciler's sweep of due clocks fires them instead (late by at most
      // SLA_RECONCILE_INTERVAL_MS); a Redis that lost its data gets every running clock
      // rescheduled by the Redis-loss recovery (workers/sla-recovery.ts).
      if (timers.length) await unlessRedisIsAway(() => deps.timers.schedule(timers));
    },
  };
}
