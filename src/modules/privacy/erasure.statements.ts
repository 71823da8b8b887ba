import { sql, type SQL } from 'drizzle-orm';
import type { Executor } from '../../db/client.js';
import { ERASED, ilikePattern, scrubJson, scrubText } from '../../domain/privacy/scrub.js';
import { eraseTicketTexts } from '../tickets/tickets.writer.js';

/*
 * The statements of an erasure, table by table. Erasure is the one writer that crosses every
 * module's tables on purpose (like a migration): the owning module of each table is named
 * beside its statement, and each statement touches only the personal columns that
 * domain/privacy/personal-fields.ts lists, never a column a KPI reads (timestamps, channel,
 * status, clocks, scores, FCR), so the tickets stay as anonymous shells with their figures.
 */

const p = (value: unknown) => sql.param(value);

async function rows<T>(tx: Executor, query: SQL): Promise<T[]> {
  const result = await tx.execute(query);
  return result.rows as T[];
}

async function count(tx: Executor, query: SQL): Promise<number> {
  const result = await tx.execute(query);
  return result.rowCount ?? 0;
}

export interface ErasureScope {
  /** The customer and every customer merged into it (their rows stay, emptied). */
  customerIds: string[];
  ticketIds: string[];
  /** What the customer is known by and wrote, for the searches by value. */
  needles: string[];
}

/** The customer, every customer merged into it and their tickets, locked in id order. */
export async function lockScope(tx: Executor, customerId: string): Promise<{ rootId: string; customerIds: string[]; ticketIds: string[] } | null> {
  // customers module: follow merges up to the live customer, then everything merged into it.
  const [root] = await rows<{ id: string }>(
    tx,
    sql`with recursive up as (select id, merged_into_id, 0 as depth from customers where id = ${customerId}
          union all select c.id, c.merged_into_id, up.depth + 1 from customers c join up on c.id = up.merged_into_id where up.depth < 100)
        select id from up order by depth desc limit 1`,
  );
  if (!root) return null;
  const group = await rows<{ id: string }>(
    tx,
    sql`with recursive down as (select id, 0 as depth from customers where id = ${root.id}
          union all select c.id, down.depth + 1 from customers c join down on c.merged_into_id = down.id where down.depth < 100)
        select c.id from customers c where c.id in (select id from down) order by c.id for no key update`,
  );
  const customerIds = group.map((r) => r.id);
  // tickets module: the lock order every writer uses (ticket, then its children).
  const tickets = await rows<{ id: string }>(tx, sql`select id from tickets where customer_id = any(${p(customerIds)}::uuid[]) order by id for no key update`);
  return { rootId: root.id, customerIds, ticketIds: tickets.map((t) => t.id) };
}

/** The values to search for elsewhere: names, addresses, handles, subjects and what the customer wrote. */
export async function personalValues(tx: Executor, customerIds: string[], ticketIds: string[]): Promise<string[]> {
  const found = await rows<{ v: string | null }>(
    tx,
    sql`select name as v from customers where id = any(${p(customerIds)}::uuid[])
        union all select unnest(array[address, display_name, handle]) from customer_identities where customer_id = any(${p(customerIds)}::uuid[])
        union all select ltrim(address, '+') from customer_identities where customer_id = any(${p(customerIds)}::uuid[]) and kind = 'phone'
        union all select subject from tickets where id = any(${p(ticketIds)}::uuid[])
        union all select unnest(array[subject, left(body_text, 200), sender_address]) from messages where ticket_id = any(${p(ticketIds)}::uuid[]) and direction = 'inbound'
        union all select comment from csat_surveys where ticket_id = any(${p(ticketIds)}::uuid[])`,
  );
  return found.map((r) => r.v).filter((v): v is string => typeof v === 'string');
}

/** Attachment rows of the tickets' messages, deleted; answers the files they pointed at. */
export async function deleteAttachments(tx: Executor, ticketIds: string[]): Promise<{ count: number; paths: string[] }> {
  // intake module (attachments).
  const deleted = await rows<{ storage_path: string | null }>(
    tx,
    sql`delete from attachments where message_id in (select id from messages where ticket_id = any(${p(ticketIds)}::uuid[])) returning storage_path`,
  );
  return { count: deleted.length, paths: deleted.map((r) => r.storage_path).filter((v): v is string => v !== null) };
}

/** Files are content-addressed: one may still belong to another customer's attachment. */
export async function pathsStillUsed(tx: Executor, paths: string[]): Promise<Set<string>> {
  if (paths.length === 0) return new Set();
  const used = await rows<{ storage_path: string }>(tx, sql`select distinct storage_path from attachments where storage_path = any(${p(paths)}::text[])`);
  return new Set(used.map((r) => r.storage_path));
}

export async function eraseMessages(tx: Executor, ticketIds: string[]): Promise<number> {
  // tickets module (messages). Provider ids and Message-IDs become digests: a provider's
  // redelivery of an old webhook is still recognised as a duplicate, but nothing threads on them.
  return count(
    tx,
    sql`update messages set subject = null, body_text = '', body_html = null, sender_address = null, attachments = '[]'::jsonb, thread_key = null,
          delivery_error = null,
          message_id_header = case when message_id_header is null then null else 'erased-' || encode(sha256(convert_to(message_id_header, 'UTF8')), 'hex') end,
          provider_message_id = case when provider_message_id is null or provider_message_id like 'erased-%' then provider_message_id else 'erased-' || encode(sha256(convert_to(provider_message_id, 'UTF8')), 'hex') end
        where ticket_id = any(${p(ticketIds)}::uuid[])`,
  );
}

/** Channel, status, timestamps, assignee, team, counters and FCR stay: the KPIs read them. */
export const eraseTickets = eraseTicketTexts;

export async function eraseCustomers(tx: Executor, customerIds: string[]): Promise<{ identities: number; customers: number }> {
  // customers module: without identities, the next message from the same address finds no
  // customer and creates a new one.
  const identities = await count(tx, sql`delete from customer_identities where customer_id = any(${p(customerIds)}::uuid[])`);
  const customers = await count(tx, sql`update customers set name = null where id = any(${p(customerIds)}::uuid[])`);
  return { identities, customers };
}

export async function eraseTicketChildren(tx: Executor, ticketIds: string[]): Promise<Record<string, number>> {
  const t = p(ticketIds);
  return {
    // csat module: the comment goes, the score stays (KPI).
    csatComments: await count(tx, sql`update csat_surveys set comment = null where ticket_id = any(${t}::uuid[]) and comment is not null`),
    // sla module (commitments): what was promised may name the customer; due time and state stay.
    commitments: await count(tx, sql`update commitments set description = ${ERASED} where ticket_id = any(${t}::uuid[]) and description <> ${ERASED}`),
    // sla module (breaches): an acknowledgement note is free text about the ticket.
    breachNotes: await count(tx, sql`update breaches set ack_note = null where ticket_id = any(${t}::uuid[]) and ack_note is not null`),
    // delivery module: no destination is kept; a reply not yet sent never will be.
    outbox: await count(
      tx,
      sql`update outbox set payload = null, last_error = case when state in ('sent', 'dead') then null else 'customer erased' end,
            state = case when state in ('sent', 'dead') then state else 'dead' end
          where ticket_id = any(${t}::uuid[])`,
    ),
  };
}

/** Rewrites a jsonb column row by row with the scrubber (rows chosen by `where`), keyed by `key`. */
async function scrubJsonColumn(tx: Executor, table: string, key: string, column: string, where: SQL, needles: string[], byKey: boolean): Promise<number> {
  const found = await rows<{ k: string; v: unknown }>(tx, sql`select ${sql.identifier(key)}::text as k, ${sql.identifier(column)} as v from ${sql.identifier(table)} where ${where}`);
  let changed = 0;
  for (const row of found) {
    const next = scrubJson(row.v, needles, byKey);
    if (next === row.v) continue;
    await tx.execute(sql`update ${sql.identifier(table)} set ${sql.identifier(column)} = ${JSON.stringify(next)}::jsonb where ${sql.identifier(key)}::text = ${row.k}`);
    changed++;
  }
  return changed;
}

const anyIlike = (expression: SQL, needles: string[]) => (needles.length ? sql`${expression} ilike any(${p(needles.map(ilikePattern))}::text[])` : sql`false`);

export async function scrubDocuments(tx: Executor, scope: ErasureScope): Promise<Record<string, number>> {
  const { ticketIds, needles } = scope;
  const idPatterns = ticketIds;
  return {
    // tickets module (timeline): subjects, suggested addresses, claimed senders, commitment texts.
    ticketEvents: await scrubJsonColumn(tx, 'ticket_events', 'id', 'data', sql`ticket_id = any(${p(ticketIds)}::uuid[])`, needles, true),
    // sla module (operations stream): events about these tickets.
    streamEvents: await scrubJsonColumn(tx, 'sla_stream_events', 'id', 'data', sql`data->>'ticketId' = any(${p(idPatterns)}::text[]) or ${anyIlike(sql`data::text`, needles)}`, needles, true),
    // notifications module: an escalation e-mail not yet queued.
    pendingNotifications: await scrubJsonColumn(tx, 'pending_notifications', 'id', 'data', anyIlike(sql`data::text`, needles), needles, false),
  };
}

export async function deleteRawData(tx: Executor, scope: ErasureScope): Promise<Record<string, number>> {
  const { ticketIds, needles } = scope;
  const bytes = (column: SQL) =>
    needles.length ? sql`(encode(${column}, 'escape') ilike any(${p(needles.map(ilikePattern))}::text[]) or exists (select 1 from unnest(${p(needles)}::text[]) n where position(convert_to(n, 'UTF8') in ${column}) > 0))` : sql`false`;
  return {
    // intake module: the payloads that made these tickets' messages, and any that name the customer.
    inboundPayloads: await count(
      tx,
      sql`delete from inbound_payloads where exists (select 1 from jsonb_array_elements(case when jsonb_typeof(outcome->'messages') = 'array' then outcome->'messages' else '[]'::jsonb end) m
            where m->>'ticketId' = any(${p(ticketIds)}::text[])) or ${bytes(sql`body`)}`,
    ),
    deadLetters: await count(tx, sql`delete from dead_letters where ${bytes(sql`body`)}`),
    // http (Idempotency-Key): stored answers of requests about the customer.
    idempotencyAnswers: await count(
      tx,
      sql`delete from idempotency_keys where body is not null and (${anyIlike(sql`body`, needles)} or ${anyIlike(sql`body`, [...scope.customerIds, ...ticketIds])})`,
    ),
  };
}

/**
 * Tables this module does not know (added by features after it): every text and jsonb column is
 * searched by value and the customer's values replaced. bytea columns are left alone (there is
 * no safe edit of bytes of unknown format) and reported. `known` lists the tables handled above
 * or known to hold no personal data.
 */
export async function sweepUnknownTables(tx: Executor, known: ReadonlySet<string>, needles: string[]): Promise<Record<string, number>> {
  if (needles.length === 0) return {};
  const columns = await rows<{ table_name: string; column_name: string; data_type: string }>(
    tx,
    sql`select c.table_name, c.column_name, c.data_type from information_schema.columns c join information_schema.tables t using (table_schema, table_name)
        where c.table_schema = current_schema() and t.table_type = 'BASE TABLE' and c.data_type in ('text', 'character varying', 'jsonb', 'json') and c.is_generated = 'NEVER'
        order by c.table_name, c.column_name`,
  );
  const swept: Record<string, number> = {};
  for (const { table_name: table, column_name: column, data_type: type } of columns) {
    if (known.has(table)) continue;
    const found = await rows<{ r: string; v: unknown }>(
      tx,
      sql`select ctid::text as r, ${sql.identifier(column)} as v from ${sql.identifier(table)} where ${anyIlike(sql`${sql.identifier(column)}::text`, needles)}`,
    );
    let changed = 0;
    for (const row of found) {
      const next = type === 'jsonb' || type === 'json' ? JSON.stringify(scrubJson(row.v, needles)) : scrubText(String(row.v), needles);
      await tx.execute(sql`update ${sql.identifier(table)} set ${sql.identifier(column)} = ${next}::${sql.raw(type === 'character varying' ? 'text' : type)} where ctid = ${row.r}::tid`);
      changed++;
    }
    if (changed) swept[`${table}.${column}`] = changed;
  }
  return swept;
}
