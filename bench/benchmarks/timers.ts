import { spawn } from 'node:child_process';
import { Queue } from 'bullmq';
import { createWorkerRedis } from '../../src/queues/redis.js';
import type { Benchmark, BenchContext } from '../lib/bench.js';
import { notBuilt } from '../lib/report.js';
import { PROJECT_ROOT, track } from '../lib/service.js';
import { summarize } from '../lib/stats.js';

/** Due times spread over this window, per mode (the full run: 100,000 over 60 s). */
const WINDOW_MS = { quick: 10_000, full: 60_000 } as const;
/** Jobs are added in due order from LEAD_MS before the window: adding outruns the due times. */
const LEAD_MS = 2_000;
const ADD_BATCH = 2_000;
/** No-op jobs: the concurrency only has to keep up with ~1,700 jobs/s at the full size. */
const WORKER_CONCURRENCY = 50;
const QUEUE_NAME = 'bench-timers';

type WorkerMessage = { type: 'ready' } | { type: 'progress'; ran: number } | { type: 'result'; lateness: number[] };

/** The consumer in its own process (lib/timer-worker.ts), as the SLA engine runs in the service's. */
async function startTimerWorker(context: BenchContext) {
  const child = track(
    spawn(process.execPath, ['--import', 'tsx', 'bench/lib/timer-worker.ts'], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, REDIS_URL: context.env.redisUrl, QUEUE_PREFIX: context.env.queuePrefix, QUEUE_NAME, CONCURRENCY: String(WORKER_CONCURRENCY) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    }),
  );
  let ran = 0;
  let resolveResult: (lateness: number[]) => void = () => undefined;
  const result = new Promise<number[]>((resolve) => (resolveResult = resolve));
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the timer worker was not ready within 30 s')), 30_000);
    child.once('exit', (code) => reject(new Error(`the timer worker exited (${code})`)));
    child.on('message', (message: WorkerMessage) => {
      if (message.type === 'ready') {
        clearTimeout(timer);
        resolve();
      } else if (message.type === 'progress') ran = message.ran;
      else resolveResult(message.lateness);
    });
  });
  await ready;
  return {
    ran: () => ran,
    async stop(): Promise<number[]> {
      child.send({ type: 'stop' });
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('the timer worker did not report within 15 s')), 15_000)));
      try {
        return await Promise.race([result, timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/**
 * SLA timer precision. Baseline: BullMQ delayed no-op jobs with the same spread of due
 * times, consumed in a process of their own; lateness = when the worker ran the job minus
 * when it was due. Product (not built yet): N running SLA clocks due over the window,
 * lateness = breach recorded in Postgres minus due time.
 */
export const timers: Benchmark = {
  name: 'timers',
  description: 'SLA breach lateness vs. BullMQ delayed no-op jobs with the same due-time spread',
  sizeUnit: 'timers',
  sizes: { quick: 10_000, full: 100_000 },

  async run(context) {
    const windowMs = WINDOW_MS[context.mode];
    const n = context.size;
    const producer = createWorkerRedis(context.env.redisUrl);
    const queue = new Queue(QUEUE_NAME, { connection: producer, prefix: context.env.queuePrefix });
    try {
      const worker = await startTimerWorker(context);
      const start = Date.now() + LEAD_MS;
      const dues = Float64Array.from({ length: n }, () => start + Math.random() * windowMs).sort();
      context.log(`baseline: ${n} delayed jobs due over ${windowMs / 1000} s, worker concurrency ${WORKER_CONCURRENCY} in a child process`);
      let addedLate = 0;
      for (let from = 0; from < n && !context.signal.aborted; from += ADD_BATCH) {
        const now = Date.now();
        const batch = Array.from(dues.subarray(from, Math.min(n, from + ADD_BATCH)), (due, k) => {
          if (due < now) addedLate++;
          return { name: 'due', data: { due }, opts: { delay: Math.max(0, Math.round(due - now)), jobId: `t${from + k}`, removeOnComplete: true, removeOnFail: true } };
        });
        await queue.addBulk(batch);
      }
      context.log(`baseline: all jobs added ${((Date.now() - start) / 1000).toFixed(1)} s into the window`);

      // Bounded: the window, then 30 s for stragglers.
      const deadline = start + windowMs + 30_000;
      let lastLog = 0;
      while (worker.ran() < n && Date.now() < deadline && !context.signal.aborted) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        if (Date.now() - lastLog >= 5_000) {
          lastLog = Date.now();
          context.log(`baseline: ${worker.ran()}/${n} jobs ran`);
        }
      }
      const lateness = await worker.stop();
      const stats = summarize(lateness);
      context.details.baseline = { jobs: n, windowMs, ran: lateness.length, addedLate, lateness: stats };
      context.log(`baseline: lateness p50 ${stats.p50.toFixed(1)} ms, p99 ${stats.p99.toFixed(1)} ms, max ${stats.max.toFixed(0)} ms`);

      const problems = [
        ...(lateness.length < n ? [`only ${lateness.length}/${n} jobs ran within 30 s after the window`] : []),
        ...(addedLate > 0 ? [`${addedLate} jobs were added after their due time`] : []),
      ];
      const spread = `${n.toLocaleString('en-US')} timers due over ${windowMs / 1000} s`;
      const productNote = `SLA engine: ${spread} as running clocks; lateness = breach recorded in Postgres - due time`;
      return [
        notBuilt({ benchmark: 'timers', metric: 'lateness p50', unit: 'ms', baseline: stats.p50, note: [...problems, productNote].join('; ') }),
        notBuilt({ benchmark: 'timers', metric: 'lateness p99', unit: 'ms', baseline: stats.p99 }),
        notBuilt({ benchmark: 'timers', metric: 'lateness max', unit: 'ms', baseline: stats.max }),
        notBuilt({ benchmark: 'memory', metric: 'service peak RSS, SLA timers', unit: 'MB', target: { kind: 'below', value: 300, unit: 'MB' } }),
      ];
    } finally {
      await queue.obliterate({ force: true }).catch(() => undefined);
      await queue.close().catch(() => undefined);
      producer.disconnect();
    }
  },
};
