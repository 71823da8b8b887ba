import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Dependencies } from '../dependencies.js';
import { createNotificationSender } from '../modules/notifications/notification.sender.js';
import { jitteredBackoff } from '../modules/delivery/delivery.jobs.js';
import { QUEUE_DEFS, type QueueKey } from '../queues/queues.js';
import { processorFor, type Processors } from '../queues/processors.js';
import { evaluateKpiTargets } from '../modules/reports/kpi-targets.service.js';
import { refreshKpiRollups } from '../modules/reports/kpi-rollup.refresh.js';
import { figureSettingsOf } from '../modules/work/figure-settings.js';
import { createRetentionService } from '../modules/privacy/retention.service.js';
import { createPartitionMaintenance } from '../modules/maintenance/partitions.service.js';
import { trackRedis, workerRedisFor } from '../queues/redis.js';
import { closeWorker } from '../queues/close-worker.js';
import { ignoringOutages } from '../shared/link-state.js';
import { deleteExpiredIdempotencyKeys } from '../http/idempotency.js';
import { overdueDeadline, recoverFromRedisLoss, redisLostOurJobs } from './sla-recovery.js';
import { createTimerFlow } from '../modules/sla/clocks/timer-flow.js';
import { startWebhookPump } from '../modules/events/events.module.js';
import { startMailboxFetchers } from '../modules/mailboxes/mailbox.fetchers.js';

export interface RunningWorker {
  name: string;
  close(): Promise<void>;
}

export const RECONCILE_SCHEDULER_ID = 'sla-reconcile';
export const KPI_EVALUATE_SCHEDULER_ID = 'kpi-evaluate';
export const KPI_ROLLUP_SCHEDULER_ID = 'kpi-rollup';
export const RETENTION_SCHEDULER_ID = 'retention';
export const PARTITIONS_SCHEDULER_ID = 'partitions';
export const ROUTING_SWEEP_SCHEDULER_ID = 'routing-sweep';
/** Routing jobs a worker process runs at once (each drain holds one pooled connection at a time). */
const ROUTING_WORKER_CONCURRENCY = 4;
/** How often each worker process asks whether Redis lost our jobs (one EXISTS). */
const REDIS_LOSS_CHECK_MS = 50;

/** Starts every background worker this process runs (ROLE=worker or all). */
export async function startWorkers(deps: Dependencies): Promise<RunningWorker[]> {
  const { config, logger, slaService } = deps;
  // The connection reports to the Redis link (one log line when Redis goes away, one when it is
  // back, however long it retries meanwhile); Workers and schedule declarations have 'error'
  // handlers that do not repeat the outage per retry (ignoringOutages).
  const connection = trackRedis(workerRedisFor(config), deps.links.redis);
  const prefix = config.QUEUE_PREFIX;
  const notifications = createNotificationSender({
    webhookSecret: config.NOTIFY_WEBHOOK_SECRET,
    smtpUrl: config.SMTP_URL,
    emailFrom: config.EMAIL_FROM,
    logger,
    outbound: { allowPrivate: config.OUTBOUND_ALLOW_PRIVATE, allowHttp: config.OUTBOUND_ALLOW_HTTP },
  });

  const retentionRules = () => createRetentionService({ db: deps.db, clock: deps.clock, logger, batchSize: config.RETENTION_BATCH_SIZE, maxBatches: config.RETENTION_MAX_BATCHES }).read();
  const partitionMaintenance = createPartitionMaintenance({
    db: deps.db,
    clock: deps.clock,
    logger,
    retention: retentionRules,
    monthsAhead: config.PARTITION_MONTHS_AHEAD,
    lockTimeoutMs: config.PARTITION_LOCK_TIMEOUT_MS,
    batchSize: config.RETENTION_BATCH_SIZE,
    maxBatches: config.RETENTION_MAX_BATCHES,
    onChange: (table, action, n) => deps.metrics.partitionChanges.inc({ table, action }, n),
  });

  const workers: Worker[] = [];
  // Each queue's jobs by name (processors.ts): an unknown name or a payload its schema refuses
  // fails for good, logged once by the 'failed' listener.
  const start = <Q extends QueueKey>(key: Q, processors: Processors<Q>, concurrency: number) => {
    const name = QUEUE_DEFS[key].name;
    const worker = new Worker(name, processorFor(key, processors), {
      connection,
      prefix,
      concurrency,
      settings: { backoffStrategy: (attemptsMade: number) => jitteredBackoff(attemptsMade, config.DELIVERY_BACKOFF_MS) },
    });
    worker.on('error', ignoringOutages((error) => logger.error({ err: error, queue: name }, 'worker error')));
    worker.on('failed', (job, error) => {
      const about = { err: error.message, queue: name, job: job?.name, jobId: job?.id, attempts: job?.attemptsMade };
      if (error instanceof UnrecoverableError) logger.error(about, 'job refused: it can never succeed, so it is not retried');
      else logger.warn(about, 'job failed');
    });
    workers.push(worker);
  };

  // Timers: many short transactions at once. Concurrency stays below the pool size so API
  // requests in the same process still get connections.
  const timerFlow = createTimerFlow(deps.clock);
  const fireClock =
    (kind: 'warning' | 'breach') =>
    async ({ clockId, generation }: { clockId: string; generation: number }, job: Job) => {
      // Its due time on our clock: Redis' reckoning (added at + delay), moved by how far ours differs.
      const dueAt = new Date(deps.clock.now().getTime() - (Date.now() - (job.timestamp + job.delay)));
      let result = await slaService.fire(kind, clockId, generation);
      // Redis' clock and ours may differ by a few ms: a job that arrives early waits out
      // the difference instead of leaving the deadline to the reconciler.
      for (let i = 0; result === 'early' && i < 50; i++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        result = await slaService.fire(kind, clockId, generation);
      }
      timerFlow.ran(dueAt);
      return result;
    };
  start(
    'slaTimers',
    {
      warning: fireClock('warning'),
      breach: fireClock('breach'),
      'commitment-reminder': ({ commitmentId, generation }) => deps.commitments.fire('commitment-reminder', commitmentId, generation),
      'commitment-due': ({ commitmentId, generation }) => deps.commitments.fire('commitment-due', commitmentId, generation),
    },
    config.SLA_WORKER_CONCURRENCY,
  );
  start('slaEscalations', { escalate: ({ breachId, level }) => slaService.escalate(breachId, level) }, 4);
  start('notifications', { webhook: (data) => notifications.webhook(data), email: (data) => notifications.email(data) }, 8);
  start(
    'delivery',
    {
      deliver: async ({ outboxId }, job) => {
        const outcome = await deps.delivery.deliver(outboxId, job.attemptsMade + 1);
        // Throwing hands the retry (with jittered backoff) to BullMQ; the row already says 'failed'.
        if (outcome === 'retry') throw new Error(`delivery of ${outboxId} failed; will retry`);
        return outcome;
      },
    },
    8,
  );
  start(
    'maintenance',
    {
      // A Redis that lost our jobs is the loss watch's (below), not this job's: it may run in
      // any worker process and notices within REDIS_LOSS_CHECK_MS.
      'sla-reconcile': async () => {
        // A recovery in this process is sweeping the due clocks itself.
        const swept = await slaService.reconcile({ sweep: !inRecovery });
        return {
          ...swept,
          commitments: await deps.commitments.reconcile(),
          deliveries: await deps.delivery.reconcile(),
          fcrSettled: await deps.fcr.settle(),
          // Policy edits whose recompute job Redis could not take.
          recomputes: await deps.slaRecompute.enqueuePending(),
          // Stored Idempotency-Key answers past their TTL (issue 14).
          idempotencyKeysExpired: await deleteExpiredIdempotencyKeys(deps.db, deps.clock.now()),
        };
      },
      'sla-recompute': (request) => deps.slaRecompute.run(request),
      'fcr-settle': ({ ticketId }) => deps.fcr.settle([ticketId]),
      // KPI targets (issue 6): raise and clear alarms.
      'kpi-evaluate': () => evaluateKpiTargets(deps.db, deps.clock.now(), figureSettingsOf(deps.config)),
      // KPI rollups (issue 18): the hours closed since the last run and the hours whose facts changed.
      'kpi-rollup': () => refreshKpiRollups(deps.pool, figureSettingsOf(deps.config)),
      // Retention (issue 15): payloads, dead letters, closed tickets and audit rows past their time, in batches; returns what it did.
      retention: () => createRetentionService({ db: deps.db, clock: deps.clock, logger, batchSize: config.RETENTION_BATCH_SIZE, maxBatches: config.RETENTION_MAX_BATCHES }).run(),
      // Month partitions (issue 18): the months ahead created, expired ones dropped; returns what it did.
      partitions: () => partitionMaintenance.run(),
    },
    1,
  );

  // Routing (issue 13): several drains at once, of different queues (a trigger for a queue
  // this process is draining joins that drain); other processes route at once too: the
  // engine's row locks keep all of them from double assignment and over-capacity.
  start(
    'routing',
    {
      'route-team': ({ teamId }) => deps.routing.routeTeam(teamId),
      'route-agent': ({ agentId }) => deps.routing.routeAgent(agentId),
      sweep: () => deps.routing.sweep(),
    },
    ROUTING_WORKER_CONCURRENCY,
  );

  // A FLUSHALL erases the job scheduler too, so each worker process re-declares it on a
  // local timer (idempotent): the reconciler survives the very failure it exists for.
  const declareScheduler = () =>
    deps.queues.maintenance
      .schedule(RECONCILE_SCHEDULER_ID, config.SLA_RECONCILE_INTERVAL_MS, 'sla-reconcile', {})
      .catch(ignoringOutages((error) => logger.warn({ err: error }, 'could not declare the reconciler schedule')));
  await declareScheduler();
  // KPI targets (issue 6): a second scheduler on the maintenance queue, re-declared by the same watchdog.
  const declareKpiScheduler = () =>
    Promise.all([
      deps.queues.maintenance
        .schedule(KPI_EVALUATE_SCHEDULER_ID, config.KPI_EVALUATE_INTERVAL_MS, 'kpi-evaluate', {})
        .catch(ignoringOutages((error) => logger.warn({ err: error }, 'could not declare the KPI evaluation schedule'))),
      // KPI rollups (issue 18): on the same queue, re-declared by the same watchdog.
      deps.queues.maintenance
        .schedule(KPI_ROLLUP_SCHEDULER_ID, config.KPI_ROLLUP_INTERVAL_MS, 'kpi-rollup', {})
        .catch(ignoringOutages((error) => logger.warn({ err: error }, 'could not declare the KPI rollup schedule'))),
      // Retention (issue 15): on the same queue, re-declared by the same watchdog.
      deps.queues.maintenance
        .schedule(RETENTION_SCHEDULER_ID, config.RETENTION_INTERVAL_MS, 'retention', {})
        .catch(ignoringOutages((error) => logger.warn({ err: error }, 'could not declare the retention schedule'))),
    ]);
  await declareKpiScheduler();
  const declareRoutingSweep = () =>
    deps.queues.routing
      .schedule(ROUTING_SWEEP_SCHEDULER_ID, config.ROUTING_SWEEP_INTERVAL_MS, 'sweep', {})
      .catch(ignoringOutages((error) => logger.warn({ err: error }, 'could not declare the routing sweep schedule')));
  await declareRoutingSweep();
  // Month partitions (issue 18): daily, and once now (the default partition holds any row meanwhile).
  const declarePartitionsSchedule = () =>
    deps.queues.maintenance
      .schedule(PARTITIONS_SCHEDULER_ID, config.PARTITION_INTERVAL_MS, 'partitions', {})
      .catch(ignoringOutages((error) => logger.warn({ err: error }, 'could not declare the partitions schedule')));
  await declarePartitionsSchedule();
  await deps.queues.maintenance.add('partitions', {}).catch(ignoringOutages((error) => logger.warn({ err: error }, 'could not queue the partition job at start')));
  const watchdog = setInterval(() => void Promise.all([declareScheduler(), declareKpiScheduler(), declareRoutingSweep(), declarePartitionsSchedule()]), config.SLA_RECONCILE_INTERVAL_MS);
  watchdog.unref();

  // A Redis that lost our jobs is noticed within REDIS_LOSS_CHECK_MS, not at the next reconcile
  // tick (whose own schedule went with the jobs): the process that sets the marker again
  // reschedules every future deadline, then fires those that came due meanwhile.
  /** The check (and recovery) in flight, if any: close() waits for it. */
  let recovering: Promise<void> | null = null;
  /** A recovery is under way in this process: it sweeps from Postgres itself, the overdue watch stands aside. */
  let inRecovery = false;
  const lossWatch = setInterval(() => {
    if (recovering) return;
    recovering = (async () => {
      if (!(await redisLostOurJobs(deps, connection))) return;
      inRecovery = true;
      try {
        const rescheduled = await recoverFromRedisLoss(deps, connection);
        if (rescheduled) await Promise.all([declareScheduler(), declareKpiScheduler(), slaService.reconcile()]);
      } finally {
        inRecovery = false;
      }
    })()
      .catch(ignoringOutages((error) => logger.warn({ err: error }, 'recovery after a redis loss failed; the reconciler will retry')))
      .finally(() => (recovering = null));
  }, REDIS_LOSS_CHECK_MS);
  lossWatch.unref();

  // Jobs lost without the marker (a flush that deletes the marker last, eviction, a failover
  // that lost the last writes) and deadlines a stalled queue has not reached: a deadline more than
  // OVERDUE_GRACE_MS past is fired from Postgres within SLA_OVERDUE_CHECK_MS (two index lookups a
  // tick; 40 a second per worker process at the default 25 ms), not at the next reconcile.
  // Independent of Redis: it goes on firing while Redis is away. While this process' timer jobs
  // flow and have not gone past the deadline, it is theirs (timerFlow, see timer-flow.ts).
  // A sweep that fires nothing leaves what it found to the reconciler (a job fired it first, or
  // it cannot fire): the watch then looks only at deadlines after it, so it never spins on one.
  // A failed sweep pauses the watch for a reconcile interval (one warning, not one per tick).
  // It looks back two reconcile intervals, no further: older deadlines are the reconciler's (it
  // sweeps every overdue clock each interval). Looking from the start walked the partial index's
  // entries of the clocks already fired, which stay until VACUUM: with 500,000 of them (half of
  // 1,000,000 clocks due over 10 minutes) a look read 1,370 buffers in ~2 ms instead of ~0.25,
  // 80 times a second with two workers, and the sweeps it starts walked them again.
  const overdueWindowMs = 2 * config.SLA_RECONCILE_INTERVAL_MS;
  let sweepingOverdue: Promise<void> | null = null;
  let overdueAfter = new Date(0);
  let overduePausedUntil = 0;
  const checkOverdue = () => {
    if (sweepingOverdue || inRecovery || Date.now() < overduePausedUntil) return;
    sweepingOverdue = (async () => {
      const since = new Date(deps.clock.now().getTime() - overdueWindowMs);
      const first = await overdueDeadline(deps, overdueAfter > since ? overdueAfter : since);
      // The timer jobs are flowing and have not gone past it: theirs (see timer-flow.ts).
      if (!first || timerFlow.leavesToJobs(first)) return;
      const fired = await slaService.sweepDue(undefined, since);
      if (fired.breaches + fired.warnings > 0) logger.debug(fired, 'overdue deadlines fired from postgres');
      else overdueAfter = first;
    })()
      .catch((error: unknown) => {
        overduePausedUntil = Date.now() + config.SLA_RECONCILE_INTERVAL_MS;
        ignoringOutages((e) => logger.warn({ err: e }, 'sweep of overdue deadlines failed; the reconciler will retry'))(error);
      })
      .finally(() => (sweepingOverdue = null));
  };
  const overdueWatch = config.SLA_OVERDUE_CHECK_MS > 0 ? setInterval(checkOverdue, config.SLA_OVERDUE_CHECK_MS) : undefined;
  overdueWatch?.unref();

  // IMAP mailboxes (issue 19): one fetcher per mailbox across all worker processes (a lease in Postgres).
  const fetchers =
    config.MAILBOX_FETCH && config.MAILBOX_SECRET_KEY
      ? startMailboxFetchers({
          db: deps.db,
          clock: deps.clock,
          logger,
          intake: deps.intake,
          settings: {
            pollIntervalMs: config.MAILBOX_POLL_INTERVAL_MS,
            leaseSec: config.MAILBOX_LEASE_SEC,
            retryMinMs: config.MAILBOX_RETRY_MIN_MS,
            retryMaxMs: config.MAILBOX_RETRY_MAX_MS,
            bodyLimitBytes: config.EMAIL_BODY_LIMIT_BYTES,
            secretKey: config.MAILBOX_SECRET_KEY,
            allowPrivate: config.OUTBOUND_ALLOW_PRIVATE,
            allowHttp: config.OUTBOUND_ALLOW_HTTP,
            scanIntervalMs: config.MAILBOX_SCAN_INTERVAL_MS,
          },
        })
      : null;

  // Event webhooks (issue 15): a Postgres-driven delivery loop, not a queue (see webhook-pump.ts).
  const webhookPump = await startWebhookPump(deps);

  logger.info({ queues: workers.map((w) => w.name) }, 'workers started');
  return [
    ...(fetchers ? [{ name: 'mailbox-fetchers', close: () => fetchers.close() }] : []),
    {
      name: 'workers',
      async close() {
        clearInterval(watchdog);
        clearInterval(lossWatch);
        clearInterval(overdueWatch);
        // A recovery half done would go on writing to Redis and Postgres after we close them.
        await Promise.all([recovering, sweepingOverdue]);
        // Worker.close waits for the jobs in flight to finish (closeWorker: and for a blocking
        // connection between reconnect attempts, which BullMQ alone would wait on forever).
        await Promise.all([...workers.map((w) => closeWorker(w, logger)), webhookPump.close()]);
        notifications.close();
        connection.disconnect();
      },
    },
  ];
}
