import { and, asc, eq, gt, ne, sql } from 'drizzle-orm';
import type { Redis } from 'ioredis';
import type { Dependencies } from '../dependencies.js';
import { escalationSchedule } from '../domain/sla/escalation.js';
import { breaches, commitments, slaClocks } from '../modules/sla/sla.table.js';
import { escalationJobId } from '../modules/sla/clocks/sla.service.js';

/**
 * Batches double from FIRST_BATCH up to BATCH: the nearest deadlines are back in Redis within
 * milliseconds, and each batch is added before the deadlines of the next one come due.
 */
const FIRST_BATCH = 100;
const BATCH = 1_000;

/**
 * Detects that Redis lost our jobs (FLUSHALL, a failover without persistence, a fresh
 * Redis) by a marker key that only we write, and then schedules every future deadline again
 * from Postgres. Deadlines already past are the reconciler's; deterministic job ids make a
 * needless reschedule harmless.
 */
export const redisMarkerKey = (prefix: string) => `${prefix}:sla:epoch`;

/** Cheap enough to ask often: has Redis lost our jobs since the marker was set? */
export async function redisLostOurJobs(deps: Dependencies, redis: Redis): Promise<boolean> {
  return (await redis.exists(redisMarkerKey(deps.config.QUEUE_PREFIX))) === 0;
}

/** Logged (warn) by each worker process that finds the marker missing, before it does anything about it. */
export const REDIS_LOSS_NOTICED = 'redis marker missing (redis lost our jobs, or is new): firing due deadlines from postgres while they are rescheduled';

/** While a deadline comes due this soon, the reschedule leaves the process half its time (see recoverFromRedisLoss). */
const GIVE_WAY_WITHIN_MS = 1_000;

/** While deadlines are being put back into Redis, the longest pause between two sweeps from Postgres. */
const RECOVERY_SWEEP_MS = 50;

/**
 * Lost jobs need not take the marker with them: a flush that is not atomic (keys deleted a batch
 * at a time, the marker among the last), eviction under maxmemory, a failover that lost the
 * last writes. A deadline this long past, on a clock still running, has lost its job or waits
 * behind a queue that is late: either way the overdue watch (workers/index.ts) fires it from
 * Postgres. Normal lateness through the timer jobs is a few ms (p50 5 ms in the full bench),
 * so the watch seldom fires what a job would have fired; when both do, one finds it stale.
 */
export const OVERDUE_GRACE_MS = 25;

/**
 * The earliest deadline (breach, or warning not sent yet) of a running clock that is more than
 * OVERDUE_GRACE_MS past and later than `after`, if any; cheap enough to ask every few tens of
 * milliseconds (firstDeadline).
 */
export function overdueDeadline(deps: Dependencies, after: Date): Promise<Date | null> {
  return firstDeadline(deps, after, new Date(deps.clock.now().getTime() - OVERDUE_GRACE_MS));
}

/**
 * The first deadline (breach, or warning not sent yet) of a running clock after `after` (and at
 * or before `upTo`, when given): two index-only lookups, the first entry of each partial index
 * of running clocks in the range.
 */
async function firstDeadline(deps: Dependencies, after: Date, upTo?: Date): Promise<Date | null> {
  const dueUpTo = upTo ? sql`and due_at <= ${upTo}` : sql``;
  const warnUpTo = upTo ? sql`and warn_due_at <= ${upTo}` : sql``;
  const { rows } = await deps.db.execute<{ first: string | null }>(sql`
    select least(
      (select min(due_at) from sla_clocks where state = 'running' and due_at > ${after} ${dueUpTo}),
      (select min(warn_due_at) from sla_clocks where state = 'running' and warned_at is null and warn_due_at > ${after} ${warnUpTo})
    ) as first`);
  const first = rows[0]?.first;
  return first ? new Date(first) : null;
}

/** The nearest deadline (breach or warning) still ahead of `now` among running clocks. */
const nextDeadline = (deps: Dependencies, now: Date) => firstDeadline(deps, now);

/**
 * Redis lost our jobs: reschedule every future deadline, and meanwhile fire what comes due
 * straight from Postgres. Putting tens of thousands of delayed jobs back keeps Redis busy for
 * seconds, during which the jobs it does hold run late (full bench: ~0.9 s p99 with 49k clocks
 * rescheduled); the sweeps do not wait for Redis. They are driven by the deadlines themselves:
 * after each sweep the process sleeps until the next clock comes due (at most
 * RECOVERY_SWEEP_MS), so a clock due during the recovery is fired a sweep's duration after its
 * deadline rather than up to a fixed polling interval later. True if this process did the
 * rescheduling.
 */
export async function recoverFromRedisLoss(deps: Dependencies, redis: Redis): Promise<boolean> {
  deps.logger.warn(REDIS_LOSS_NOTICED);
  let rescheduling = true;
  /** The next deadline the sweeps saw (epoch ms), null when none. */
  let nextDue: number | null = null;
  const sweeping = (async () => {
    while (rescheduling) {
      const fired = await deps.slaService.sweepDue();
      const now = deps.clock.now();
      const next = await nextDeadline(deps, now);
      // Only while the sweeps are firing: a start-up before any deadline runs at full speed.
      nextDue = fired.breaches + fired.warnings > 0 ? (next?.getTime() ?? null) : null;
      const waitMs = next ? Math.min(RECOVERY_SWEEP_MS, Math.max(0, next.getTime() - now.getTime())) : RECOVERY_SWEEP_MS;
      await new Promise((resolve) => setTimeout(resolve, waitMs));
    }
  })();
  // Putting jobs back costs this process' event loop ~60 us a job (BullMQ builds each
  // command): at full speed it keeps the loop saturated, and each round trip of a sweep waits
  // its turn (measured: clocks due in the first 500 ms of a recovery fired ~50 ms late, up to
  // 165 ms; full: clocks due 2-5 s after the wipe, during the 4.2 s reschedule, p99 490 ms).
  // While the sweeps are firing and the next deadline is within GIVE_WAY_WITHIN_MS, each batch
  // is followed by a pause as long as the batch took; otherwise (a start-up before any
  // deadline) it runs at full speed.
  const giveWay = async (batchMs: number) => {
    if (nextDue !== null && nextDue - deps.clock.now().getTime() < GIVE_WAY_WITHIN_MS) await new Promise((resolve) => setTimeout(resolve, batchMs));
  };
  try {
    return await rescheduleAfterRedisLoss(deps, redis, { giveWay });
  } finally {
    rescheduling = false;
    await sweeping;
  }
}

export async function rescheduleAfterRedisLoss(deps: Dependencies, redis: Redis, options: { giveWay?: (batchMs: number) => Promise<void> } = {}): Promise<boolean> {
  const marker = redisMarkerKey(deps.config.QUEUE_PREFIX);
  if ((await redis.set(marker, new Date().toISOString(), 'NX')) !== 'OK') return false;
  try {
    await rescheduleEverything(deps, options.giveWay);
  } catch (error) {
    // The marker says "our jobs are in Redis": left set after a half-done reschedule (Redis
    // went away again, or the producer connection is not back yet), it would stop every
    // process from retrying. Cleared, the next loss check (REDIS_LOSS_CHECK_MS) starts over.
    await redis.del(marker).catch(() => undefined);
    throw error;
  }
  return true;
}

async function rescheduleEverything(deps: Dependencies, giveWay?: (batchMs: number) => Promise<void>): Promise<void> {
  const now = deps.clock.now();
  let clocks = 0;
  let batch = FIRST_BATCH;
  // Nearest deadlines first (keyset over due time, then id): the clocks due during the
  // recovery itself get their jobs before those due in an hour.
  let after: { dueAt: Date; id: string } = { dueAt: now, id: 'ffffffff-ffff-ffff-ffff-ffffffffffff' };
  for (;;) {
    const started = performance.now();
    const rows = await deps.db
      .select({ id: slaClocks.id, generation: slaClocks.generation, dueAt: slaClocks.dueAt, warnDueAt: slaClocks.warnDueAt, warnedAt: slaClocks.warnedAt, breachedAt: slaClocks.breachedAt })
      .from(slaClocks)
      .where(and(eq(slaClocks.state, 'running'), sql`(${slaClocks.dueAt}, ${slaClocks.id}) > (${after.dueAt}, ${after.id}::uuid)`))
      .orderBy(asc(slaClocks.dueAt), asc(slaClocks.id))
      .limit(batch);
    if (rows.length === 0) break;
    await deps.timers.schedule(rows.map((r) => ({ clockId: r.id, ...r })));
    clocks += rows.length;
    batch = Math.min(BATCH, batch * 2);
    const last = rows[rows.length - 1]!;
    after = { dueAt: last.dueAt!, id: last.id };
    await giveWay?.(performance.now() - started);
  }
  const { byId } = await deps.policies.get();
  const open = await deps.db.select().from(breaches).where(and(ne(breaches.state, 'resolved'), sql`${breaches.policyId} is not null`));
  const escalations = open.flatMap((b) => {
    const policy = byId.get(b.policyId!);
    return (policy ? escalationSchedule(policy, b.breachedAt) : [])
      .filter((s) => s.level > b.escalationLevel && s.dueAt > now)
      .map((s) => ({ name: 'escalate' as const, data: { breachId: b.id, level: s.level }, opts: { jobId: escalationJobId(b.id, s.level), delay: s.dueAt.getTime() - now.getTime() } }));
  });
  if (escalations.length) await deps.queues.slaEscalations.addBulk(escalations);
  const openCommitments = await deps.db.select().from(commitments).where(and(eq(commitments.state, 'open'), gt(commitments.dueAt, now)));
  for (const c of openCommitments) await deps.commitments.schedule(c);
  const rescheduled = { clocks, escalations: escalations.length, commitments: openCommitments.length };
  // A fresh Redis (first start, a new prefix) is normal; rescheduled deadlines are worth a warning.
  if (clocks + escalations.length + openCommitments.length > 0) deps.logger.warn(rescheduled, 'redis had lost our jobs: deadlines rescheduled from postgres');
  else deps.logger.info('redis marker set: no deadlines needed rescheduling');
}
