import { and, eq, inArray, sql } from 'drizzle-orm';
import type { Executor } from '../../db/client.js';
import { fcrOnReopen, fcrOnSolve, type FcrState } from '../../domain/fcr.js';
import { unlessRedisIsAway, type Queues } from '../../queues/queues.js';
import type { TicketChange, TicketHook } from '../tickets/tickets.hooks.js';
import { appendEvents } from '../tickets/tickets.repository.js';
import { ticketEvents } from '../tickets/ticket-events.table.js';
import { setTicketBookkeeping } from '../tickets/tickets.writer.js';

/** Interactions are the timeline's agent replies and answered calls (inbound or logged). */
const INTERACTIONS = ['agent_reply', 'call_answered'];

export const fcrJobId = (ticketId: string) => `fcr-${ticketId}`;

async function factsOf(tx: Executor, ticketId: string) {
  const [row] = await tx
    .select({
      interactions: sql<number>`count(*)::int`,
      agents: sql<number>`count(distinct ${ticketEvents.actorId}) filter (where ${ticketEvents.actorKind} = 'agent')::int`,
    })
    .from(ticketEvents)
    .where(and(eq(ticketEvents.ticketId, ticketId), inArray(ticketEvents.type, INTERACTIONS)));
  return { interactions: row?.interactions ?? 0, interactingAgents: row?.agents ?? 0 };
}

/**
 * Keeps tickets.fcr_state in step: decided at the first solve (no, or pending until the
 * reopen window closes), made no by a reopen inside the window, settled to yes by a delayed
 * job when the window closes (and by the sweep below if that job was lost).
 */
export function createFcrHook(deps: { queues: Queues; windowMs: number }): TicketHook {
  const toSchedule = new WeakMap<TicketChange, Date>();
  return {
    async inTransaction(tx, change) {
      const { ticket, now } = change;
      const solved = change.events.some((e) => e.type === 'status_changed' && e.data?.to === 'solved');
      const reopened = change.events.some((e) => e.type === 'reopened');
      if (reopened) {
        const next = fcrOnReopen(ticket.fcrState as FcrState, ticket.fcrSettlesAt, now);
        if (next !== ticket.fcrState) {
          await setTicketBookkeeping(tx, ticket.id, { fcrState: next });
          await appendEvents(tx, ticket.id, { kind: 'system', id: 'fcr' }, [{ type: 'fcr_settled', data: { state: next, reason: 'reopened within the window' } }], now);
        }
      }
      // Only the first solve decides: a ticket solved again after a reopen is already "no".
      if (solved && ticket.fcrState === 'pending' && ticket.fcrSettlesAt === null) {
        const facts = await factsOf(tx, ticket.id);
        const decision = fcrOnSolve({ ...facts, handoffCount: ticket.handoffCount, reopenCount: ticket.reopenCount }, ticket.solvedAt ?? now, deps.windowMs);
        if (decision.state === 'no') {
          await setTicketBookkeeping(tx, ticket.id, { fcrState: 'no', fcrSettlesAt: ticket.solvedAt ?? now });
          await appendEvents(tx, ticket.id, { kind: 'system', id: 'fcr' }, [{ type: 'fcr_settled', data: { state: 'no', reason: decision.reason } }], now);
        } else {
          await setTicketBookkeeping(tx, ticket.id, { fcrSettlesAt: decision.settlesAt });
          toSchedule.set(change, decision.settlesAt);
        }
      }
    },

    async afterCommit(change) {
      const settlesAt = toSchedule.get(change);
      if (!settlesAt) return;
      const delay = Math.max(0, settlesAt.getTime() - change.now.getTime());
      // fcr_settles_at is stored: with Redis away the reconciler's sweep settles the ticket
      // once it is due (FcrSettler.settle() with no ids), so the change still succeeds.
      await unlessRedisIsAway(() => deps.queues.maintenance.add('fcr-settle', { ticketId: change.ticket.id }, { jobId: fcrJobId(change.ticket.id), delay }));
    },
  };
}
