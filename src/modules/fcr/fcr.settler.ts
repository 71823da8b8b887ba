import { and, eq, inArray, isNotNull, lte } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { fcrSettle, type FcrState } from '../../domain/fcr.js';
import type { Clock } from '../../shared/clock.js';
import { appendEvents } from '../tickets/tickets.repository.js';
import { tickets } from '../tickets/tickets.table.js';
import { setTicketBookkeeping } from '../tickets/tickets.writer.js';

/**
 * FCR pending at the first solve settles to yes when the reopen window closes: the delayed
 * fcr-settle job (fcr.hook.ts schedules it), or the reconciler's sweep if that job was lost.
 */
/** Settles one ticket (the delayed job) or every due one (the sweep): same rule, same SQL. */
export function createFcrSettler(deps: { db: Database; clock: Clock }) {
  async function settle(ticketIds?: string[]): Promise<number> {
    const now = deps.clock.now();
    return deps.db.transaction(async (tx) => {
      const due = await tx
        .select({ id: tickets.id, state: tickets.fcrState, settlesAt: tickets.fcrSettlesAt, status: tickets.status })
        .from(tickets)
        .where(and(eq(tickets.fcrState, 'pending'), isNotNull(tickets.fcrSettlesAt), lte(tickets.fcrSettlesAt, now), ticketIds ? inArray(tickets.id, ticketIds) : undefined))
        .limit(1000)
        .for('update', { skipLocked: true });
      let settled = 0;
      for (const t of due) {
        const next = fcrSettle(t.state as FcrState, t.settlesAt, now, t.status === 'solved' || t.status === 'closed');
        if (next === t.state) continue;
        await setTicketBookkeeping(tx, t.id, { fcrState: next });
        await appendEvents(tx, t.id, { kind: 'system', id: 'fcr' }, [{ type: 'fcr_settled', data: { state: next, reason: 'reopen window closed' } }], now);
        settled++;
      }
      return settled;
    });
  }
  return { settle };
}

export type FcrSettler = ReturnType<typeof createFcrSettler>;
