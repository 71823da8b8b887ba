import { getTableColumns } from 'drizzle-orm';
import { clientOf, type Executor } from '../../db/client.js';
import { newCustomersCtes, type NewCustomerRow } from '../customers/customers.group-insert.js';
import type { TicketRow } from './tickets.repository.js';
import { tickets } from './tickets.table.js';
import type { NewTicket } from './tickets.writer.js';

/**
 * Set-based writes of new tickets for intake's group commit (issue 18): a group's new tickets,
 * their new customers, first messages and timeline events in one statement instead of three or
 * four per ticket. Its text is fixed (rows arrive as arrays, one per column, expanded by unnest), so it
 * runs as a named prepared statement: parsed and planned once per connection, then only bound
 * and executed. Hand-written SQL, not drizzle's query builder: on this path the builder cost as
 * much CPU as the statement's round trip.
 */

export interface NewMessageRow {
  id: string;
  ticketId: string;
  kind: string;
  channel: string;
  senderKind: string;
  senderAddress: string | null;
  providerMessageId: string;
  threadKey: string | null;
  messageIdHeader: string | null;
  subject: string | null;
  bodyText: string;
  bodyHtml: string | null;
  language: string | null;
  authentication: unknown;
  sentAt: Date;
  createdAt: Date;
}

export interface NewEventRow {
  ticketId: string;
  type: string;
  data: Record<string, unknown>;
  createdAt: Date;
}

/** Ticket columns by SQL name, to map a raw row as drizzle's returning() does. */
const ticketColumns = Object.entries(getTableColumns(tickets)).map(([key, column]) => ({ key, column }));

function ticketRowOf(raw: Record<string, unknown>): TicketRow {
  const row: Record<string, unknown> = {};
  for (const { key, column } of ticketColumns) {
    const value = raw[column.name];
    row[key] = value === null || value === undefined ? null : column.mapFromDriverValue(value);
  }
  return row as TicketRow;
}

/** The customers' CTEs (customers.group-insert.ts) take their parameters after the tickets' 33. */
const customersCtes = newCustomersCtes(34);

/**
 * The group's new customers (each with its one verified identity), their new tickets, the
 * tickets' first messages and their timeline events, in one statement (the foreign keys are
 * checked at its end): one round trip where the customers took one of their own. A customer
 * whose identity a concurrent transaction stored first is not written (see newCustomersCtes),
 * and neither are its ticket, message and events: the caller takes that message the long way,
 * which finds the other customer. Customer actors only: intake's messages. Answers the rows of
 * the tickets written, by id.
 */
export async function insertCustomersTicketsWithMessages(
  tx: Executor,
  customerRows: readonly NewCustomerRow[],
  ticketRows: readonly (NewTicket & { id: string; createdAt: Date; updatedAt: Date })[],
  messageRows: readonly NewMessageRow[],
  eventRows: readonly NewEventRow[],
): Promise<Map<string, TicketRow>> {
  if (ticketRows.length === 0) return new Map();
  const t = ticketRows;
  const { rows } = await clientOf(tx).query<Record<string, unknown>>({
    name: 'intake_group_customers_tickets_v1',
    text: `with ${customersCtes.text},
      t as (
        insert into tickets (id, status, priority, team_id, channel, subject, description, customer_id, language, first_response_at, created_at, updated_at, sla_policy_id)
        select v.* from unnest($1::uuid[], $2::text[], $3::text[], $4::uuid[], $5::text[], $6::text[], $7::text[], $8::uuid[], $9::text[], $10::timestamptz[], $11::timestamptz[], $12::timestamptz[], $33::uuid[])
          as v(id, status, priority, team_id, channel, subject, description, customer_id, language, first_response_at, created_at, updated_at, sla_policy_id)
         where v.customer_id in (select customer_id from new_identities)
        returning *),
      m as (
        insert into messages (id, ticket_id, direction, kind, public, author_kind, channel, sender_kind, sender_address, provider_message_id, thread_key,
                              message_id_header, subject, body_text, body_html, language, authentication, sent_at, created_at)
        select id, ticket_id, 'inbound', kind, true, 'customer', channel, sender_kind, sender_address, provider_message_id, thread_key,
               message_id_header, subject, body_text, body_html, language, authentication::jsonb, sent_at, created_at
          from unnest($13::uuid[], $14::uuid[], $15::text[], $16::text[], $17::text[], $18::text[], $19::text[], $20::text[], $21::text[], $22::text[],
                      $23::text[], $24::text[], $25::text[], $26::text[], $27::timestamptz[], $28::timestamptz[])
            as v(id, ticket_id, kind, channel, sender_kind, sender_address, provider_message_id, thread_key, message_id_header, subject, body_text, body_html,
                 language, authentication, sent_at, created_at)
         where v.ticket_id in (select id from t)),
      e as (
        insert into ticket_events (ticket_id, type, actor_kind, actor_id, data, created_at)
        select ticket_id, type, 'customer', null, data::jsonb, created_at from unnest($29::uuid[], $30::text[], $31::text[], $32::timestamptz[]) as v(ticket_id, type, data, created_at)
         where v.ticket_id in (select id from t))
      select * from t`,
    values: [
      t.map((r) => r.id),
      t.map((r) => r.status),
      t.map((r) => r.priority),
      t.map((r) => r.teamId ?? null),
      t.map((r) => r.channel),
      t.map((r) => r.subject),
      t.map((r) => r.description ?? ''),
      t.map((r) => r.customerId),
      t.map((r) => r.language ?? null),
      t.map((r) => r.firstResponseAt ?? null),
      t.map((r) => r.createdAt),
      t.map((r) => r.updatedAt),
      messageRows.map((m) => m.id),
      messageRows.map((m) => m.ticketId),
      messageRows.map((m) => m.kind),
      messageRows.map((m) => m.channel),
      messageRows.map((m) => m.senderKind),
      messageRows.map((m) => m.senderAddress),
      messageRows.map((m) => m.providerMessageId),
      messageRows.map((m) => m.threadKey),
      messageRows.map((m) => m.messageIdHeader),
      messageRows.map((m) => m.subject),
      messageRows.map((m) => m.bodyText),
      messageRows.map((m) => m.bodyHtml),
      messageRows.map((m) => m.language),
      messageRows.map((m) => (m.authentication === null || m.authentication === undefined ? null : JSON.stringify(m.authentication))),
      messageRows.map((m) => m.sentAt),
      messageRows.map((m) => m.createdAt),
      eventRows.map((e) => e.ticketId),
      eventRows.map((e) => e.type),
      eventRows.map((e) => JSON.stringify(e.data)),
      eventRows.map((e) => e.createdAt),
      t.map((r) => r.slaPolicyId ?? null),
      ...customersCtes.values(customerRows),
    ],
  });
  return new Map(rows.map((raw) => [raw.id as string, ticketRowOf(raw)]));
}
