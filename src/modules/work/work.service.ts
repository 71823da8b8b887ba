import { asc, eq } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import type { WorkKind } from '../../domain/figures/handle-time.js';
import type { FigureSettings } from '../../domain/figures/settings.js';
import type { Clock } from '../../shared/clock.js';
import { badRequest, forbidden, notFound } from '../../shared/errors.js';
import { requireAgent } from '../agents/agents.repository.js';
import type { Principal } from '../auth/api-keys.service.js';
import { lockTicket } from '../tickets/tickets.repository.js';
import { tickets } from '../tickets/tickets.table.js';
import { recordWork, toWorkView } from './work.repository.js';
import { workIntervals } from './work.table.js';

export interface WorkInput {
  startedAt: string;
  endedAt: string;
  kind: WorkKind;
  agentId?: string | undefined;
}

const MAX_INTERVAL_MS = 24 * 3_600_000;

/** Work reported on a ticket by agent frontends (issue 16): validated, stored, the ticket's handle time recomputed. */
export function createWorkService(deps: { db: Database; clock: Clock; settings: FigureSettings }) {
  const { db, clock, settings } = deps;
  return {
    async record(ticketId: string, input: WorkInput, principal: Principal) {
      const now = clock.now();
      const startedAt = new Date(input.startedAt);
      const endedAt = new Date(input.endedAt);
      if (endedAt < startedAt) throw badRequest('body.endedAt', 'must not be before startedAt');
      if (endedAt > now) throw badRequest('body.endedAt', 'must not be in the future');
      if (endedAt.getTime() - startedAt.getTime() > MAX_INTERVAL_MS) throw badRequest('body.endedAt', 'an interval is at most 24 hours long');
      // An agent reports its own work; a supervisor or admin on an agent's behalf.
      let agentId: string;
      if (principal.role === 'agent') {
        if (!principal.agentId) throw forbidden('This key is not tied to an agent');
        if (input.agentId && input.agentId.toLowerCase() !== principal.agentId) throw forbidden('An agent key reports its own work only; a supervisor may report on behalf of another agent');
        agentId = principal.agentId;
      } else {
        const given = input.agentId ?? principal.agentId;
        if (!given) throw badRequest('body.agentId', 'required for a key not tied to an agent');
        agentId = given.toLowerCase();
      }
      return db.transaction(async (tx) => {
        const ticket = await lockTicket(tx, ticketId);
        if (!ticket) throw notFound('Ticket', ticketId);
        await requireAgent(tx, agentId, 'body.agentId');
        const row = await recordWork(tx, { ticketId: ticket.id, ticketChannel: ticket.channel, agentId, kind: input.kind, source: 'api', startedAt, endedAt }, settings, now);
        return toWorkView(row);
      });
    },

    async list(ticketId: string) {
      const [ticket] = await db.select({ id: tickets.id }).from(tickets).where(eq(tickets.id, ticketId));
      if (!ticket) throw notFound('Ticket', ticketId);
      const rows = await db.select().from(workIntervals).where(eq(workIntervals.ticketId, ticketId)).orderBy(asc(workIntervals.startedAt), asc(workIntervals.id));
      return { items: rows.map(toWorkView) };
    },
  };
}

export type WorkService = ReturnType<typeof createWorkService>;
