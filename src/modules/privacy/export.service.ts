import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { sql, type SQL } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import type { Clock } from '../../shared/clock.js';
import { notFound } from '../../shared/errors.js';
import type { AuditService } from '../audit/audit.service.js';

/*
 * A subject-access export: everything held about one customer (and the customers merged into
 * them) as one JSON document, written to the response as it is read, a ticket at a time, so a
 * customer with thousands of tickets costs no more memory than one. Rows are read whole
 * (to_jsonb), so columns added later appear without a change here; only secrets and bytes are
 * left out (a survey's token hash, the search vector, attachment bytes: those have a link).
 */

const OMITTED = new Set(['token_hash', 'search', 'content', 'storage_path', 'salt', 'hash']);
const TICKET_PAGE = 100;

type Row = Record<string, unknown>;

const camel = (key: string) => key.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());

function present(row: Row): Row {
  const out: Row = {};
  for (const [key, value] of Object.entries(row)) if (!OMITTED.has(key)) out[camel(key)] = value;
  return out;
}

export function createExportService(deps: { db: Database; clock: Clock; audit: AuditService }) {
  const { db, clock, audit } = deps;

  async function rows(query: SQL): Promise<Row[]> {
    const result = await db.execute(query);
    return (result.rows as { r: Row }[]).map((r) => present(r.r));
  }

  /** The customer and everyone merged into them, following merges up to the live customer first. */
  async function group(customerId: string): Promise<string[]> {
    const result = await db.execute(
      sql`with recursive up as (select id, merged_into_id, 0 as depth from customers where id = ${customerId}
            union all select c.id, c.merged_into_id, up.depth + 1 from customers c join up on c.id = up.merged_into_id where up.depth < 100),
          root as (select id from up order by depth desc limit 1),
          down as (select id, 0 as depth from root union all select c.id, down.depth + 1 from customers c join down on c.merged_into_id = down.id where down.depth < 100)
          select id from down order by depth, id`,
    );
    return (result.rows as { id: string }[]).map((r) => r.id);
  }

  async function* document(customerIds: string[], downloadBase: string): AsyncGenerator<string> {
    const ids = sql.param(customerIds);
    yield `{"exportedAt":${JSON.stringify(clock.now())},"customerId":${JSON.stringify(customerIds[0])}`;
    yield `,"customers":${JSON.stringify(await rows(sql`select to_jsonb(c) as r from customers c where id = any(${ids}::uuid[]) order by created_at, id`))}`;
    yield `,"erasure":${JSON.stringify((await rows(sql`select to_jsonb(e) as r from customer_erasures e where customer_id = any(${ids}::uuid[])`))[0] ?? null)}`;
    yield `,"identities":${JSON.stringify(await rows(sql`select to_jsonb(i) as r from customer_identities i where customer_id = any(${ids}::uuid[]) order by created_at, id`))}`;
    yield `,"tickets":[`;
    let after: { createdAt: string; id: string } | null = null;
    let first = true;
    for (;;) {
      const page: Row[] = await rows(
        sql`select to_jsonb(t) as r from tickets t where customer_id = any(${ids}::uuid[])
            ${after ? sql`and (created_at, id) > (${after.createdAt}::timestamptz, ${after.id}::uuid)` : sql``}
            order by created_at, id limit ${TICKET_PAGE}`,
      );
      for (const ticket of page) {
        const ticketId = ticket.id as string;
        const messages = await rows(sql`select to_jsonb(m) as r from messages m where ticket_id = ${ticketId} order by created_at, id`);
        const files = await rows(
          sql`select jsonb_build_object('id', a.id, 'message_id', a.message_id, 'filename', a.filename, 'content_type', a.content_type, 'size', a.size, 'created_at', a.created_at) as r
              from attachments a join messages m on m.id = a.message_id where m.ticket_id = ${ticketId} order by a.created_at, a.id`,
        );
        const attachments: Row[] = files.map((a) => ({ ...a, downloadUrl: `${downloadBase}/attachments/${a.id as string}` }));
        const entry = {
          ...ticket,
          messages: messages.map((m) => ({ ...m, attachments: attachments.filter((a) => a.messageId === m.id) })),
          events: await rows(sql`select to_jsonb(e) as r from ticket_events e where ticket_id = ${ticketId} order by id`),
          surveys: await rows(sql`select to_jsonb(s) as r from csat_surveys s where ticket_id = ${ticketId} order by offered_at, id`),
          commitments: await rows(sql`select to_jsonb(c) as r from commitments c where ticket_id = ${ticketId} order by created_at, id`),
        };
        yield `${first ? '' : ','}${JSON.stringify(entry)}`;
        first = false;
      }
      if (page.length < TICKET_PAGE) break;
      const last = page[page.length - 1]!;
      after = { createdAt: last.createdAt as string, id: last.id as string };
    }
    yield `],"audit":[`;
    first = true;
    for await (const row of audit.aboutCustomer(customerIds)) {
      yield `${first ? '' : ','}${JSON.stringify(row)}`;
      first = false;
    }
    yield ']}\n';
  }

  return {
    /** Checks the customer exists (404 before any byte is sent), then answers the document as a stream. */
    async open(customerId: string, downloadBase: string): Promise<Readable> {
      const ids = await group(customerId);
      if (ids.length === 0) throw notFound('customer', customerId);
      return Readable.from(document(ids, downloadBase));
    },

    /** An attachment of one of the customer's tickets, as bytes (from Postgres or its file). */
    async attachment(customerId: string, attachmentId: string): Promise<{ contentType: string; filename: string | null; body: Buffer | Readable }> {
      const ids = await group(customerId);
      const result = await db.execute(
        sql`select a.content_type, a.filename, a.content, a.storage_path from attachments a join messages m on m.id = a.message_id join tickets t on t.id = m.ticket_id
            where a.id = ${attachmentId} and t.customer_id = any(${sql.param(ids)}::uuid[])`,
      );
      const row = result.rows[0] as { content_type: string; filename: string | null; content: Buffer | null; storage_path: string | null } | undefined;
      if (!row || (!row.content && !row.storage_path)) throw notFound('attachment', attachmentId);
      return { contentType: row.content_type, filename: row.filename, body: row.storage_path ? createReadStream(row.storage_path) : row.content! };
    },
  };
}

export type ExportService = ReturnType<typeof createExportService>;
