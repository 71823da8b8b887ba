import type { TicketHook } from '../tickets/tickets.hooks.js';
import { SLOT_STATUSES } from './routing.repository.js';

const holdsSlot = (status: string) => (SLOT_STATUSES as readonly string[]).includes(status);

/**
 * Routing follows ticket changes after commit: a ticket that waits (created, reopened,
 * unassigned, moved to another team) routes its queue at once; an agent who lost a ticket (a
 * reassignment) or whose ticket stopped holding a slot (solved, pending, on hold) routes the
 * queues it serves. A trigger Redis could not take is the sweep's.
 */
export function createRoutingHook(triggers: { teamChanged(teamId: string | null): Promise<void>; agentChanged(agentId: string): Promise<void> }): TicketHook {
  return {
    async afterCommit({ ticket, events }) {
      if (ticket.assigneeId === null && holdsSlot(ticket.status) && ticket.mergedIntoId === null) await triggers.teamChanged(ticket.teamId);
      const freed = new Set<string>();
      for (const event of events) {
        const from = event.data?.['from'];
        if (event.type === 'assigned' && typeof from === 'string') freed.add(from);
        if (event.type === 'status_changed' && ticket.assigneeId && !holdsSlot(ticket.status)) freed.add(ticket.assigneeId);
      }
      for (const agentId of freed) await triggers.agentChanged(agentId);
    },
  };
}
