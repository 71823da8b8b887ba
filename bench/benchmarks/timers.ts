import { spawn } from 'node:child_process';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import pg from 'pg';
import { createWorkerRedis } from '../../src/queues/redis.js';
import type { Benchmark, BenchContext } from '../lib/bench.js';
import { startObserver, type ObserverReport } from '../lib/observe.js';
import { measured, unmeasured, type Row } from '../lib/report.js';
import { PROJECT_ROOT, track, type MemoryReport, type RunningService } from '../lib/service.js';
import { ensureBenchPolicy, seedTimerClocks, seedTimerTickets } from '../lib/sla-seed.js';
import { detectionsLogged, logSize, recoveryMarkerKey, waitForRecovery, wipePrefix } from '../lib/sla-redis.js';
import { summarize, type Stats } from '../lib/stats.js';
import { startWorker } from './scale.js';
import { QUEUE_DEFS } from '../../src/queues/queues.js';

/** Due times spread over this window, per mode (the issue's full run: 100,000 over 60 s). */
const WINDOW_MS = { quick: 10_000, full: 60_000 } as const;
/** The mode's default sizes (also the benchmark's `sizes`). */
const SIZES = { quick: 10_000, full: 100_000 } as const;
/**
 * A --size above the mode's keeps the mode's rate (full: ~1,667 clocks/s), so the window, the
 * lead before it and the recovery's work grow with it: `--size timers=1000000` in a full run
 * is the issue's 1,000,000 clocks due over 10 minutes.
 */
const scaleOf = (context: BenchContext) => Math.max(1, context.size / SIZES[context.mode]);
const windowOf = (context: BenchContext) => Math.round(WINDOW_MS[context.mode] * scaleOf(context));
/**
 * Worker processes that fire the clocks: the service (ROLE=all) and BENCH_TIMERS_WORKERS - 1
 * more ROLE=worker processes on the same database and Redis prefix (default 1). With
 * BENCH_TIMERS_WIPE=0 the run with the wipe is skipped (a 1,000,000-clock run takes long enough).
 */
const WORKER_PROCESSES = Math.max(1, Number(process.env.BENCH_TIMERS_WORKERS ?? 1) || 1);
const WITH_WIPE = process.env.BENCH_TIMERS_WIPE !== '0';

/**
 * Redis memory of a queue's delayed jobs, from a sample: MEMORY USAGE of up to 2,000 job hashes
 * (the first ones of the delayed set) times the delayed count, plus the delayed set itself
 * (counted whole). Bytes per delayed job; null when the set is empty.
 */
async function delayedJobMemory(redis: Redis, queuePrefix: string, queueName: string): Promise<{ jobs: number; bytesPerJob: number; totalMb: number } | null> {
  const base = `${queuePrefix}:${queueName}`;
  const jobs = await redis.zcard(`${base}:delayed`);
  if (jobs === 0) return null;
  const ids = await redis.zrange(`${base}:delayed`, 0, 1_999);
  const pipeline = redis.pipeline();
  for (const id of ids) pipeline.memory('USAGE', `${base}:${id}`);
  const sizes = ((await pipeline.exec()) ?? []).map(([, bytes]) => Number(bytes ?? 0)).filter((b) => b > 0);
  const perHash = sizes.reduce((sum, b) => sum + b, 0) / Math.max(1, sizes.length);
  const set = Number((await redis.memory('USAGE', `${base}:delayed`, 'SAMPLES', 0)) ?? 0);
  const total = jobs * perHash + set;
  return { jobs, bytesPerJob: total / jobs, totalMb: total / 1024 / 1024 };
}
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

interface BaselineResult {
  stats: Stats;
  problems: string[];
  memory: { jobs: number; bytesPerJob: number; totalMb: number } | null;
}

/** BullMQ delayed no-op jobs over the window, consumed by lib/timer-worker.ts. */
async function runBaseline(context: BenchContext, windowMs: number, n: number): Promise<BaselineResult> {
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
    const memory = await delayedJobMemory(producer, context.env.queuePrefix, QUEUE_NAME).catch(() => null);
    if (memory) context.log(`baseline: Redis memory ${memory.bytesPerJob.toFixed(0)} bytes per delayed job (${memory.jobs} delayed, ${memory.totalMb.toFixed(1)} MB)`);

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
    context.details.baseline = { jobs: n, windowMs, ran: lateness.length, addedLate, lateness: stats, redisMemory: memory };
    context.log(`baseline: lateness p50 ${stats.p50.toFixed(1)} ms, p99 ${stats.p99.toFixed(1)} ms, max ${stats.max.toFixed(0)} ms`);
    const problems = [
      ...(lateness.length < n ? [`baseline: only ${lateness.length}/${n} jobs ran within 30 s after the window`] : []),
      ...(addedLate > 0 ? [`baseline: ${addedLate} jobs were added after their due time`] : []),
    ];
    return { stats, problems, memory };
  } finally {
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close().catch(() => undefined);
    producer.disconnect();
  }
}

/**
 * The service's settings for this benchmark (env only; the product is not changed). The
 * reconciler sweeps every second instead of every 5 s: after a Redis loss it is what catches
 * clocks that came due before the recovery put their jobs back.
 */
const SERVICE_ENV: Record<string, string> = {
  SLA_RECONCILE_INTERVAL_MS: '1000',
  ...(process.env.BENCH_TIMERS_ENV ? (JSON.parse(process.env.BENCH_TIMERS_ENV) as Record<string, string>) : {}),
};
/**
 * From the end of seeding to the first due time: the marker is deleted, the next reconcile
 * tick (<= 1 s) notices it and the recovery schedules every clock (measured: ~1 s per
 * 10,000 clocks on this machine); the run checks that it finished before the window began.
 */
const PRODUCT_LEAD_MS = { quick: 3_000, full: 20_000 } as const;
/** After the window, how long stragglers may take before the run is cut (and says so). */
const PRODUCT_GRACE_MS = { quick: 5_000, full: 15_000 } as const;

interface ProductRun {
  label: 'clean' | 'wipe';
  clocks: number;
  windowStart: number;
  windowMs: number;
  seeding: { ticketsSec: number; clocksSec: number; marginMs: number };
  recovery: { finishedMsBeforeWindow: number | null; clocks: number | null };
  /** The SLA timer jobs in Redis once the recovery scheduled them, before the window. */
  redisMemory: { jobs: number; bytesPerJob: number; totalMb: number } | null;
  workerProcesses: number;
  wipe?: {
    at: number;
    atSec: number;
    tookMs: number;
    keysDeleted: number;
    logOffsets: number[];
    /** When the service logged that Redis lost its jobs, after the wipe began. */
    detectedAfterMs?: number | null;
    recoveredAfterMs: number | null;
    recoveredClocks: number | null;
    /** Lateness of the clocks due after the wipe, by how long after it they came due. */
    byDueAfterWipe?: { fromMs: number; toMs: number; count: number; p50: number; p99: number; max: number }[];
  };
  /**
   * Over every clock of the run; a clock not breached when the wait ended counts as (end of
   * the wait - due time), so with `censored` > 0 the percentiles are lower bounds.
   */
  lateness: Stats;
  /** Wipe run: clocks due after the wipe began. */
  latenessAfterWipe?: Stats;
  censored: number;
  censoredAfterWipe?: number;
  /** Median lateness per tenth of the window (due order): growing = the engine falls behind. */
  p50ByTenth: number[];
  missing: number;
  duplicated: number;
  breachEvents: number;
  breachesPerSec: number;
  timedOut: boolean;
  observer: ObserverReport;
  problems: string[];
}

/**
 * One product run on the running service: `n` tickets with one running clock each, due over
 * the window, seeded in SQL; the recovery marker is deleted so the worker schedules them from
 * Postgres (as on a start against a fresh Redis); then wait until every clock has breached (or
 * the grace period ends) and read lateness = breached_at - due_at from the breaches. With
 * `wipe`, every key of the prefix is deleted half-way through the window.
 */
async function productRun(
  context: BenchContext,
  setup: { pool: pg.Pool; redis: Redis; service: RunningService; policyId: string; database: string; workerLogs: string[] },
  label: 'clean' | 'wipe',
): Promise<ProductRun> {
  const { pool, redis, service } = setup;
  const n = context.size;
  const windowMs = windowOf(context);
  const problems: string[] = [];
  const tag = `timers-${label}`;

  const ticketsSec = await seedTimerTickets(pool, { n, tag });
  const windowStart = Date.now() + Math.round(PRODUCT_LEAD_MS[context.mode] * scaleOf(context));
  const { clocks, seconds: clocksSec } = await seedTimerClocks(pool, { tag, policyId: setup.policyId, windowStart, windowMs });
  const logs = [service.logFile, ...setup.workerLogs];
  const offsets = logs.map((file) => logSize(file));
  await redis.del(recoveryMarkerKey(context.env.queuePrefix));
  const marginMs = windowStart - Date.now();
  context.log(`${label}: seeded ${n} tickets (${ticketsSec.toFixed(1)} s) and ${clocks} running clocks (${clocksSec.toFixed(1)} s); marker deleted ${(marginMs / 1000).toFixed(1)} s before the window`);

  // Whichever worker process sets the marker again does the reschedule and logs it.
  const recovered = await Promise.race(logs.map((file, i) => waitForRecovery(file, offsets[i]!, windowStart + windowMs, context.signal)));
  const redisMemory = recovered ? await delayedJobMemory(redis, context.env.queuePrefix, QUEUE_DEFS.slaTimers.name).catch(() => null) : null;
  if (redisMemory) context.log(`${label}: Redis memory ${redisMemory.bytesPerJob.toFixed(0)} bytes per delayed timer job (${redisMemory.jobs} delayed, ${redisMemory.totalMb.toFixed(1)} MB)`);
  const recovery = { finishedMsBeforeWindow: recovered ? windowStart - recovered.at : null, clocks: recovered?.clocks ?? null };
  if (!recovered) problems.push(`${label}: the recovery did not log its reschedule before the window ended`);
  else {
    context.log(`${label}: recovery rescheduled ${recovered.clocks} clocks, ${((windowStart - recovered.at) / 1000).toFixed(1)} s before the window`);
    if (recovered.at > windowStart) problems.push(`${label}: the recovery finished ${recovered.at - windowStart} ms into the window (raise PRODUCT_LEAD_MS)`);
    if (recovered.clocks !== n) problems.push(`${label}: the recovery rescheduled ${recovered.clocks} clocks, not ${n}`);
  }

  const observer = await startObserver({ pool, database: setup.database, servicePid: service.pid, redis });
  let wipe: ProductRun['wipe'];
  let wiping: Promise<void> | undefined;
  let wipeTimer: NodeJS.Timeout | undefined;
  if (label === 'wipe') {
    wiping = new Promise<void>((resolve) => {
      wipeTimer = setTimeout(
        () =>
          void (async () => {
            const at = Date.now();
            const wipeOffsets = logs.map((file) => logSize(file));
            const keysDeleted = await wipePrefix(redis, context.env.queuePrefix);
            wipe = { at, atSec: (at - windowStart) / 1000, tookMs: Date.now() - at, keysDeleted, logOffsets: wipeOffsets, recoveredAfterMs: null, recoveredClocks: null };
            context.log(`wipe: deleted ${keysDeleted} keys of ${context.env.queuePrefix} in ${wipe.tookMs} ms, ${wipe.atSec.toFixed(1)} s into the window`);
            const again = await Promise.race(logs.map((file, i) => waitForRecovery(file, wipeOffsets[i]!, windowStart + windowMs + PRODUCT_GRACE_MS[context.mode], context.signal)));
            if (again) {
              wipe.recoveredAfterMs = again.at - at;
              wipe.recoveredClocks = again.clocks;
              context.log(`wipe: recovery rescheduled ${again.clocks} clocks ${again.at - at} ms after the wipe`);
            }
            resolve();
          })().catch(() => resolve()),
        Math.max(0, windowStart + windowMs / 2 - Date.now()),
      );
    });
  }

  // Until no clock of the run is running (the partial index on running clocks makes this cheap).
  const windowEnd = windowStart + windowMs;
  const deadline = windowEnd + PRODUCT_GRACE_MS[context.mode];
  let running = n;
  let lastLog = 0;
  while (Date.now() < deadline && !context.signal.aborted) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    if (Date.now() < windowEnd) {
      if (Date.now() - lastLog >= 5_000) {
        lastLog = Date.now();
        const { rows } = await pool.query<{ n: number }>(`select count(*)::int as n from sla_clocks where state = 'running' and due_at >= $1 and due_at <= $2`, [new Date(windowStart), new Date(windowEnd)]);
        context.log(`${label}: ${n - rows[0]!.n}/${n} clocks breached`);
      }
      continue;
    }
    const { rows } = await pool.query<{ n: number }>(`select count(*)::int as n from sla_clocks where state = 'running' and due_at >= $1 and due_at <= $2`, [new Date(windowStart), new Date(windowEnd)]);
    running = rows[0]!.n;
    if (running === 0) break;
    if (Date.now() - lastLog >= 5_000) {
      lastLog = Date.now();
      context.log(`${label}: ${n - running}/${n} clocks breached, ${((Date.now() - windowEnd) / 1000).toFixed(0)} s after the window`);
    }
  }
  const timedOut = running > 0;
  const waitEnded = Date.now();
  clearTimeout(wipeTimer);
  if (wiping && wipe) await wiping;
  const observed = await observer.stop();
  if (label === 'wipe' && !wipe) problems.push('wipe: the window ended before the wipe ran');

  const { rows } = await pool.query<{ n: number; late: number | null; due: number; breached: number | null }>(
    `select count(b.id)::int as n, min(extract(epoch from b.breached_at - b.due_at) * 1000)::float8 as late,
            (extract(epoch from c.due_at) * 1000)::float8 as due, (extract(epoch from min(b.breached_at)) * 1000)::float8 as breached
       from sla_clocks c join tickets t on t.id = c.ticket_id left join breaches b on b.clock_id = c.id
      where t.tags @> array[$1]
      group by c.id, c.due_at`,
    [tag],
  );
  const { rows: events } = await pool.query<{ n: number }>(
    `select count(*)::int as n from ticket_events e join tickets t on t.id = e.ticket_id where e.type = 'sla_breached' and t.tags @> array[$1]`,
    [tag],
  );
  rows.sort((x, y) => x.due - y.due);
  // The service goes on breaching while these rows are read: a breach recorded after the wait
  // ended counts as missing, like one not recorded at all, and every such clock as at least
  // (end of the wait - due) late, a lower bound. Duplicates count whenever they happened.
  const inTime = (r: (typeof rows)[number]) => r.n > 0 && r.breached !== null && r.breached <= waitEnded;
  for (const r of rows) if (!inTime(r)) r.late = waitEnded - r.due;
  const late = rows.map((r) => r.late!);
  const missing = rows.filter((r) => !inTime(r)).length;
  const duplicated = rows.filter((r) => r.n > 1).length;
  const breachedAt = rows.flatMap((r) => (inTime(r) ? [r.breached!] : []));
  // Not Math.max(...breachedAt): a million arguments overflow the stack.
  const span = (breachedAt.reduce((a, b) => Math.max(a, b), -Infinity) - breachedAt.reduce((a, b) => Math.min(a, b), Infinity)) / 1000;
  const p50ByTenth = Array.from({ length: 10 }, (_, k) => {
    const part = rows.slice(Math.floor((k * rows.length) / 10), Math.floor(((k + 1) * rows.length) / 10)).map((r) => r.late!);
    return Math.round(summarize(part).p50);
  });
  const afterWipe = wipe ? rows.filter((r) => r.due > wipe!.at) : [];
  const latenessAfterWipe = wipe ? summarize(afterWipe.map((r) => r.late!)) : undefined;
  if (wipe) {
    // Where the lateness after the wipe comes from: when the service noticed (its warning),
    // and the lateness of the clocks by how long after the wipe they came due.
    const noticed = logs.flatMap((file, i) => detectionsLogged(file, wipe!.logOffsets[i]!).slice(0, 1).map((d) => d.at));
    wipe.detectedAfterMs = noticed.length > 0 ? Math.min(...noticed) - wipe.at : null;
    const edges = [0, 100, 250, 500, 1_000, 2_000, 5_000, 10_000, 20_000, Infinity];
    wipe.byDueAfterWipe = edges.slice(0, -1).map((from, k) => {
      const part = afterWipe.filter((r) => r.due - wipe!.at >= from && r.due - wipe!.at < edges[k + 1]!).map((r) => r.late!);
      const s = summarize(part);
      return { fromMs: from, toMs: edges[k + 1]!, count: s.count, p50: s.p50, p99: s.p99, max: s.max };
    });
    // Finer, for a profile: p99 by half-second of due time over the first 15 s after the wipe.
    const halves = Array.from({ length: 30 }, (_, k) => summarize(afterWipe.filter((r) => r.due - wipe!.at >= k * 500 && r.due - wipe!.at < (k + 1) * 500).map((r) => r.late!)).p99);
    context.log(`wipe: p99 lateness (ms) by half-second of due time after the wipe, 0-15 s: ${halves.map((p) => p.toFixed(0)).join(' ')}`);
    context.log(
      `wipe: took ${wipe.tookMs} ms, noticed by the service ${wipe.detectedAfterMs ?? '?'} ms after it began, recovery logged ${wipe.recoveredAfterMs ?? '?'} ms after; lateness by due time after the wipe: ` +
        wipe.byDueAfterWipe.map((b) => `${b.fromMs}-${b.toMs === Infinity ? '' : b.toMs} ms: ${b.count} clocks p50 ${b.p50.toFixed(0)} p99 ${b.p99.toFixed(0)} max ${b.max.toFixed(0)}`).join('; '),
    );
  }
  if (missing > 0) {
    problems.push(
      `${label}: ${missing} clocks not breached ${PRODUCT_GRACE_MS[context.mode] / 1000} s after the window (still running, not lost: overdue, so the workers or the reconciler take them); ` +
        `their lateness counts as (end of the wait - due), so the percentiles are lower bounds`,
    );
  }
  if (rows.length !== n) problems.push(`${label}: ${rows.length} clocks found, ${n} seeded`);

  const result: ProductRun = {
    label,
    clocks: rows.length,
    windowStart,
    windowMs,
    seeding: { ticketsSec, clocksSec, marginMs },
    recovery,
    redisMemory,
    workerProcesses: 1 + setup.workerLogs.length,
    ...(wipe ? { wipe } : {}),
    lateness: summarize(late),
    ...(latenessAfterWipe ? { latenessAfterWipe, censoredAfterWipe: afterWipe.filter((r) => !inTime(r)).length } : {}),
    censored: missing,
    p50ByTenth,
    missing,
    duplicated,
    breachEvents: events[0]!.n,
    breachesPerSec: breachedAt.length / Math.max(1e-3, span),
    timedOut,
    observer: observed,
    problems,
  };
  const stats = latenessAfterWipe ?? result.lateness;
  context.log(
    `${label}: lateness${wipe ? ' (due after the wipe)' : ''} p50 ${stats.p50.toFixed(0)} ms, p99 ${stats.p99.toFixed(0)} ms, max ${stats.max.toFixed(0)} ms; ` +
      `${missing} missing, ${duplicated} duplicated; ${result.breachesPerSec.toFixed(0)} breaches/s; median lateness by tenth of the window: ${p50ByTenth.join(' ')} ms`,
  );
  context.log(`${label}: ${observed.summary}`);
  return result;
}

/**
 * One product run on a service and database of its own: the Redis prefix is wiped first (so
 * nothing left by earlier runs, such as a backlog of timer jobs, competes with it), the bench
 * policy is inserted before the service starts (so it installs no default policies), and the
 * service is stopped at the end, which also ends any backlog the run left.
 */
async function isolatedRun(context: BenchContext, redis: Redis, label: 'clean' | 'wipe'): Promise<{ run: ProductRun; memory: MemoryReport }> {
  const database = await context.env.createDatabase(`timers_${label}`);
  const pool = new pg.Pool({ connectionString: database.url, max: 3, application_name: 'bench' });
  pool.on('error', () => undefined);
  let service: RunningService | undefined;
  const workers: Awaited<ReturnType<typeof startWorker>>[] = [];
  try {
    await wipePrefix(redis, context.env.queuePrefix);
    const policyId = await ensureBenchPolicy(pool);
    service = await context.startService({ label: `timers-${label}`, databaseUrl: database.url, env: SERVICE_ENV });
    for (let i = 1; i < WORKER_PROCESSES; i++) workers.push(await startWorker(context, `timers-${label}-worker${i + 1}`, database.url));
    if (workers.length > 0) context.log(`${label}: the service and ${workers.length} more worker process(es) fire the clocks`);
    const run = await productRun(context, { pool, redis, service, policyId, database: database.name, workerLogs: workers.map((w) => w.logFile) }, label);
    await Promise.all(workers.map((w) => w.stop()));
    const memory = await service.stop();
    context.log(`${label}: service peak RSS ${memory.peakRssMb.toFixed(0)} MB (idle ${memory.idleRssMb.toFixed(0)} MB)`);
    return { run, memory };
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
    await service?.stop();
    await pool.end();
  }
}

/**
 * SLA timer precision. Baseline: BullMQ delayed no-op jobs with the same spread of due
 * times, consumed in a process of their own; lateness = when the worker ran the job minus
 * when it was due. Product: N running SLA clocks due over the window, seeded in SQL and
 * scheduled by the service's own Redis-loss recovery; lateness = breach recorded in Postgres
 * minus due time. Then the same with every Redis key of the service wiped half-way.
 */
export const timers: Benchmark = {
  name: 'timers',
  description: 'SLA breach lateness vs. BullMQ delayed no-op jobs with the same due-time spread; then with Redis wiped half-way',
  sizeUnit: 'timers',
  sizes: SIZES,

  async run(context) {
    const windowMs = windowOf(context);
    const n = context.size;
    const baseline = await runBaseline(context, windowMs, n);
    const b = baseline.stats;
    const spread = `${n.toLocaleString('en-US')} clocks due over ${windowMs / 1000} s`;
    const settings = Object.entries(SERVICE_ENV)
      .map(([key, value]) => `${key}=${value}`)
      .join(' ');
    const memoryTarget = { kind: 'below', value: 300, unit: 'MB' } as const;
    const onceTarget = { kind: 'equals', value: 0 } as const;
    const p99Target = { kind: 'ratio-at-most', value: 2 } as const;

    const redis = createWorkerRedis(context.env.redisUrl);
    try {
      const { run: clean, memory } = await isolatedRun(context, redis, 'clean');
      const wipeRun = context.signal.aborted || !WITH_WIPE ? null : await isolatedRun(context, redis, 'wipe');
      const wiped = wipeRun?.run ?? null;
      context.details.product = {
        settings: SERVICE_ENV,
        leadMs: PRODUCT_LEAD_MS[context.mode],
        graceMs: PRODUCT_GRACE_MS[context.mode],
        clean,
        wipe: wiped,
        memory: { clean: memory, wipe: wipeRun?.memory ?? null },
      };

      const once = (run: ProductRun) =>
        `${run.clocks} clocks: ${run.missing} not breached by the end of the wait, ${run.duplicated} breached more than once; ${run.breachEvents} sla_breached timeline events`;
      const rows: Row[] = [
        measured({
          benchmark: 'timers',
          metric: 'lateness p50',
          unit: 'ms',
          product: clean.lateness.p50,
          baseline: b.p50,
          note:
            `${spread}, seeded in SQL, scheduled by the service's recovery; ${clean.workerProcesses === 1 ? 'one worker process (the service)' : `${clean.workerProcesses} worker processes (the service and ${clean.workerProcesses - 1} ROLE=worker)`}; ` +
            `lateness = breached_at - due_at; ${settings}; ${clean.breachesPerSec.toFixed(0)} breaches/s; ${clean.observer.summary}`,
        }),
        measured({ benchmark: 'timers', metric: 'lateness p99', unit: 'ms', product: clean.lateness.p99, baseline: b.p99, target: p99Target, problems: [...baseline.problems, ...clean.problems] }),
        measured({ benchmark: 'timers', metric: 'lateness max', unit: 'ms', product: clean.lateness.max, baseline: b.max }),
        measured({ benchmark: 'timers', metric: 'clocks not breached exactly once', product: clean.missing + clean.duplicated, target: onceTarget, note: once(clean) }),
      ];
      if (clean.redisMemory) {
        rows.push(
          measured({
            benchmark: 'timers',
            metric: 'Redis memory per running clock',
            unit: 'bytes',
            product: clean.redisMemory.bytesPerJob,
            ...(baseline.memory ? { baseline: baseline.memory.bytesPerJob } : {}),
            note:
              `one delayed breach job per clock (the bench's clocks have no warning): MEMORY USAGE of 2,000 job hashes times the delayed count, plus the delayed set; ` +
              `${clean.redisMemory.jobs.toLocaleString('en-US')} jobs, ${clean.redisMemory.totalMb.toFixed(1)} MB; baseline: a BullMQ delayed no-op job, the same way`,
          }),
        );
      }
      if (wiped) {
        const after = wiped.latenessAfterWipe ?? summarize([]);
        const w = wiped.wipe;
        const wipeNote = w
          ? `every ${context.env.queuePrefix}:* key deleted (${w.keysDeleted}) ${w.atSec.toFixed(1)} s into the window; ` +
            `${after.count} clocks due after it; the recovery rescheduled ${w.recoveredClocks ?? '?'} clocks ${w.recoveredAfterMs ?? '?'} ms after the wipe, its sweeps (and the overdue watch) fired the rest; ${wiped.observer.summary}`
          : 'the wipe did not run';
        rows.push(
          measured({ benchmark: 'timers', metric: 'after Redis wipe: lateness p50', unit: 'ms', product: after.p50, baseline: b.p50, note: wipeNote }),
          measured({ benchmark: 'timers', metric: 'after Redis wipe: lateness p99', unit: 'ms', product: after.p99, baseline: b.p99, problems: wiped.problems }),
          measured({ benchmark: 'timers', metric: 'after Redis wipe: lateness max', unit: 'ms', product: after.max, baseline: b.max }),
          measured({ benchmark: 'timers', metric: 'after Redis wipe: not breached exactly once', product: wiped.missing + wiped.duplicated, target: onceTarget, note: once(wiped) }),
        );
      }
      rows.push(
        measured({
          benchmark: 'memory',
          metric: 'service peak RSS, SLA timers',
          unit: 'MB',
          product: memory.peakRssMb,
          baseline: memory.idleRssMb,
          target: memoryTarget,
          note:
            `VmHWM of the service in the run without wipe (highest VmRSS sampled: ${memory.maxSampledRssMb.toFixed(0)} MB); baseline: idle after /readyz` +
            (wipeRun ? `; the run with the wipe: ${wipeRun.memory.peakRssMb.toFixed(0)} MB` : ''),
        }),
      );
      return rows;
    } catch (error) {
      const note = `product: ${(error as Error).message.split('\n')[0]}`;
      context.log(`product failed: ${(error as Error).stack ?? String(error)}`);
      return [
        unmeasured({ benchmark: 'timers', metric: 'lateness p50', unit: 'ms', baseline: b.p50, note }, 'ERROR'),
        unmeasured({ benchmark: 'timers', metric: 'lateness p99', unit: 'ms', baseline: b.p99, target: p99Target }, 'ERROR'),
        unmeasured({ benchmark: 'timers', metric: 'lateness max', unit: 'ms', baseline: b.max }, 'ERROR'),
      ];
    } finally {
      redis.disconnect();
    }
  },
};
