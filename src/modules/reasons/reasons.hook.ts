import { eq } from 'drizzle-orm';
import { teams } from '../teams/teams.table.js';
import type { TicketChange, TicketHook } from '../tickets/tickets.hooks.js';
import { isLeafReason, unprocessable } from './reasons.service.js';

/**
 * Solving may require a complaint reason (issue 16): when the ticket's team has
 * `requireReasonOnSolve`, a solve of a ticket without a reason, or with a reason that has
 * children (a leaf is required), is refused with a 422 naming body.reasonId. It runs in the
 * solve's transaction, so every way of solving (PATCH, a reply or a call with status solved)
 * is covered and nothing of the refused change is written.
 */
export function createReasonHook(): TicketHook {
  return {
    async inTransaction(tx, change: TicketChange) {
      if (!change.events.some((e) => e.type === 'status_changed' && (e.data as { to?: string } | undefined)?.to === 'solved')) return;
      const { ticket } = change;
      if (!ticket.teamId) return;
      const [team] = await tx.select({ required: teams.requireReasonOnSolve, name: teams.name }).from(teams).where(eq(teams.id, ticket.teamId));
      if (!team?.required) return;
      if (!ticket.reasonId) throw unprocessable('body.reasonId', `team ${team.name} requires a complaint reason to solve a ticket: set reasonId or reasonCode`);
      if (!(await isLeafReason(tx, ticket.reasonId))) throw unprocessable('body.reasonId', 'a solve needs a leaf reason (one without sub-reasons): choose a sub-reason');
    },
  };
}
