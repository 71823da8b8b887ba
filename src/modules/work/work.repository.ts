import { eq } from 'drizzle-orm';
import type { Executor } from '../../db/client.js';
import { capAfterWork, handleTimeOf, type WorkKind } from '../../domain/figures/handle-time.js';
import type { FigureSettings, FigureChannel } from '../../domain/figures/settings.js';
import { setTicketBookkeeping } from '../tickets/tickets.writer.js';
import { workIntervals } from './work.table.js';

export type WorkRow = typeof workIntervals.$inferSelect;

export interface NewWork {
  ticketId: string;
  ticketChannel: string;
  agentId: string;
  kind: WorkKind;
  source: 'api' | 'call';
  startedAt: Date;
  endedAt: Date;
  messageId?: string | null | undefined;
}

/**
 * Stores one interval (after-work capped at the channel's AFTER_WORK_MAX_SEC) and recomputes
 * the ticket's handle time from all of its intervals. The caller holds the ticket's row lock,
 * so two recordings on one ticket cannot both compute from a stale list.
 */
export async function recordWork(tx: Executor, input: NewWork, settings: FigureSettings, now: Date): Promise<WorkRow> {
  const maxSec = settings.afterWorkMaxSec[input.ticketChannel as FigureChannel] ?? Number.POSITIVE_INFINITY;
  const capped = capAfterWork({ kind: input.kind, start: input.startedAt.getTime(), end: input.endedAt.getTime() }, maxSec);
  const [row] = await tx
    .insert(workIntervals)
    .values({
      ticketId: input.ticketId,
      agentId: input.agentId,
      kind: input.kind,
      source: input.source,
      startedAt: input.startedAt,
      endedAt: new Date(capped.end),
      reportedEndedAt: input.endedAt,
      messageId: input.messageId ?? null,
      createdAt: now,
    })
    .returning();
  const all = await tx.select().from(workIntervals).where(eq(workIntervals.ticketId, input.ticketId));
  const totals = handleTimeOf(all.map((w) => ({ agentId: w.agentId, kind: w.kind as WorkKind, start: w.startedAt.getTime(), end: w.endedAt.getTime() })));
  await setTicketBookkeeping(tx, input.ticketId, { handlingSec: totals.handlingSec, afterWorkSec: totals.afterWorkSec });
  return row!;
}

export const toWorkView = (row: WorkRow) => ({
  id: row.id,
  ticketId: row.ticketId,
  agentId: row.agentId,
  kind: row.kind as WorkKind,
  source: row.source as 'api' | 'call',
  startedAt: row.startedAt,
  endedAt: row.endedAt,
  reportedEndedAt: row.reportedEndedAt,
  createdAt: row.createdAt,
});
