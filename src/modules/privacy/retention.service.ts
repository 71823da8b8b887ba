import { unlink } from 'node:fs/promises';
import { eq, sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Database } from '../../db/client.js';
import { DEFAULT_RETENTION, retentionCutoffs, type RetentionSettings } from '../../domain/privacy/retention.js';
import { needlesOf } from '../../domain/privacy/scrub.js';
import type { Clock } from '../../shared/clock.js';
import { deleteAttachments, eraseMessages, eraseTicketChildren, eraseTickets, pathsStillUsed, scrubDocuments } from './erasure.statements.js';
import { retentionSettings } from './privacy.table.js';

/*
 * Retention, applied by the maintenance worker: raw payloads and dead letters past their days
 * (and, by the same days, finished webhook deliveries and the outbox events nothing needs any more),
 * closed tickets past their months (anonymized like an erasure, ticket by ticket: the customer
 * stays), audit rows past their years. Each batch is its own short transaction of at most
 * `batchSize` rows chosen by an indexed range, so no lock is held for long and the API and
 * intake go on meanwhile; a run stops after `maxBatches` batches per rule (the maintenance
 * queue's other jobs wait behind it) and the next run goes on where it stopped.
 */

export interface RetentionView extends RetentionSettings {
  updatedAt: Date | null;
  lastRunAt: Date | null;
  lastRun: Record<string, unknown> | null;
}

export interface RetentionRun {
  rawPayloadsDeleted: number;
  deadLettersDeleted: number;
  ticketsAnonymized: number;
  auditRowsDeleted: number;
  webhookDeliveriesDeleted: number;
  eventsDeleted: number;
  /** True when a rule stopped at its batch limit with more to do: the next run continues. */
  more: boolean;
  ms: number;
}

export function createRetentionService(deps: { db: Database; clock: Clock; logger: Logger; batchSize: number; maxBatches: number }) {
  const { db, clock, logger, batchSize, maxBatches } = deps;
  // A ticket's anonymization rewrites its messages and timeline too: fewer per transaction.
  const ticketBatch = Math.min(batchSize, 100);

  async function read(): Promise<RetentionView> {
    const [row] = await db.select().from(retentionSettings).where(eq(retentionSettings.id, 1));
    if (!row) return { ...DEFAULT_RETENTION, updatedAt: null, lastRunAt: null, lastRun: null };
    return {
      rawPayloadDays: row.rawPayloadDays,
      closedTicketMonths: row.closedTicketMonths,
      auditYears: row.auditYears,
      updatedAt: row.updatedAt,
      lastRunAt: row.lastRunAt,
      lastRun: row.lastRun ?? null,
    };
  }

  /** Runs `batch` until it deletes fewer than a batch or the limit is reached; answers (rows, more). */
  async function inBatches(batch: () => Promise<number>, size = batchSize): Promise<[number, boolean]> {
    let total = 0;
    for (let i = 0; i < maxBatches; i++) {
      const n = await batch();
      total += n;
      if (n < size) return [total, false];
    }
    return [total, true];
  }

  /**
   * The outbox's events and their webhook deliveries past the payload days, in event-id order
   * up to the newest event that occurred before the cut-off (one index probe). A delivery goes
   * once finished (succeeded or failed: a pending one is still retried); an event once no
   * delivery refers to it any more and the dispatcher has passed it (its deliveries exist).
   * A stream resumed from a deleted event's id starts at the next stored one (cursorAt).
   */
  async function pruneEvents(before: Date): Promise<[number, boolean, number, boolean]> {
    const newest = await db.execute<{ id: number }>(sql`select id from domain_events where occurred_at < ${before} order by occurred_at desc limit 1`);
    const bound = newest.rows[0]?.id;
    if (bound === undefined) return [0, false, 0, false];
    const [deliveries, moreDeliveries] = await inBatches(async () => {
      const r = await db.execute(
        sql`delete from webhook_deliveries where id in (select id from webhook_deliveries where event_id <= ${bound} and state in ('succeeded', 'failed') and created_at < ${before} order by event_id limit ${batchSize})`,
      );
      return r.rowCount ?? 0;
    });
    const [events, moreEvents] = await inBatches(async () => {
      const r = await db.execute(
        sql`delete from domain_events where id in (
              select e.id from domain_events e join webhook_dispatch_cursor c on c.id = 1
               where e.id <= ${bound} and e.occurred_at < ${before} and (e.tx_id, e.id) <= (c.tx_id, c.event_id)
                 and not exists (select 1 from webhook_deliveries d where d.event_id = e.id)
               order by e.id limit ${batchSize})`,
      );
      return r.rowCount ?? 0;
    });
    return [deliveries, moreDeliveries, events, moreEvents];
  }

  async function anonymizeTickets(before: Date): Promise<number> {
    const found = await db.execute(
      sql`select t.id from tickets t where t.closed_at < ${before} and (t.subject <> '' or t.description <> '' or exists (select 1 from messages m where m.ticket_id = t.id and m.body_text <> ''))
          order by t.closed_at limit ${ticketBatch}`,
    );
    const ids = found.rows as { id: string }[];
    if (ids.length === 0) return 0;
    const ticketIds = ids.map((r) => r.id);
    const files = await db.transaction(async (tx) => {
      // The tickets' lock order, then the same statements as an erasure, minus the customer's own rows.
      await tx.execute(sql`select id from tickets where id = any(${sql.param(ticketIds)}::uuid[]) order by id for no key update`);
      const values = (
        await tx.execute(
          sql`select subject as v from tickets where id = any(${sql.param(ticketIds)}::uuid[])
              union all select unnest(array[subject, left(body_text, 200), sender_address]) from messages where ticket_id = any(${sql.param(ticketIds)}::uuid[]) and direction = 'inbound'`,
        )
      ).rows as { v: string | null }[];
      const needles = needlesOf(values.map((r) => r.v));
      const attachments = await deleteAttachments(tx, ticketIds);
      const used = await pathsStillUsed(tx, attachments.paths);
      await scrubDocuments(tx, { customerIds: [], ticketIds, needles });
      await eraseMessages(tx, ticketIds);
      await eraseTicketChildren(tx, ticketIds);
      await eraseTickets(tx, ticketIds);
      return attachments.paths.filter((p) => !used.has(p));
    });
    for (const path of files) await unlink(path).catch(() => undefined);
    return ticketIds.length;
  }

  return {
    read,

    async replace(settings: RetentionSettings): Promise<RetentionView> {
      const now = clock.now();
      await db
        .insert(retentionSettings)
        .values({ id: 1, ...settings, updatedAt: now })
        .onConflictDoUpdate({ target: retentionSettings.id, set: { ...settings, updatedAt: now } });
      return read();
    },

    async run(): Promise<RetentionRun> {
      const started = Date.now();
      const settings = await read();
      const cutoffs = retentionCutoffs(settings, clock.now());
      const [rawPayloadsDeleted, morePayloads] = await inBatches(async () => {
        const r = await db.execute(
          sql`delete from inbound_payloads where id in (select id from inbound_payloads where received_at < ${cutoffs.rawPayloadsBefore} order by received_at limit ${batchSize})`,
        );
        return r.rowCount ?? 0;
      });
      const [deadLettersDeleted, moreDead] = await inBatches(async () => {
        const r = await db.execute(
          sql`delete from dead_letters where id in (select id from dead_letters where last_received_at < ${cutoffs.rawPayloadsBefore} order by received_at limit ${batchSize})`,
        );
        return r.rowCount ?? 0;
      });
      const [ticketsAnonymized, moreTickets] = cutoffs.closedTicketsBefore ? await inBatches(() => anonymizeTickets(cutoffs.closedTicketsBefore!), ticketBatch) : [0, false];
      // The cut-off is the database's clock: the append-only trigger judges by it too.
      const [auditRowsDeleted, moreAudit] = await inBatches(async () => {
        const r = await db.execute(
          sql`delete from audit_log where id in (select id from audit_log where occurred_at < now() - make_interval(years => ${settings.auditYears}) order by occurred_at limit ${batchSize})`,
        );
        return r.rowCount ?? 0;
      });
      const [webhookDeliveriesDeleted, moreDeliveries, eventsDeleted, moreEvents] = await pruneEvents(cutoffs.rawPayloadsBefore);
      const run: RetentionRun = {
        rawPayloadsDeleted,
        deadLettersDeleted,
        ticketsAnonymized,
        auditRowsDeleted,
        webhookDeliveriesDeleted,
        eventsDeleted,
        more: morePayloads || moreDead || moreTickets || moreAudit || moreDeliveries || moreEvents,
        ms: Date.now() - started,
      };
      const now = clock.now();
      await db
        .insert(retentionSettings)
        .values({ id: 1, ...DEFAULT_RETENTION, updatedAt: now, lastRunAt: now, lastRun: { ...run } })
        .onConflictDoUpdate({ target: retentionSettings.id, set: { lastRunAt: now, lastRun: { ...run } } });
      if (rawPayloadsDeleted + deadLettersDeleted + ticketsAnonymized + auditRowsDeleted + webhookDeliveriesDeleted + eventsDeleted > 0) logger.info({ retention: run }, 'retention applied');
      return run;
    },
  };
}

export type RetentionService = ReturnType<typeof createRetentionService>;
