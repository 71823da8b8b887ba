import type { Clock } from '../../../shared/clock.js';

/** Timer jobs count as flowing while one finished in this process at most this long ago. */
export const TIMER_FLOW_MS = 50;

/**
 * A deadline this far behind the flow's frontier (the latest due time of a timer job that
 * finished here) has lost its job: BullMQ hands out delayed jobs in due order, so its job
 * started before the later ones, whose batches have committed (a batch of the same moment may
 * still be in flight, hence the margin). A lost job among flowing ones (a flush that deletes
 * keys a batch at a time, eviction) is fired about this long after the jobs went past it.
 */
export const FRONTIER_PASSED_MS = 100;

/**
 * An overdue deadline further past than this means the jobs are not keeping up (more due a
 * second than the workers fire): the watch's sweeps join them, whatever the flow. Standing aside
 * then left the jobs alone behind a growing lag (1,000,000 clocks over 10 minutes with two
 * workers: median lateness 24 ms in the first tenth of the window, 9.6 s in the last).
 */
export const JOBS_BEHIND_MS = 150;

/**
 * What this process' SLA timer jobs are doing, for the overdue watch (workers/index.ts): it
 * matters only when jobs are missing (a wipe, eviction, a dead worker), and while the jobs are
 * flowing its sweeps would only go for the clocks the jobs are about to fire (the loser waits on
 * the winner's row locks: 1.3 sessions waiting on average against 0.4 without the watch, at
 * 100,000 clocks with two workers). So it stands aside while jobs flow, unless the jobs have
 * gone past the deadline it found (that one job was lost).
 */
export function createTimerFlow(clock: Clock, elapsedMs: () => number = () => performance.now()) {
  /** When the last job finished (elapsedMs: whether jobs flow is a matter of real time, whatever `clock` says). */
  let lastRun = Number.NEGATIVE_INFINITY;
  /** The latest due time (epoch ms of `clock`, as the deadlines in Postgres) among the jobs finished. */
  let frontier = Number.NEGATIVE_INFINITY;
  return {
    /** A warning or breach job due at `dueAt` has finished (fired its clock, or found it stale). */
    ran(dueAt: Date): void {
      lastRun = elapsedMs();
      frontier = Math.max(frontier, dueAt.getTime());
    },
    /** True when the overdue `deadline` is the jobs' to fire: they are flowing, keep up, and have not gone well past it. */
    leavesToJobs(deadline: Date): boolean {
      const due = deadline.getTime();
      return elapsedMs() - lastRun <= TIMER_FLOW_MS && frontier < due + FRONTIER_PASSED_MS && clock.now().getTime() - due <= JOBS_BEHIND_MS;
    },
  };
}

export type TimerFlow = ReturnType<typeof createTimerFlow>;
