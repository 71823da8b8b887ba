import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import pg from 'pg';
import { CHANNELS } from '../../src/channels/channel.types.js';
import type { Benchmark, BenchContext } from '../lib/bench.js';
import { runLoad, type LoadResult } from '../lib/load.js';
import { measured } from '../lib/report.js';
import { benchServiceEnv, PROJECT_ROOT, track, type RunningService } from '../lib/service.js';
import { ensureBenchPolicy, seedTimerClocks, seedTimerTickets } from '../lib/sla-seed.js';
import { logSize, recoveryMarkerKey, waitForRecovery, wipePrefix } from '../lib/sla-redis.js';
import { summarize, type Stats } from '../lib/stats.js';
import { BENCH_SECRETS, createWebhookFactory } from '../lib/webhooks.js';

/**
 * Scale-out (issue 18): the same work on 1 API + 1 worker process and on 2 API + 2 worker
 * processes, one Postgres database and one Redis prefix each time. First SLA timers (seeded in
 * SQL, due over a window, scheduled by whichever worker notices the deleted loss marker, fired
 * by both), then signed webhooks of the four channels spread over the API processes. The
 * baseline of every row is the 1+1 figure of the same run: on a machine with spare cores 2+2
 * should do more; on the 2 shared cores of CI it shows that adding processes costs nothing and
 * that nothing happens twice.
 */
const CONNECTIONS = 50;
const POOL_MAX = 20;
const TIMER_WINDOW_MS = { quick: 10_000, full: 30_000 } as const;
const TIMER_LEAD_MS = { quick: 8_000, full: 20_000 } as const;
const TIMER_GRACE_MS = 15_000;
/** Timer clocks per ingest message: the timers part is sized from the benchmark's size. */
const CLOCKS_PER_MESSAGE = 10;

interface Topology {
  apis: number;
  workers: number;
}

interface TopologyResult {
  label: string;
  ingest: { okPerSec: number; p50: number; p99: number; ok: number; problems: string[]; perApi: Pick<LoadResult, 'ok' | 'okPerSec' | 'latency'>[] };
  messages: { rows: number; distinctIds: number };
  timers: { clocks: number; lateness: Stats; notOnce: number; breachesPerWorker: number[]; problems: string[] };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/**
 * A ROLE=worker process of the compiled service (as `npm start` runs it), tracked for the
 * bench's cleanup; ready when /readyz on its METRICS_PORT answers 200.
 */
export async function startWorker(context: BenchContext, label: string, databaseUrl: string): Promise<{ metricsUrl: string; logFile: string; stop(): Promise<void> }> {
  const port = await freePort();
  const logFile = `${PROJECT_ROOT}bench/results/service-${label}.log`;
  const fd = openSync(logFile, 'w');
  const inherited = Object.fromEntries(['PATH', 'HOME', 'TMPDIR', 'LANG', 'TZ'].flatMap((key) => (process.env[key] === undefined ? [] : [[key, process.env[key]!]])));
  const child = track(
    spawn(process.execPath, ['--enable-source-maps', `--max-old-space-size=${process.env.HEAP_LIMIT_MB ?? 512}`, 'dist/main.js'], {
      cwd: PROJECT_ROOT,
      env: {
        ...inherited,
        NODE_ENV: 'production',
        HOST: '127.0.0.1',
        ROLE: 'worker',
        METRICS_PORT: String(port),
        DATABASE_URL: databaseUrl,
        DATABASE_POOL_MAX: String(POOL_MAX),
        REDIS_URL: context.env.redisUrl,
        QUEUE_PREFIX: context.env.queuePrefix,
        ADMIN_API_KEY: context.adminApiKey,
        LOG_LEVEL: 'warn',
        SLA_RECONCILE_INTERVAL_MS: '1000',
        ...BENCH_SECRETS,
        ...benchServiceEnv(),
      },
      stdio: ['ignore', fd, fd],
    }),
  );
  closeSync(fd);
  const metricsUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`worker ${label} exited (${child.exitCode}) before /readyz; see ${logFile}`);
    if (Date.now() > deadline) throw new Error(`worker ${label} was not ready within 60 s; see ${logFile}`);
    const ok = await fetch(`${metricsUrl}/readyz`, { signal: AbortSignal.timeout(2_000) }).then((r) => r.ok, () => false);
    if (ok) break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return {
    metricsUrl,
    logFile,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

function counterTotal(text: string, name: string): number {
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

async function createIntegrationKey(baseUrl: string, adminKey: string): Promise<string> {
  const response = await fetch(`${baseUrl}/v1/api-keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'bench scale integration', role: 'integration' }),
  });
  if (response.status !== 201) throw new Error(`POST /v1/api-keys answered ${response.status}: ${await response.text()}`);
  return ((await response.json()) as { token: string }).token;
}

async function runTopology(context: BenchContext, topology: Topology): Promise<TopologyResult> {
  const label = `${topology.apis}+${topology.workers}`;
  const database = await context.env.createDatabase(`scale_${topology.apis}x${topology.workers}`);
  const pool = new pg.Pool({ connectionString: database.url, max: 2 });
  pool.on('error', () => undefined);
  const redis = new Redis(context.env.redisUrl, { maxRetriesPerRequest: 1 });
  const apis: RunningService[] = [];
  const workers: Awaited<ReturnType<typeof startWorker>>[] = [];
  try {
    // A prefix of its own state: nothing the other topology left (timer jobs, the marker) competes.
    await wipePrefix(redis, context.env.queuePrefix);
    const policyId = await ensureBenchPolicy(pool);
    for (let i = 0; i < topology.apis; i++) {
      apis.push(await context.startService({ label: `scale-${label}-api${i + 1}`, databaseUrl: database.url, env: { ...BENCH_SECRETS, ROLE: 'api', DATABASE_POOL_MAX: String(POOL_MAX) } }));
    }
    for (let i = 0; i < topology.workers; i++) workers.push(await startWorker(context, `scale-${label}-worker${i + 1}`, database.url));
    context.log(`${label}: ${topology.apis} API and ${topology.workers} worker processes ready`);

    // --- timers: seeded in SQL, put into Redis by the loss recovery, fired by every worker.
    const timerProblems: string[] = [];
    const n = context.size * CLOCKS_PER_MESSAGE;
    const windowMs = TIMER_WINDOW_MS[context.mode];
    const tag = `scale-${label}`;
    await seedTimerTickets(pool, { n, tag });
    const windowStart = Date.now() + TIMER_LEAD_MS[context.mode];
    const { clocks } = await seedTimerClocks(pool, { tag, policyId, windowStart, windowMs });
    const offsets = workers.map((w) => logSize(w.logFile));
    await redis.del(recoveryMarkerKey(context.env.queuePrefix));
    const recovered = await Promise.race(workers.map((w, i) => waitForRecovery(w.logFile, offsets[i]!, windowStart + windowMs, context.signal)));
    if (!recovered) timerProblems.push(`${label}: no worker logged the reschedule before the window ended`);
    else if (recovered.at > windowStart) timerProblems.push(`${label}: the reschedule finished ${recovered.at - windowStart} ms into the window`);
    context.log(`${label}: ${clocks} clocks due over ${windowMs / 1000} s; rescheduled ${recovered ? `${((windowStart - recovered.at) / 1000).toFixed(1)} s before the window` : 'not logged'}`);
    const deadline = windowStart + windowMs + TIMER_GRACE_MS;
    for (;;) {
      const { rows } = await pool.query<{ n: number }>(`select count(*)::int as n from sla_clocks where state = 'running' and due_at <= $1`, [new Date(windowStart + windowMs)]);
      if (rows[0]!.n === 0 && Date.now() > windowStart + windowMs) break;
      if (Date.now() > deadline || context.signal.aborted) {
        timerProblems.push(`${label}: ${rows[0]!.n} clocks still running ${TIMER_GRACE_MS / 1000} s after the window (their lateness counts to the end of the wait)`);
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const waitEnded = Date.now();
    const { rows: late } = await pool.query<{ n: number; late: number | null; due: number }>(
      `select count(b.id)::int as n, min(extract(epoch from b.breached_at - c.due_at) * 1000)::float8 as late, (extract(epoch from c.due_at) * 1000)::float8 as due
         from sla_clocks c join tickets t on t.id = c.ticket_id left join breaches b on b.clock_id = c.id
        where t.tags @> array[$1] group by c.id, c.due_at`,
      [tag],
    );
    const lateness = summarize(late.map((r) => r.late ?? waitEnded - r.due));
    const notOnce = late.filter((r) => r.n !== 1).length;
    const breachesPerWorker = await Promise.all(
      workers.map(async (w) => counterTotal(await (await fetch(`${w.metricsUrl}/metrics`, { headers: { authorization: `Bearer ${context.adminApiKey}` } })).text(), 'complaint_desk_sla_breaches_total')),
    );
    context.log(`${label}: timers p50 ${lateness.p50.toFixed(0)} ms, p99 ${lateness.p99.toFixed(0)} ms; breaches per worker ${breachesPerWorker.join(' / ')}; not exactly once: ${notOnce}`);

    // --- ingest: the connections and messages split evenly over the API processes.
    const emailApiKey = await createIntegrationKey(apis[0]!.url, context.adminApiKey);
    const factory = createWebhookFactory({ emailApiKey });
    let seq = 0;
    const perApi = Math.floor(context.size / apis.length);
    const started = performance.now();
    const loads = await Promise.all(
      apis.map((api) =>
        runLoad({
          url: api.url,
          connections: Math.floor(CONNECTIONS / apis.length),
          amount: perApi,
          maxSeconds: context.mode === 'quick' ? 60 : 600,
          signal: context.signal,
          next: () => factory[CHANNELS[seq % CHANNELS.length]!](seq++),
        }),
      ),
    );
    const elapsedSec = Math.max(...loads.map((l) => l.elapsedSec), (performance.now() - started) / 1000 - 1);
    const ok = loads.reduce((sum, l) => sum + l.ok, 0);
    const { rows: counted } = await pool.query<{ rows: number; ids: number }>(
      `select count(*)::int as rows, count(distinct provider_message_id)::int as ids from messages where direction = 'inbound'`,
    );
    const ingest = {
      okPerSec: ok / Math.max(...loads.map((l) => l.elapsedSec)),
      // Per-process percentiles: the worst process's figure stands for the topology.
      p50: Math.max(...loads.map((l) => l.latency.p50)),
      p99: Math.max(...loads.map((l) => l.latency.p99)),
      ok,
      problems: loads.flatMap((l) => l.problems),
      perApi: loads.map((l) => ({ ok: l.ok, okPerSec: l.okPerSec, latency: l.latency })),
    };
    context.log(`${label}: ingest ${ingest.okPerSec.toFixed(0)} msg/s over ${elapsedSec.toFixed(1)} s, p99 ${ingest.p99.toFixed(0)} ms; rows ${counted[0]!.rows}, distinct ${counted[0]!.ids}`);
    return {
      label,
      ingest,
      messages: { rows: counted[0]!.rows, distinctIds: counted[0]!.ids },
      timers: { clocks, lateness, notOnce, breachesPerWorker, problems: timerProblems },
    };
  } finally {
    await Promise.all([...apis.map((a) => a.stop().catch(() => undefined)), ...workers.map((w) => w.stop())]);
    redis.disconnect();
    await pool.end();
  }
}

export const scale: Benchmark = {
  name: 'scale',
  description: '2 API + 2 worker processes vs. 1 + 1 on one Postgres and one Redis: SLA timers fired by both workers, signed webhooks over both APIs, nothing twice',
  sizeUnit: 'messages (and 10 timer clocks per message)',
  sizes: { quick: 500, full: 5_000 },

  async run(context) {
    const name = 'scale';
    const one = await runTopology(context, { apis: 1, workers: 1 });
    context.details.oneByOne = one;
    if (context.signal.aborted) return [];
    const two = await runTopology(context, { apis: 2, workers: 2 });
    context.details.twoByTwo = two;
    const lost = (r: TopologyResult) => Math.max(0, r.ingest.ok - r.messages.distinctIds);
    const split = two.timers.breachesPerWorker;
    const smallerShare = split.length === 2 && split[0]! + split[1]! > 0 ? Math.min(...split) / (split[0]! + split[1]!) : 0;
    return [
      measured({ benchmark: name, metric: 'ingest throughput, 2+2 vs 1+1', unit: 'msg/s', product: two.ingest.okPerSec, baseline: one.ingest.okPerSec, problems: [...one.ingest.problems, ...two.ingest.problems], note: 'baseline: the same load on 1 API + 1 worker process in this run' }),
      measured({ benchmark: name, metric: 'ingest latency p99, 2+2 vs 1+1', unit: 'ms', product: two.ingest.p99, baseline: one.ingest.p99, note: 'the worse of the two API processes' }),
      measured({ benchmark: name, metric: 'timers lateness p99, 2+2 vs 1+1', unit: 'ms', product: two.timers.lateness.p99, baseline: one.timers.lateness.p99, target: { kind: 'ratio-at-most', value: 2 }, problems: [...one.timers.problems, ...two.timers.problems] }),
      measured({ benchmark: name, metric: 'timers: smaller worker\'s share of breaches (2+2)', unit: '%', product: Math.round(smallerShare * 1000) / 10, note: `breaches per worker: ${split.join(' / ')}` }),
      measured({ benchmark: name, metric: 'clocks not breached exactly once (2+2)', product: two.timers.notOnce, baseline: one.timers.notOnce, target: { kind: 'equals', value: 0 } }),
      measured({ benchmark: name, metric: 'messages lost (2+2)', product: lost(two), baseline: lost(one), target: { kind: 'equals', value: 0 } }),
      measured({ benchmark: name, metric: 'messages duplicated (2+2)', product: two.messages.rows - two.messages.distinctIds, baseline: one.messages.rows - one.messages.distinctIds, target: { kind: 'equals', value: 0 } }),
    ];
  },
};
