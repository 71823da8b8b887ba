import { and, desc, eq, gt, inArray, ne, sql } from 'drizzle-orm';
import type { Redis } from 'ioredis';
import type { Dependencies } from '../dependencies.js';
import { escalationSchedule } from '../domain/sla/escalation.js';
import { breaches, commitments, slaClocks } from '../modules/sla/sla.table.js';
import { escalationJobId } from '../modules/sla/clocks/sla.service.js';

/**
 * Clocks per batch of the reschedule. BullMQ builds a batch's commands in one go (~60 us of
 * event loop per job), during which nothing else of the process runs: 250 keep that under
 * ~15 ms, so the sweeps that fire what comes due meanwhile are not held up for long.
 */
const BATCH = 250;

/**
 * During a recovery the reschedule leaves to the sweeps every deadline due up to this long
 * after the moment it reaches it (see rescheduleEverything): enough for the batch that
 * reaches the cutoff to be in Redis before the first deadline it holds.
 */
const LEAVE_TO_SWEEPS_MS = 1_000;

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

/** While a deadline comes due this soon and the sweeps are firing, the reschedule takes turns with them (see recoverFromRedisLoss). */
const GIVE_WAY_WITHIN_MS = 1_000;

/** While deadlines are being put back into Redis, the longest pause between two sweeps from Postgres. */
const RECOVERY_SWEEP_MS = 50;

/**
 * Lost jobs need not take the marker with them: a flush that is not atomic (keys deleted a batch
 * at a time, the marker among the last), eviction under maxmemory, a failover that lost the
 * last writes. A deadline this long past, on a clock still running, has lost its job or waits
 * behind a queue that is late: the overdue watch (workers/index.ts) fires it from Postgres,
 * unless this process' timer jobs are flowing and have not gone past it (a late queue, whose
 * jobs the watch would only race: modules/sla/clocks/timer-flow.ts). When both fire a clock,
 * one finds it stale.
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
 * straight from Postgres. Putting tens of thousands of delayed jobs back keeps this process
 * busy for seconds (BullMQ: ~60 us of event loop per job); a job put back for a deadline that
 * comes due before the reschedule is over would only race the sweeps for the same clock (the
 * loser's transaction waits on the winner's row locks, then finds it stale). So the reschedule
 * goes farthest first and leaves to the sweeps every deadline due before it gets there
 * (rescheduleEverything), and the sweeps go on until the last of those has passed.
 * The sweeps are driven by the deadlines themselves: after each sweep the process sleeps until
 * the next clock comes due (at most RECOVERY_SWEEP_MS), so a clock due during the recovery is
 * fired a sweep's duration after its deadline rather than up to a fixed polling interval later.
 * True if this process did the rescheduling.
 */
export async function recoverFromRedisLoss(deps: Dependencies, redis: Redis): Promise<boolean> {
  deps.logger.warn(REDIS_LOSS_NOTICED);
  let rescheduling = true;
  /** Deadlines up to this instant (epoch ms) have no job: the sweeps fire them. */
  let sweptUpTo = 0;
  /** Once the reschedule is over: until when (performance.now()) the sweeps go on. */
  let sweepUntil = 0;
  /** The sweep in progress (settled while the loop sleeps between two). */
  let sweep: Promise<void> = Promise.resolve();
  /**
   * The sweeps are firing and more is due within GIVE_WAY_WITHIN_MS. True until the first sweep
   * says otherwise: a recovery after a wipe starts with what came due before it was noticed.
   */
  let firing = true;
  const sweeping = (async () => {
    while (rescheduling || performance.now() < sweepUntil) {
      let settle = () => {};
      sweep = new Promise<void>((resolve) => (settle = resolve));
      let waitMs = RECOVERY_SWEEP_MS;
      try {
        const fired = await deps.slaService.sweepDue();
        const now = deps.clock.now();
        const next = await nextDeadline(deps, now);
        const untilNext = next ? next.getTime() - now.getTime() : null;
        firing = fired.breaches + fired.warnings > 0 && untilNext !== null && untilNext < GIVE_WAY_WITHIN_MS;
        if (untilNext !== null) waitMs = Math.min(RECOVERY_SWEEP_MS, Math.max(0, untilNext));
      } finally {
        settle();
      }
      await new Promise((resolve) => setTimeout(resolve, waitMs));
    }
  })();
  // Putting a batch back holds this process' event loop (BullMQ builds every command first):
  // while the sweeps are firing, each batch waits for the sweep in progress to finish, so the
  // two take turns and a sweep waits behind one batch at most (measured before: clocks due
  // while the reschedule ran at full speed fired 0.5-1 s late). Otherwise (a start-up before any
  // deadline) it runs at full speed.
  const giveWay = async () => {
    if (firing) await sweep;
  };
  try {
    const rescheduled = await rescheduleAfterRedisLoss(deps, redis, { giveWay, leaveToSweeps: (upTo) => (sweptUpTo = upTo.getTime()) });
    // Deadlines left to the sweeps that are still ahead: the sweeps go on until the last of
    // them is due (measured on this process' timer, so a clock that tests move by hand cannot
    // keep it going), then one more fires it.
    if (rescheduled && (await firstDeadline(deps, new Date(0), new Date(sweptUpTo)))) {
      sweepUntil = performance.now() + Math.max(0, sweptUpTo - deps.clock.now().getTime());
    }
    return rescheduled;
  } finally {
    rescheduling = false;
    await sweeping;
    if (sweepUntil > 0) await deps.slaService.sweepDue();
  }
}

export interface RescheduleOptions {
  /** Awaited after each batch. */
  giveWay?: () => Promise<void>;
  /**
   * Given, the caller sweeps: deadlines due up to the instant passed (the last call) get no job,
   * and the caller fires them from Postgres once due. Not given, every future deadline gets one.
   */
  leaveToSweeps?: (upTo: Date) => void;
}

export async function rescheduleAfterRedisLoss(deps: Dependencies, redis: Redis, options: RescheduleOptions = {}): Promise<boolean> {
  const marker = redisMarkerKey(deps.config.QUEUE_PREFIX);
  if ((await redis.set(marker, new Date().toISOString(), 'NX')) !== 'OK') return false;
  try {
    await rescheduleEverything(deps, options);
  } catch (error) {
    // The marker says "our jobs are in Redis": left set after a half-done reschedule (Redis
    // went away again, or the producer connection is not back yet), it would stop every
    // process from retrying. Cleared, the next loss check (REDIS_LOSS_CHECK_MS) starts over.
    await redis.del(marker).catch(() => undefined);
    throw error;
  }
  return true;
}

/** A running clock's deadlines as the reschedule reads them (typed: the keyset loop refers to its own rows). */
type ClockTimerRow = { id: string; generation: number; dueAt: Date | null; warnDueAt: Date | null; warnedAt: Date | null; breachedAt: Date | null };

/**
 * Every running clock's deadlines back into Redis, farthest first (keyset over due time, then
 * id, descending), down to the cutoff: now, or with `leaveToSweeps` now + LEAVE_TO_SWEEPS_MS as
 * of each batch, so the walk down and the time going up meet and nothing due before the
 * reschedule ends gets a job (the full bench's wipe: ~50,000 clocks, 4-7 s of reschedule, during
 * which ~1,700 clocks a second come due). A clock due past the cutoff whose warning is due
 * before it gets both jobs (the warning's runs at once if due); the sweeps may fire it first,
 * and the job then finds it stale.
 */
async function rescheduleEverything(deps: Dependencies, options: RescheduleOptions): Promise<void> {
  const { giveWay, leaveToSweeps } = options;
  const now = deps.clock.now();
  let clocks = 0;
  let before: { dueAt: Date; id: string } | null = null;
  for (;;) {
    const cutoff = leaveToSweeps ? new Date(deps.clock.now().getTime() + LEAVE_TO_SWEEPS_MS) : now;
    leaveToSweeps?.(cutoff);
    const rows: ClockTimerRow[] = await deps.db
      .select({ id: slaClocks.id, generation: slaClocks.generation, dueAt: slaClocks.dueAt, warnDueAt: slaClocks.warnDueAt, warnedAt: slaClocks.warnedAt, breachedAt: slaClocks.breachedAt })
      .from(slaClocks)
      .where(and(eq(slaClocks.state, 'running'), gt(slaClocks.dueAt, cutoff), before ? sql`(${slaClocks.dueAt}, ${slaClocks.id}) < (${before.dueAt}, ${before.id}::uuid)` : undefined))
      .orderBy(desc(slaClocks.dueAt), desc(slaClocks.id))
      .limit(BATCH);
    if (rows.length === 0) break;
    await deps.timers.schedule(rows.map((r) => ({ clockId: r.id, ...r })));
    clocks += rows.length;
    const last = rows[rows.length - 1]!;
    before = { dueAt: last.dueAt!, id: last.id };
    if (rows.length < BATCH) break;
    await giveWay?.();
  }
  // Escalations still ahead: only breaches under a policy with levels, recent enough for a level
  // to be ahead, and only the columns needed. (All open breaches, every column, was ~75,000 rows
  // in the full bench's wipe, under a policy without levels: reading them held the event loop
  // for ~0.6 s at the end of the reschedule, and the sweeps with it.)
  // Delays from now, not from the reschedule's start (seconds ago for a large one).
  const at = deps.clock.now();
  const { byId } = await deps.policies.get();
  const escalating = [...byId.values()].filter((p) => p.escalation.length > 0);
  const longestSec = Math.max(0, ...escalating.flatMap((p) => p.escalation.map((level) => level.afterSec)));
  const open =
    escalating.length === 0
      ? []
      : await deps.db
          .select({ id: breaches.id, policyId: breaches.policyId, breachedAt: breaches.breachedAt, escalationLevel: breaches.escalationLevel })
          .from(breaches)
          .where(
            and(
              ne(breaches.state, 'resolved'),
              inArray(breaches.policyId, escalating.map((p) => p.id)),
              gt(breaches.breachedAt, new Date(at.getTime() - longestSec * 1000)),
            ),
          );
  const escalations = open.flatMap((b) => {
    const policy = byId.get(b.policyId!);
    return (policy ? escalationSchedule(policy, b.breachedAt) : [])
      .filter((s) => s.level > b.escalationLevel && s.dueAt > at)
      .map((s) => ({ name: 'escalate' as const, data: { breachId: b.id, level: s.level }, opts: { jobId: escalationJobId(b.id, s.level), delay: s.dueAt.getTime() - at.getTime() } }));
  });
  if (escalations.length) await deps.queues.slaEscalations.addBulk(escalations);
  const openCommitments = await deps.db.select().from(commitments).where(and(eq(commitments.state, 'open'), gt(commitments.dueAt, at)));
  for (const c of openCommitments) await deps.commitments.schedule(c);
  const rescheduled = { clocks, escalations: escalations.length, commitments: openCommitments.length };
  // A fresh Redis (first start, a new prefix) is normal; rescheduled deadlines are worth a warning.
  if (clocks + escalations.length + openCommitments.length > 0) deps.logger.warn(rescheduled, 'redis had lost our jobs: deadlines rescheduled from postgres');
  else deps.logger.info('redis marker set: no deadlines needed rescheduling');
}
