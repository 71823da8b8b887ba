import { asc, inArray } from 'drizzle-orm';
import type { JobsOptions } from 'bullmq';
import type { Logger } from 'pino';
import type { Database, Executor } from '../../db/client.js';
import { unlessRedisIsAway, type JobData, type Queues } from '../../queues/queues.js';
import { pendingNotifications } from './notifications.table.js';

export type Notification = { job: 'email'; data: JobData<'notifications', 'email'> } | { job: 'webhook'; data: JobData<'notifications', 'webhook'> };

/** A receiver may be down for a while: webhooks get more attempts than mail (whose relay queues itself). */
const RETRIES: Record<Notification['job'], JobsOptions> = {
  email: { attempts: 5, backoff: { type: 'exponential', delay: 2_000 } },
  webhook: { attempts: 8, backoff: { type: 'exponential', delay: 2_000 } },
};

const BATCH = 500;

/**
 * Notifications through Postgres: recorded in the transaction that decides them, queued after
 * commit, and queued by the reconciler if Redis was away then. A row is deleted in the same
 * transaction that queued its job and holds it locked meanwhile (SKIP LOCKED elsewhere), so the
 * after-commit path and a reconciler never both queue it.
 */
export function createNotificationOutbox(deps: { db: Database; logger: Logger; queues: Queues }) {
  const { db, logger, queues } = deps;

  /** Queues pending rows (these ids, or the oldest) and deletes them; throws if Redis refuses. */
  function dispatch(ids?: string[]): Promise<number> {
    return db.transaction(async (tx) => {
      const rows = await tx
        .select()
        .from(pendingNotifications)
        .where(ids ? inArray(pendingNotifications.id, ids) : undefined)
        .orderBy(asc(pendingNotifications.createdAt))
        .limit(BATCH)
        .for('update', { skipLocked: true });
      if (rows.length === 0) return 0;
      await queues.notifications.addBulk(rows.map((r) => ({ name: r.job, data: r.data as Notification['data'], opts: { jobId: `notification-${r.id}`, ...RETRIES[r.job] } })));
      await tx.delete(pendingNotifications).where(inArray(pendingNotifications.id, rows.map((r) => r.id)));
      return rows.length;
    });
  }

  return {
    /** In the deciding transaction: the notifications to send once it commits. */
    async record(tx: Executor, notifications: Notification[]): Promise<string[]> {
      if (notifications.length === 0) return [];
      const rows = await tx.insert(pendingNotifications).values(notifications).returning({ id: pendingNotifications.id });
      return rows.map((r) => r.id);
    },

    /** After commit. While Redis is away the rows wait in Postgres for the reconciler. */
    async enqueue(ids: string[]): Promise<void> {
      if (ids.length > 0 && !(await unlessRedisIsAway(() => dispatch(ids)))) logger.warn({ notifications: ids.length }, 'notifications not queued (redis unavailable); the reconciler will queue them');
    },

    /** The reconciler: queues every row left behind, the repair of a failed enqueue. 0 while Redis is away. */
    async enqueuePending(): Promise<number> {
      let queued = 0;
      const ok = await unlessRedisIsAway(async () => {
        for (;;) {
          const n = await dispatch();
          queued += n;
          if (n < BATCH) break;
        }
      });
      return ok ? queued : 0;
    },
  };
}

export type NotificationOutbox = ReturnType<typeof createNotificationOutbox>;
