import type { Queues } from '../../../queues/queues.js';
import type { Clock } from '../../../shared/clock.js';

export interface ClockTimer {
  clockId: string;
  generation: number;
  warnDueAt: Date | null;
  dueAt: Date | null;
  warnedAt: Date | null;
  breachedAt: Date | null;
}

/**
 * BullMQ job ids are deterministic per (clock, generation, kind): scheduling the same
 * deadline twice collapses into one job, and a rescheduled clock gets a new generation, so
 * its old jobs find a stale generation and do nothing. (Ids must not contain ':'.)
 */
export const timerJobId = (kind: 'warning' | 'breach', clockId: string, generation: number) => `${kind}-${clockId}-${generation}`;

export function createTimerScheduler(deps: { queues: Queues; clock: Clock }) {
  const { queues, clock } = deps;
  return {
    async schedule(timers: ClockTimer[]): Promise<void> {
      const now = clock.now().getTime();
      const jobs = timers.flatMap((t) => {
        const out: { name: 'warning' | 'breach'; data: { clockId: string; generation: number }; opts: { jobId: string; delay: number } }[] = [];
        if (t.warnDueAt && !t.warnedAt && (!t.dueAt || t.warnDueAt < t.dueAt)) {
          out.push({ name: 'warning', data: { clockId: t.clockId, generation: t.generation }, opts: { jobId: timerJobId('warning', t.clockId, t.generation), delay: Math.max(0, t.warnDueAt.getTime() - now) } });
        }
        if (t.dueAt && !t.breachedAt) {
          out.push({ name: 'breach', data: { clockId: t.clockId, generation: t.generation }, opts: { jobId: timerJobId('breach', t.clockId, t.generation), delay: Math.max(0, t.dueAt.getTime() - now) } });
        }
        return out;
      });
      if (jobs.length > 0) await queues.slaTimers.addBulk(jobs);
    },
  };
}

export type TimerScheduler = ReturnType<typeof createTimerScheduler>;
