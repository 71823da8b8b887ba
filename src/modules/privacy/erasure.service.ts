import { unlink } from 'node:fs/promises';
import { eq } from 'drizzle-orm';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Database } from '../../db/client.js';
import { needlesOf } from '../../domain/privacy/scrub.js';
import type { Clock } from '../../shared/clock.js';
import { notFound } from '../../shared/errors.js';
import { recordEvent } from '../events/events.writer.js';
import {
  deleteAttachments,
  deleteRawData,
  eraseCustomers,
  eraseMessages,
  eraseTicketChildren,
  eraseTickets,
  lockScope,
  pathsStillUsed,
  personalValues,
  scrubDocuments,
  sweepUnknownTables,
} from './erasure.statements.js';
import { customerErasures } from './privacy.table.js';
import { eraseFromRedis, type RedisErasure } from './redis-erasure.js';

/**
 * Tables the statements handle by column, and tables known to hold no customer's data (ids,
 * counts, configuration, staff). Every other table is swept by value (sweepUnknownTables), so a
 * table added later is covered before anyone lists it here.
 */
const KNOWN_TABLES = new Set([
  // handled by column
  'customers', 'customer_identities', 'tickets', 'messages', 'attachments', 'csat_surveys', 'commitments', 'breaches', 'outbox', 'ticket_events',
  'sla_stream_events', 'pending_notifications', 'inbound_payloads', 'dead_letters', 'idempotency_keys',
  // never a customer's data: the trail (no personal values by construction), ids, figures, configuration, staff
  'audit_log', 'customer_erasures', 'privacy_retention_settings', 'domain_events', 'webhook_deliveries', 'webhook_dispatch_cursor', 'webhook_subscriptions',
  'kpi_rollups', 'kpi_rollup_dirty_hours', 'kpi_rollup_state', 'kpi_targets', 'alarms', 'sla_clocks', 'sla_policies', 'calendars', 'sla_recompute_requests',
  'agents', 'agent_presence_events', 'teams', 'api_keys', 'templates', 'routing_queues', 'webhook_tokens', '__drizzle_migrations',
  // an entry blocks an abuser's address: kept on the legitimate-interest ground, removed by its own DELETE
  'blocklist_entries',
]);

export interface ErasureOutcome {
  customerId: string;
  erasedAt: Date;
  reason: string;
  /** True when this request found the customer already erased and did nothing. */
  alreadyErased: boolean;
  removed: Record<string, number>;
}

export interface ErasureDeps {
  db: Database;
  clock: Clock;
  logger: Logger;
  redis: Redis;
  queuePrefix: string;
}

export function createErasureService(deps: ErasureDeps) {
  const { db, clock, logger } = deps;

  return {
    /**
     * Removes the customer's personal data everywhere, in one transaction (Postgres), then from
     * files and Redis. Idempotent: a customer already erased answers the first erasure's record.
     */
    async erase(customerId: string, reason: string, actorKeyId: string | null): Promise<ErasureOutcome> {
      const now = clock.now();
      const done = await db.transaction(async (tx) => {
        const scope = await lockScope(tx, customerId);
        if (!scope) throw notFound('customer', customerId);
        const [previous] = await tx.select().from(customerErasures).where(eq(customerErasures.customerId, scope.rootId));
        if (previous) return { previous, files: [] as string[], needles: [] as string[] };
        const needles = needlesOf(await personalValues(tx, scope.customerIds, scope.ticketIds));
        const full = { ...scope, needles };
        const attachments = await deleteAttachments(tx, scope.ticketIds);
        const unused = await pathsStillUsed(tx, attachments.paths).then((used) => attachments.paths.filter((path) => !used.has(path)));
        const documents = await scrubDocuments(tx, full);
        const raw = await deleteRawData(tx, full);
        const removed: Record<string, number> = {
          customers: 0,
          identities: 0,
          tickets: await eraseTickets(tx, scope.ticketIds),
          messages: await eraseMessages(tx, scope.ticketIds),
          attachments: attachments.count,
          ...(await eraseTicketChildren(tx, scope.ticketIds)),
          ...documents,
          ...raw,
        };
        Object.assign(removed, await eraseCustomers(tx, scope.customerIds));
        for (const [column, n] of Object.entries(await sweepUnknownTables(tx, KNOWN_TABLES, needles))) removed[`swept:${column}`] = n;
        const [record] = await tx.insert(customerErasures).values({ customerId: scope.rootId, reason, actorKeyId, erasedAt: now, removed }).returning();
        await recordEvent(tx, { type: 'customer.erased', resource: { type: 'customer', id: scope.rootId }, data: { customerId: scope.rootId, reason }, occurredAt: now });
        return { previous: null, record: record!, files: unused, needles };
      });
      if (done.previous) return { ...outcomeOf(done.previous), alreadyErased: true };
      const record = done.record!;
      // After commit: a rollback must not have lost the files.
      let files = 0;
      for (const path of done.files) {
        await unlink(path).then(
          () => files++,
          (error: NodeJS.ErrnoException) => {
            if (error.code !== 'ENOENT') logger.warn({ err: error, customerId: record.customerId }, 'erasure: an attachment file could not be deleted');
          },
        );
      }
      let redis: RedisErasure | null = null;
      try {
        redis = await eraseFromRedis(deps.redis, deps.queuePrefix, done.needles);
      } catch (error) {
        logger.error({ err: error, customerId: record.customerId }, 'erasure: redis could not be searched; erase again once it is back');
      }
      const removed = { ...record.removed, attachmentFiles: files, ...(redis ? { redisJobs: redis.jobsRemoved, redisJobsBusy: redis.jobsBusy, redisStreamEntries: redis.streamEntriesRemoved, redisKeys: redis.keysRemoved } : {}) };
      logger.info({ customerId: record.customerId, removed }, 'customer erased');
      return { ...outcomeOf({ ...record, removed }), alreadyErased: false };
    },
  };
}

function outcomeOf(row: typeof customerErasures.$inferSelect): Omit<ErasureOutcome, 'alreadyErased'> {
  return { customerId: row.customerId, erasedAt: row.erasedAt, reason: row.reason, removed: row.removed };
}

export type ErasureService = ReturnType<typeof createErasureService>;
