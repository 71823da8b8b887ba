import { and, arrayContains, asc, desc, eq, getTableColumns, gt, gte, inArray, isNull, lt, sql, type SQL } from 'drizzle-orm';
import type { Executor } from '../../db/client.js';
import type { Priority, TicketStatus } from '../../domain/ticket-lifecycle.js';
import type { Channel } from '../../channels/channel.types.js';
import { cursorKeys, decodeCursor, toPage, type Page } from '../../http/pagination.js';
import { messages } from './messages.table.js';
import { ticketEvents } from './ticket-events.table.js';
import { tickets } from './tickets.table.js';
import type { ListTicketsQuery, MessageView, TicketView, RedressKind } from './tickets.schemas.js';

export type TicketRow = typeof tickets.$inferSelect;
export type MessageRow = typeof messages.$inferSelect;
export type EventRow = typeof ticketEvents.$inferSelect;

// What a ticket view shows: a list page leaves the complaint's text and its search vector (each
// up to kilobytes per row, and neither in the view) in the table instead of sending them over.
const { description: _description, search: _search, ...viewColumns } = getTableColumns(tickets);
export type TicketViewRow = Omit<TicketRow, 'description' | 'search'>;

export function toTicketView(row: TicketViewRow): TicketView {
  return {
    id: row.id,
    number: row.number,
    status: row.status as TicketStatus,
    priority: row.priority as Priority,
    channel: row.channel as Channel,
    subject: row.subject,
    customerId: row.customerId,
    assigneeId: row.assigneeId,
    teamId: row.teamId,
    language: row.language,
    tags: row.tags,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    firstResponseAt: row.firstResponseAt,
    solvedAt: row.solvedAt,
    closedAt: row.closedAt,
    reopenCount: row.reopenCount,
    handoffCount: row.handoffCount,
    escalationLevel: row.escalationLevel,
    mergedIntoId: row.mergedIntoId,
    followUpOfId: row.followUpOfId,
    version: row.version,
    slaPolicyId: row.slaPolicyId,
    fcrState: row.fcrState as TicketView['fcrState'],
    senderUnverified: row.senderUnverified,
    senderUnverifiedReason: row.senderUnverifiedReason,
    // Wrap-up and handle time (issue 16).
    reasonId: row.reasonId,
    rootCauseId: row.rootCauseId,
    outcome: row.outcome as TicketView['outcome'],
    redress: row.redressKind ? { kind: row.redressKind as RedressKind, amount: Number(row.redressAmount), currency: row.redressCurrency! } : null,
    handlingSec: row.handlingSec,
    afterWorkSec: row.afterWorkSec,
  };
}

export function toMessageView(row: MessageRow): MessageView {
  return {
    id: row.id,
    ticketId: row.ticketId,
    direction: row.direction as MessageView['direction'],
    kind: row.kind,
    public: row.public,
    authorKind: row.authorKind,
    authorAgentId: row.authorAgentId,
    channel: row.channel as Channel,
    providerMessageId: row.providerMessageId,
    subject: row.subject,
    body: row.bodyText,
    html: row.bodyHtml,
    language: row.language,
    attachments: row.attachments.map((a) => ({
      id: a.id,
      filename: a.filename,
      contentType: a.contentType,
      size: a.size,
      ...(a.contentId ? { contentId: a.contentId } : {}),
      ...(a.inline !== undefined ? { inline: a.inline } : {}),
      ...(a.url ? { url: a.url } : {}),
    })),
    automated: row.automated,
    authentication: row.authentication ?? null,
    deliveryState: row.deliveryState,
    deliveryAttempts: row.deliveryAttempts,
    deliveryError: row.deliveryError,
    sentAt: row.sentAt,
    createdAt: row.createdAt,
  };
}

export async function findTicket(tx: Executor, id: string): Promise<TicketRow | undefined> {
  const [row] = await tx.select().from(tickets).where(eq(tickets.id, id));
  return row;
}

/** Reads the ticket and locks its row until the transaction ends: writers queue up here. */
/**
 * FOR NO KEY UPDATE, not FOR UPDATE: a ticket change never touches the ticket's key, and this
 * lock does not block the foreign-key checks of rows that reference the ticket (a timer worker
 * inserting a breach or a timeline event while holding a clock lock the change waits for).
 */
export async function lockTicket(tx: Executor, id: string): Promise<TicketRow | undefined> {
  const [row] = await tx.select().from(tickets).where(eq(tickets.id, id)).for('no key update');
  return row;
}

const SORT_COLUMNS = { createdAt: tickets.createdAt, updatedAt: tickets.updatedAt } as const;

export async function listTickets(tx: Executor, query: ListTicketsQuery): Promise<Page<TicketView>> {
  const descending = query.sort.startsWith('-');
  const sortKey = query.sort.replace('-', '') as keyof typeof SORT_COLUMNS;
  const sortColumn = SORT_COLUMNS[sortKey];
  const conditions: (SQL | undefined)[] = [
    query.status ? inArray(tickets.status, query.status) : undefined,
    query.channel ? inArray(tickets.channel, query.channel) : undefined,
    query.priority ? inArray(tickets.priority, query.priority) : undefined,
    query.assigneeId === 'none' ? isNull(tickets.assigneeId) : query.assigneeId ? eq(tickets.assigneeId, query.assigneeId) : undefined,
    query.teamId ? eq(tickets.teamId, query.teamId) : undefined,
    query.customerId ? eq(tickets.customerId, query.customerId) : undefined,
    query.language ? eq(tickets.language, query.language) : undefined,
    query.tag ? arrayContains(tickets.tags, [query.tag]) : undefined,
    query.q ? sql`${tickets.search} @@ websearch_to_tsquery('simple', ${query.q})` : undefined,
    query.createdFrom ? gte(tickets.createdAt, new Date(query.createdFrom)) : undefined,
    query.createdTo ? lt(tickets.createdAt, new Date(query.createdTo)) : undefined,
    query.updatedFrom ? gte(tickets.updatedAt, new Date(query.updatedFrom)) : undefined,
    query.updatedTo ? lt(tickets.updatedAt, new Date(query.updatedTo)) : undefined,
  ];
  const cursor = decodeCursor(query.cursor, cursorKeys.instant);
  if (cursor) {
    const at = new Date(cursor.v);
    // Row comparison walks the (sort column, id) index in one range scan.
    conditions.push(
      descending
        ? sql`(${sortColumn}, ${tickets.id}) < (${at}, ${cursor.id}::uuid)`
        : sql`(${sortColumn}, ${tickets.id}) > (${at}, ${cursor.id}::uuid)`,
    );
  }
  const order = descending ? [desc(sortColumn), desc(tickets.id)] : [asc(sortColumn), asc(tickets.id)];
  const rows = await tx
    .select(viewColumns)
    .from(tickets)
    .where(and(...conditions))
    .orderBy(...order)
    .limit(query.limit + 1);
  return toPage(rows, query.limit, (row) => ({ v: row[sortKey].toISOString(), id: row.id }), toTicketView);
}

export async function listMessages(tx: Executor, ticketId: string, limit: number, cursorText?: string): Promise<Page<MessageView>> {
  const cursor = decodeCursor(cursorText, cursorKeys.instant);
  const rows = await tx
    .select()
    .from(messages)
    .where(
      and(
        eq(messages.ticketId, ticketId),
        cursor ? sql`(${messages.createdAt}, ${messages.id}) > (${new Date(cursor.v)}, ${cursor.id}::uuid)` : undefined,
      ),
    )
    .orderBy(asc(messages.createdAt), asc(messages.id))
    .limit(limit + 1);
  return toPage(rows, limit, (row) => ({ v: row.createdAt.toISOString(), id: row.id }), toMessageView);
}

export async function listEvents(tx: Executor, ticketId: string, limit: number, cursorText?: string): Promise<Page<EventRow>> {
  const cursor = decodeCursor(cursorText, cursorKeys.sequence);
  const rows = await tx
    .select()
    .from(ticketEvents)
    .where(and(eq(ticketEvents.ticketId, ticketId), cursor ? gt(ticketEvents.id, cursor.v) : undefined))
    .orderBy(asc(ticketEvents.id))
    .limit(limit + 1);
  return toPage(rows, limit, (row) => ({ v: row.id, id: String(row.id) }), (row) => row);
}

export interface NewEvent {
  type: string;
  data?: Record<string, unknown>;
}

export interface Actor {
  kind: 'agent' | 'customer' | 'system' | 'api_key' | 'integration';
  id: string | null;
}

export async function appendEvents(tx: Executor, ticketId: string, actor: Actor, events: NewEvent[], at: Date): Promise<void> {
  if (events.length === 0) return;
  await eventsInsert(tx, ticketId, actor, events, at);
}

/** The insert of appendEvents, not yet run: to be awaited, or run as a CTE of another write. */
export function eventsInsert(tx: Executor, ticketId: string, actor: Actor, events: NewEvent[], at: Date) {
  return tx.insert(ticketEvents).values(
    events.map((e) => ({ ticketId, type: e.type, actorKind: actor.kind, actorId: actor.id, data: e.data ?? {}, createdAt: at })),
  );
}

/**
 * The batch form, as a statement to run inside a larger one (a CTE): `select` yields, in
 * order, ticket_id, type, actor_kind, actor_id, data, created_at.
 */
export function appendEventsFrom(select: SQL): SQL {
  return sql`insert into ticket_events (ticket_id, type, actor_kind, actor_id, data, created_at) ${select}`;
}

/** A merged ticket's timeline moves to the ticket it was merged into. */
export async function moveEvents(tx: Executor, fromTicketId: string, toTicketId: string): Promise<void> {
  await tx.update(ticketEvents).set({ ticketId: toTicketId }).where(eq(ticketEvents.ticketId, fromTicketId));
}

/** A customer's newest tickets, newest first. */
export async function latestTicketsOfCustomer(tx: Executor, customerId: string, limit: number): Promise<TicketRow[]> {
  return tx.select().from(tickets).where(eq(tickets.customerId, customerId)).orderBy(desc(tickets.createdAt)).limit(limit);
}

