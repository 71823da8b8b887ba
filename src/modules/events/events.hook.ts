import { eventsFromTimeline } from '../../domain/events/from-timeline.js';
import type { TicketHook } from '../tickets/tickets.hooks.js';
import { recordEvents } from './events.writer.js';

/**
 * Every ticket change (API, intake, routing, SLA escalation, recompute) runs the hooks in its
 * transaction: this one turns the change's timeline entries into catalog events in the outbox.
 * Registered after the SLA and CSAT hooks, so its per-resource lock is the change's last.
 */
export function createEventsHook(): TicketHook {
  return {
    async inTransaction(tx, change) {
      const events = eventsFromTimeline(change.ticket, change.events);
      await recordEvents(
        tx,
        events.map((e) => ({ ...e, occurredAt: change.now, audience: { teamId: change.ticket.teamId, assigneeId: change.ticket.assigneeId } })),
      );
    },
  };
}
