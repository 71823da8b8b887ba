import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import pg from 'pg';
import { BENCHMARKS } from './benchmarks/index.js';
import type { BenchContext, Mode } from './lib/bench.js';
import { createBenchEnvironment } from './lib/environment.js';
import { crashed, type Row } from './lib/report.js';
import { buildService, childPids, PROJECT_ROOT, startService, stopChildren } from './lib/service.js';
import { renderTable } from './lib/table.js';

const USAGE = `npm run bench -- [--quick] [--only name,...] [--size name=N ...]

  --quick          small sizes, under 2 minutes (default: the full run, ~15 minutes)
  --only a,b       run only these benchmarks
  --size name=N    override one benchmark's size (repeatable, or comma-separated)

benchmarks:
${BENCHMARKS.map((b) => `  ${b.name.padEnd(8)} ${b.description}\n  ${''.padEnd(8)} size: ${b.sizeUnit}, quick ${b.sizes.quick.toLocaleString('en-US')}, full ${b.sizes.full.toLocaleString('en-US')}`).join('\n')}

Postgres from DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres), Redis from
REDIS_URL (default redis://127.0.0.1:6379). Writes bench/results/latest.json.`;

function parseCli(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string', multiple: true },
      size: { type: 'string', multiple: true },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  const known = new Set(BENCHMARKS.map((b) => b.name));
  const checkName = (name: string) => {
    if (!known.has(name)) throw new Error(`unknown benchmark "${name}"; known: ${[...known].join(', ')}`);
    return name;
  };
  const only = values.only ? new Set(values.only.flatMap((v) => v.split(',')).map((v) => checkName(v.trim()))) : null;
  const sizes = new Map<string, number>();
  for (const entry of (values.size ?? []).flatMap((v) => v.split(','))) {
    const match = /^\s*([a-z]+)=(\d[\d_]*)\s*$/.exec(entry);
    if (!match) throw new Error(`--size takes name=N, not "${entry}"`);
    const size = Number(match[2]!.replaceAll('_', ''));
    if (!Number.isSafeInteger(size) || size < 1) throw new Error(`--size ${entry}: N must be a positive integer`);
    sizes.set(checkName(match[1]!), size);
  }
  return { mode: (values.quick ? 'quick' : 'full') as Mode, only, sizes, help: values.help };
}

let cli: ReturnType<typeof parseCli>;
try {
  cli = parseCli(process.argv.slice(2));
} catch (error) {
  console.error(`${(error as Error).message}\n\n${USAGE}`);
  process.exit(2);
}
if (cli.help) {
  console.log(USAGE);
  process.exit(0);
}

const started = performance.now();
const startedAt = new Date();
const elapsed = () => `${((performance.now() - started) / 1000).toFixed(1).padStart(6)}s`;
const log = (scope: string, message: string) => console.log(`[${elapsed()}] ${scope.padEnd(7)} ${message}`);

const databaseUrl = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const env = createBenchEnvironment({ databaseUrl, redisUrl });
// ADMIN_API_KEY of every service child: the runner reads and creates API keys with it.
const adminApiKey = `bench-admin-${env.id}-${env.id}`;
const controller = new AbortController();

let cleanup: Promise<void> | undefined;
/** Stops child processes, drops cd_bench_<id>*, deletes <prefix>* keys. Runs once. */
function cleanUp(): Promise<void> {
  cleanup ??= (async () => {
    await stopChildren();
    await env.destroy();
    log('cleanup', `dropped ${env.templateName}* and deleted ${env.queuePrefix}* keys`);
  })();
  return cleanup;
}

let exiting: Promise<never> | undefined;
/**
 * Interrupted (a signal, an uncaught error): the cleanup runs in a detached janitor process
 * (lib/janitor.ts), which finishes even if this process is killed meanwhile; this one waits
 * for it, bounded, and exits.
 */
function exitAfterCleanup(code: number, reason: string): Promise<never> {
  exiting ??= (async () => {
    console.error(`\n${reason}: stopping; dropping ${env.templateName}* and ${env.queuePrefix}* keys`);
    controller.abort();
    const janitor = spawn(process.execPath, ['--import', 'tsx', 'bench/lib/janitor.ts'], {
      cwd: PROJECT_ROOT,
      detached: true,
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, BENCH_ID: env.id, BENCH_PIDS: childPids().join(','), DATABASE_URL: databaseUrl, REDIS_URL: redisUrl },
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      new Promise((resolve) => janitor.once('exit', resolve)),
      new Promise((resolve) => (timer = setTimeout(resolve, 40_000))),
    ]);
    clearTimeout(timer);
    process.exit(code);
  })();
  return exiting;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    // A second signal (tsx relays the first one, too) changes nothing: the janitor carries on.
    if (exiting) return;
    void exitAfterCleanup(130, signal);
  });
}
process.on('uncaughtException', (error) => void exitAfterCleanup(1, `uncaught exception: ${error.stack ?? error.message}`));
process.on('unhandledRejection', (error) => void exitAfterCleanup(1, `unhandled rejection: ${(error as Error)?.stack ?? String(error)}`));

async function versions(): Promise<{ postgres: string; redis: string }> {
  const client = new pg.Client({ connectionString: env.adminUrl });
  await client.connect();
  const postgres = (await client.query<{ v: string }>(`select current_setting('server_version') as v`)).rows[0]!.v;
  await client.end();
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  const info = await redis.info('server');
  redis.disconnect();
  return { postgres, redis: /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown' };
}

interface BenchmarkResult {
  name: string;
  size: number;
  sizeUnit: string;
  seconds: number;
  rows: Row[];
  details: Record<string, unknown>;
}

const selected = BENCHMARKS.filter((b) => !cli.only || cli.only.has(b.name));
const results: BenchmarkResult[] = [];
const loadAtStart = os.loadavg();
let software: { postgres: string; redis: string } | undefined;

try {
  software = await versions();
  log('setup', `${cli.mode} run of ${selected.map((b) => b.name).join(', ')}; Postgres ${software.postgres}, Redis ${software.redis}, load average ${loadAtStart.map((l) => l.toFixed(1)).join(' ')}`);
  log('setup', 'building the service (npm run build)');
  buildService();
  log('setup', `migrating ${env.templateName}; Redis prefix ${env.queuePrefix}`);
  await env.create();

  for (const benchmark of selected) {
    if (controller.signal.aborted) break;
    const size = cli.sizes.get(benchmark.name) ?? benchmark.sizes[cli.mode];
    const details: Record<string, unknown> = {};
    const context: BenchContext = {
      mode: cli.mode,
      size,
      env,
      adminApiKey,
      startService: (options) => {
        log(benchmark.name, `starting the service (${options.label})`);
        return startService({ ...options, redisUrl, queuePrefix: env.queuePrefix, adminApiKey });
      },
      log: (message) => log(benchmark.name, message),
      signal: controller.signal,
      details,
    };
    log(benchmark.name, `start: ${size.toLocaleString('en-US')} ${benchmark.sizeUnit}`);
    const t0 = performance.now();
    let rows: Row[];
    try {
      rows = await benchmark.run(context);
    } catch (error) {
      log(benchmark.name, `failed: ${(error as Error).stack ?? String(error)}`);
      rows = [crashed(benchmark.name, error)];
    } finally {
      // A benchmark that threw may have left a child process running.
      await stopChildren();
    }
    const seconds = (performance.now() - t0) / 1000;
    log(benchmark.name, `done in ${seconds.toFixed(1)} s`);
    results.push({ name: benchmark.name, size, sizeUnit: benchmark.sizeUnit, seconds, rows, details });
  }
} catch (error) {
  log('setup', `failed: ${(error as Error).stack ?? String(error)}`);
  results.push({ name: 'setup', size: 0, sizeUnit: '', seconds: 0, rows: [crashed('setup', error)], details: {} });
} finally {
  // Once interrupted, the janitor cleans up (see exitAfterCleanup).
  if (!exiting) await cleanUp().catch((error: unknown) => log('cleanup', `failed: ${(error as Error).message}`));
}
// Interrupted: the handler exits (130 on a signal) once cleanup is done; a partial run does
// not replace latest.json.
if (exiting) await exiting;

const rows = results.flatMap((r) => r.rows);
const totalSeconds = (performance.now() - started) / 1000;
const loadAtEnd = os.loadavg();
console.log('');
console.log(
  `complaint-desk bench, ${cli.mode} run, ${startedAt.toISOString()}, ${totalSeconds.toFixed(0)} s; ` +
    `${os.cpus().length} CPUs, load average ${loadAtStart[0]!.toFixed(1)} at start and ${loadAtEnd[0]!.toFixed(1)} at end`,
);
console.log(`ratio = product / baseline, both measured in this run; sizes: ${results.map((r) => `${r.name} ${r.size.toLocaleString('en-US')} ${r.sizeUnit}`).join(', ')}`);
console.log('');
console.log(renderTable(rows));

const output = `${PROJECT_ROOT}bench/results/latest.json`;
writeFileSync(
  output,
  `${JSON.stringify(
    {
      startedAt: startedAt.toISOString(),
      mode: cli.mode,
      totalSeconds,
      machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, totalMemoryMb: Math.round(os.totalmem() / 2 ** 20), node: process.version, loadAtStart, loadAtEnd, ...software },
      benchmarks: results,
      rows,
    },
    null,
    2,
  )}\n`,
);
console.log(`\nwrote ${output}`);
process.exit(rows.some((row) => row.verdict === 'ERROR') ? 1 : 0);
