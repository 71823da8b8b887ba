import { and, asc, eq, isNull, lte } from 'drizzle-orm';
import type { Database } from '../../../db/client.js';
import type { Queues } from '../../../queues/queues.js';
import type { Clock } from '../../../shared/clock.js';
import { badRequest, conflict, notFound } from '../../../shared/errors.js';
import type { Principal } from '../../auth/api-keys.service.js';
import { appendEvents, findTicket, type Actor } from '../../tickets/tickets.repository.js';
import { actorOf } from '../../tickets/tickets.service.js';
import { publishStreamEvent } from '../breaches/stream-events.repository.js';
import { recordEvent } from '../../events/events.writer.js';
import { commitments } from '../sla.table.js';
import { recordBreach, resolveBreaches, severityOf } from '../breaches/breaches.repository.js';

export type CommitmentRow = typeof commitments.$inferSelect;

const SYSTEM: Actor = { kind: 'system', id: 'sla' };
/** The reminder comes this long before the promise is due (or at once if that has passed). */
const REMINDER_BEFORE_MS = 60 * 60 * 1000;

const jobId = (kind: string, id: string, generation: number) => `${kind}-${id}-${generation}`;

/**
 * Promises made to a customer, on the SLA timer machinery: a reminder before due, and when
 * overdue a breach on the operations queue, until an agent marks the promise kept or broken.
 */
export function createCommitmentService(deps: { db: Database; clock: Clock; queues: Queues }) {
  const { db, clock, queues } = deps;

  async function schedule(c: CommitmentRow): Promise<void> {
    const now = clock.now().getTime();
    const due = c.dueAt.getTime();
    await queues.slaTimers.addBulk([
      ...(c.remindedAt ? [] : [{ name: 'commitment-reminder' as const, data: { commitmentId: c.id, generation: c.generation }, opts: { jobId: jobId('reminder', c.id, c.generation), delay: Math.max(0, due - REMINDER_BEFORE_MS - now) } }]),
      { name: 'commitment-due' as const, data: { commitmentId: c.id, generation: c.generation }, opts: { jobId: jobId('due', c.id, c.generation), delay: Math.max(0, due - now) } },
    ]);
  }

  async function fire(kind: 'commitment-reminder' | 'commitment-due', commitmentId: string, generation: number): Promise<'fired' | 'stale'> {
    const now = clock.now();
    return db.transaction(async (tx) => {
      const [c] = await tx.select().from(commitments).where(eq(commitments.id, commitmentId)).for('update');
      if (!c || c.state !== 'open' || c.generation !== generation) return 'stale';
      const ticket = await findTicket(tx, c.ticketId);
      if (!ticket) return 'stale';
      const base = { commitmentId: c.id, ticketId: ticket.id, ticketNumber: ticket.number, channel: ticket.channel, description: c.description, dueAt: c.dueAt };
      if (kind === 'commitment-reminder') {
        if (c.remindedAt || now.getTime() < c.dueAt.getTime() - REMINDER_BEFORE_MS) return 'stale';
        await tx.update(commitments).set({ remindedAt: now, updatedAt: now }).where(eq(commitments.id, c.id));
        await appendEvents(tx, ticket.id, SYSTEM, [{ type: 'commitment_reminder', data: base }], now);
        await publishStreamEvent(tx, 'warning', { ...base, metric: 'commitment' }, now);
        return 'fired';
      }
      if (c.overdueAt || now < c.dueAt) return 'stale';
      await tx.update(commitments).set({ overdueAt: now, updatedAt: now }).where(eq(commitments.id, c.id));
      const breach = await recordBreach(tx, { ticketId: ticket.id, commitmentId: c.id, metric: 'commitment', channel: ticket.channel, teamId: ticket.teamId, severity: severityOf(ticket.priority), dueAt: c.dueAt, breachedAt: now });
      if (!breach) return 'stale';
      await appendEvents(tx, ticket.id, SYSTEM, [{ type: 'commitment_overdue', data: { ...base, breachId: breach.id } }], now);
      await publishStreamEvent(tx, 'breach', { ...base, metric: 'commitment', breachId: breach.id, breachedAt: now }, now);
      await recordEvent(tx, { type: 'commitment.due', resource: { type: 'ticket', id: ticket.id }, data: { ticketId: ticket.id, ticketNumber: ticket.number, commitmentId: c.id, dueAt: c.dueAt.toISOString(), breachId: breach.id }, occurredAt: now, audience: { teamId: ticket.teamId, assigneeId: ticket.assigneeId } });
      return 'fired';
    });
  }

  return {
    schedule,
    fire,

    async create(ticketId: string, input: { description: string; dueAt: string }, principal: Principal): Promise<CommitmentRow> {
      const now = clock.now();
      const dueAt = new Date(input.dueAt);
      if (dueAt <= now) throw badRequest('body.dueAt', 'a promise must be due in the future');
      const row = await db.transaction(async (tx) => {
        const ticket = await findTicket(tx, ticketId);
        if (!ticket) throw notFound('Ticket', ticketId);
        if (ticket.status === 'closed') throw conflict('ticket-closed', 'A closed ticket takes no new commitments');
        const [created] = await tx
          .insert(commitments)
          .values({ ticketId, description: input.description, dueAt, createdByAgentId: principal.agentId, createdAt: now, updatedAt: now })
          .returning();
        await appendEvents(tx, ticketId, actorOf(principal), [{ type: 'commitment', data: { commitmentId: created!.id, description: input.description, dueAt } }], now);
        return created!;
      });
      await schedule(row).catch(() => undefined); // the reconciler catches what a failed schedule misses
      return row;
    },

    async close(ticketId: string, commitmentId: string, state: 'kept' | 'broken', principal: Principal): Promise<CommitmentRow> {
      const now = clock.now();
      return db.transaction(async (tx) => {
        const [c] = await tx.select().from(commitments).where(and(eq(commitments.id, commitmentId), eq(commitments.ticketId, ticketId))).for('update');
        if (!c) throw notFound('Commitment', commitmentId);
        if (c.state !== 'open') throw conflict('commitment-closed', `The commitment is already ${c.state}`);
        const [updated] = await tx.update(commitments).set({ state, closedAt: now, updatedAt: now, generation: c.generation + 1 }).where(eq(commitments.id, c.id)).returning();
        const resolved = await resolveBreaches(tx, { commitmentId: c.id }, now);
        await appendEvents(tx, ticketId, actorOf(principal), [{ type: `commitment_${state}`, data: { commitmentId: c.id, description: c.description } }], now);
        for (const b of resolved) await publishStreamEvent(tx, 'resolved', { breachId: b.id, ticketId, metric: 'commitment', commitmentId: c.id }, now);
        if (state === 'broken') {
          const ticket = await findTicket(tx, c.ticketId);
          await recordEvent(tx, { type: 'commitment.broken', resource: { type: 'ticket', id: c.ticketId }, data: { ticketId: c.ticketId, ticketNumber: ticket?.number ?? 0, commitmentId: c.id, dueAt: c.dueAt.toISOString() }, occurredAt: now, audience: { teamId: ticket?.teamId ?? null, assigneeId: ticket?.assigneeId ?? null } });
        }
        return updated!;
      });
    },

    async listForTicket(ticketId: string): Promise<CommitmentRow[]> {
      return db.select().from(commitments).where(eq(commitments.ticketId, ticketId)).orderBy(asc(commitments.dueAt));
    },

    /**
     * Reminders and overdue promises whose timer was lost (Redis away when the promise was made,
     * or while its job waited): the reconciler's share of commitments, read from Postgres.
     */
    async reconcile(): Promise<number> {
      const now = clock.now();
      const due = (by: Date, notDone: typeof commitments.remindedAt) =>
        db.select({ id: commitments.id, generation: commitments.generation }).from(commitments).where(and(eq(commitments.state, 'open'), lte(commitments.dueAt, by), isNull(notDone))).limit(500);
      const unreminded = await due(new Date(now.getTime() + REMINDER_BEFORE_MS), commitments.remindedAt);
      const overdue = await due(now, commitments.overdueAt);
      let fired = 0;
      for (const c of unreminded) if ((await fire('commitment-reminder', c.id, c.generation)) === 'fired') fired++;
      for (const c of overdue) if ((await fire('commitment-due', c.id, c.generation)) === 'fired') fired++;
      return fired;
    },
  };
}

export type CommitmentService = ReturnType<typeof createCommitmentService>;
