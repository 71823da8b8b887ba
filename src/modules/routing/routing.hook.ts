import { publishStreamEvent } from '../sla/breaches/stream-events.repository.js';
import type { TicketChange, TicketHook } from '../tickets/tickets.hooks.js';
import { SLOT_STATUSES } from './routing.repository.js';

const holdsSlot = (status: string) => (SLOT_STATUSES as readonly string[]).includes(status);
/** Assignments the routing engine publishes itself (in its batch statement, or with a pull or a release). */
const PUBLISHED_BY_ENGINE = new Set(['routing', 'pull']);

/**
 * Routing follows ticket changes.
 *
 * In the transaction: an assignment made by anyone but the engine (a person's PATCH, a ticket
 * created with an assignee, an SLA escalation) goes on the agent stream (GET /v1/me/stream) as
 * the engine's own do: `assigned` for the new agent, `unassigned` for the old one, committed
 * with the change.
 *
 * After commit: a ticket that waits (created, reopened, unassigned, moved to another team)
 * routes its queue at once; an agent who lost a ticket (a reassignment) or whose ticket
 * stopped holding a slot (solved, pending, on hold) routes the queues it serves. A trigger
 * Redis could not take is the sweep's.
 */
export function createRoutingHook(triggers: { teamChanged(teamId: string | null): Promise<void>; agentChanged(agentId: string): Promise<void> }): TicketHook {
  return {
    async inTransaction(tx, { ticket, events, now }) {
      for (const event of events) {
        if (event.type !== 'assigned' || PUBLISHED_BY_ENGINE.has(String(event.data?.['by']))) continue;
        const { from, to, reason } = event.data ?? {};
        const by = reason === 'escalation' ? 'escalation' : 'manual';
        const about = { ticketId: ticket.id, ticketNumber: ticket.number, channel: ticket.channel, by, ...(typeof reason === 'string' ? { reason } : {}) };
        if (typeof from === 'string') await publishStreamEvent(tx, 'agent_unassigned', { agentId: from, ...about }, now);
        if (typeof to === 'string') await publishStreamEvent(tx, 'agent_assigned', { agentId: to, ...about }, now);
      }
    },
    /** The changes of one transaction (one, or a group commit's many): one trigger per queue and per agent, not per change. */
    async afterCommitBatch(changes) {
      await trigger(changes);
    },
  };

  async function trigger(changes: readonly TicketChange[]): Promise<void> {
    const waiting = new Set<string | null>();
    const freed = new Set<string>();
    for (const { ticket, events } of changes) {
      if (ticket.assigneeId === null && holdsSlot(ticket.status) && ticket.mergedIntoId === null) waiting.add(ticket.teamId);
      for (const event of events) {
        const from = event.data?.['from'];
        if (event.type === 'assigned' && typeof from === 'string') freed.add(from);
        if (event.type === 'status_changed' && ticket.assigneeId && !holdsSlot(ticket.status)) freed.add(ticket.assigneeId);
      }
    }
    for (const teamId of waiting) await triggers.teamChanged(teamId);
    for (const agentId of freed) await triggers.agentChanged(agentId);
  }
}
