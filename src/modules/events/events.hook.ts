import { eventsFromTimeline } from '../../domain/events/from-timeline.js';
import type { TicketChange, TicketHook } from '../tickets/tickets.hooks.js';
import { recordEvents, type RecordedEvent } from './events.writer.js';

/**
 * Every ticket change (API, intake, routing, SLA escalation, recompute) runs the hooks in its
 * transaction: this one turns the change's timeline entries into catalog events in the outbox.
 * Registered after the SLA and CSAT hooks, so its per-resource lock is the change's last.
 */
export function createEventsHook(): TicketHook {
  const recorded = (change: TicketChange): RecordedEvent[] =>
    eventsFromTimeline(change.ticket, change.events).map((e) => ({ ...e, occurredAt: change.now, audience: { teamId: change.ticket.teamId, assigneeId: change.ticket.assigneeId } }));
  return {
    // It only inserts into the outbox: a group of changes records its events at its end, at once.
    deferrable: true,
    async inTransaction(tx, change) {
      await recordEvents(tx, recorded(change));
    },
    /** A routing batch: every change's events in one call (its per-resource locks in key order, one insert). */
    async inTransactionBatch(tx, changes) {
      await recordEvents(tx, changes.flatMap(recorded));
    },
  };
}
