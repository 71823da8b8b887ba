import { asc, eq, inArray, sql } from 'drizzle-orm';
import type { Executor } from '../../db/client.js';
import { messages } from './messages.table.js';
import { ticketEvents } from './ticket-events.table.js';
import { tickets } from './tickets.table.js';
import { eventsInsert, type Actor, type NewEvent, type TicketRow } from './tickets.repository.js';

/**
 * The one module that writes `tickets` rows (inserts and updates): intake, the ticket service,
 * SLA escalation, FCR and customer merges all come here, so the version rule and the lock
 * order are spelled once.
 *
 * The version rule: a change an agent or API client can see (status, assignment, priority,
 * customer, ...) bumps `version` (the ETag of optimistic concurrency) and `updated_at`.
 * Bookkeeping of another capability (the SLA policy that governs the ticket, the FCR state)
 * changes neither: the ticket as its readers know it has not changed.
 *
 * The lock order: rows are locked FOR NO KEY UPDATE (lockTicket), several at once in id order,
 * so two transactions that lock the same tickets cannot deadlock.
 */

export type NewTicket = typeof tickets.$inferInsert;
export type TicketPatch = Partial<Omit<NewTicket, 'id' | 'number' | 'version' | 'updatedAt' | 'createdAt'>>;
/** Columns other capabilities keep on the ticket row without changing the ticket. */
export type TicketBookkeeping = Partial<Pick<NewTicket, 'slaPolicyId' | 'fcrState' | 'fcrSettlesAt' | 'handlingSec' | 'afterWorkSec'>>;

export async function insertTicket(tx: Executor, values: NewTicket): Promise<TicketRow> {
  const [row] = await tx.insert(tickets).values(values).returning();
  return row!;
}

/**
 * Applies a visible change (the version rule) to a ticket whose row the caller has locked.
 * `completesCreation`: the ticket was inserted in this same transaction, so no reader has seen
 * a version yet and the patch is part of its creation (it stays at its first version).
 */
/**
 * A message with its timeline events in one statement (the events as a CTE), and the ticket it
 * opens if any (a CTE too: the foreign keys are checked at the statement's end): intake's write
 * of one delivery. Answers the opened ticket, or null when the message joins an existing one.
 */
export async function insertMessageWithTimeline(
  tx: Executor,
  opening: NewTicket | null,
  message: typeof messages.$inferInsert,
  timeline: { ticketId: string; actor: Actor; events: NewEvent[]; at: Date },
): Promise<TicketRow | null> {
  const events = tx.$with('timeline').as(eventsInsert(tx, timeline.ticketId, timeline.actor, timeline.events, timeline.at).returning({ id: ticketEvents.id }));
  if (!opening) {
    await tx.with(events).insert(messages).values(message);
    return null;
  }
  const opened = tx.$with('opened').as(tx.insert(tickets).values(opening).returning());
  const written = tx.$with('written').as(tx.insert(messages).values(message).returning({ id: messages.id }));
  const [ticket] = await tx.with(opened, events, written).select().from(opened);
  return ticket ?? null;
}

export async function patchTicket(tx: Executor, ticketId: string, patch: TicketPatch, now: Date, options: { completesCreation?: boolean } = {}): Promise<TicketRow> {
  const [row] = await tx
    .update(tickets)
    .set({ ...patch, updatedAt: now, version: sql`${tickets.version} + ${options.completesCreation ? 0 : 1}` })
    .where(eq(tickets.id, ticketId))
    .returning();
  return row!;
}

/** One ticket's assignment in a batch: the columns the lifecycle's assign transition patches. */
export interface BatchAssignment {
  id: string;
  assigneeId: string;
  handoffCount: number;
  /** Set when the ticket had never been assigned (kept otherwise). */
  firstAssignedAt: Date;
}

/**
 * Applies several assignments (routing's batch) to tickets the caller has locked, in one
 * statement: the same version rule as patchTicket, for each row.
 */
export async function patchTicketAssignments(tx: Executor, assignments: BatchAssignment[], now: Date): Promise<TicketRow[]> {
  if (assignments.length === 0) return [];
  const v = sql`jsonb_to_recordset(${JSON.stringify(assignments)}::jsonb) as v(id uuid, "assigneeId" uuid, "handoffCount" int, "firstAssignedAt" timestamptz)`;
  return tx
    .update(tickets)
    .set({
      assigneeId: sql`v."assigneeId"`,
      handoffCount: sql`v."handoffCount"`,
      firstAssignedAt: sql`coalesce(${tickets.firstAssignedAt}, v."firstAssignedAt")`,
      updatedAt: now,
      version: sql`${tickets.version} + 1`,
    })
    .from(v)
    .where(sql`${tickets.id} = v.id`)
    .returning();
}

/** Locks several tickets in id order (the lock order); the rows found, by id. */
export async function lockTicketsInOrder(tx: Executor, ids: string[]): Promise<Map<string, TicketRow>> {
  if (ids.length === 0) return new Map();
  const rows = await tx.select().from(tickets).where(inArray(tickets.id, ids)).orderBy(asc(tickets.id)).for('no key update');
  return new Map(rows.map((r) => [r.id, r]));
}

/** Every ticket of one customer moves to another (a customer merge): a visible change. */
export async function moveTicketsToCustomer(tx: Executor, fromCustomerId: string, toCustomerId: string, now: Date): Promise<{ id: string }[]> {
  return tx
    .update(tickets)
    .set({ customerId: toCustomerId, updatedAt: now, version: sql`${tickets.version} + 1` })
    .where(eq(tickets.customerId, fromCustomerId))
    .returning({ id: tickets.id });
}

/**
 * Sets bookkeeping columns without the version rule. Not yet run: await it, or run it as a CTE
 * of another write (the SLA hook saves its clocks and the policy in one statement).
 */
export function setTicketBookkeeping(tx: Executor, ticketId: string, columns: TicketBookkeeping) {
  return tx.update(tickets).set(columns).where(eq(tickets.id, ticketId));
}

/**
 * Erasure (privacy): the customer's words leave the ticket, the shell stays. Not a visible
 * change in the version rule's sense: the ticket's state, owner and figures are unchanged, and
 * the search vector, generated from these two columns, empties with them.
 */
export async function eraseTicketTexts(tx: Executor, ticketIds: string[]): Promise<number> {
  if (ticketIds.length === 0) return 0;
  const erased = await tx.update(tickets).set({ subject: '', description: '' }).where(inArray(tickets.id, ticketIds)).returning({ id: tickets.id });
  return erased.length;
}
