import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

export const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Settings every benchmarked service gets; a benchmark adds channel secrets and the like. */
export interface ServiceOptions {
  /** Names the log file: bench/results/service-<label>.log. */
  label: string;
  databaseUrl: string;
  redisUrl: string;
  queuePrefix: string;
  adminApiKey: string;
  env?: Record<string, string>;
  readyTimeoutMs?: number;
}

export interface MemoryReport {
  /** VmHWM: the kernel's peak resident set size of the process, read just before SIGTERM. */
  peakRssMb: number;
  /** The highest VmRSS seen by the periodic sampler (a cross-check of VmHWM). */
  maxSampledRssMb: number;
  /** VmRSS once /readyz answered, before any load. */
  idleRssMb: number;
}

export interface RunningService {
  url: string;
  port: number;
  pid: number;
  logFile: string;
  idleRssMb: number;
  /** Current VmRSS. */
  rssMb(): number;
  /** SIGTERM, wait for the graceful exit (SIGKILL after 5 s), and report memory. */
  stop(): Promise<MemoryReport & { exitCode: number | null }>;
}

const running = new Set<ChildProcess>();

/** Registers a child process the bench started, so stopChildren() ends it too. */
export function track(child: ChildProcess): ChildProcess {
  running.add(child);
  child.once('exit', () => running.delete(child));
  return child;
}

/** Ids of the child processes still running, for the janitor. */
export function childPids(): number[] {
  return [...running].flatMap((child) => (child.pid === undefined ? [] : [child.pid]));
}

/** Stops every child process still running (services, workers): the bench's exit path, also on Ctrl-C. */
export async function stopChildren(): Promise<void> {
  await Promise.all([...running].map((child) => terminate(child, 10_000)));
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** A field of /proc/<pid>/status in MB (the kernel reports kB), or NaN once the process is gone. */
export function procStatusMb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    return match ? Number(match[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

async function terminate(child: ChildProcess, graceMs: number): Promise<number | null> {
  const done = exited(child);
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), graceMs);
  });
  const first = await Promise.race([done, timeout]);
  clearTimeout(timer);
  if (first === 'timeout') {
    child.kill('SIGKILL');
    await done;
  }
  running.delete(child);
  return child.exitCode;
}

export function logTail(file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/**
 * Starts the service as the product runs it (`npm start`: the compiled build, see
 * buildService), in a child process, on a free port on 127.0.0.1, and waits for /readyz. The child's stdout and
 * stderr go to bench/results/service-<label>.log. Only a few variables are inherited from this
 * shell, so a developer's own .env secrets cannot change what is measured.
 */
/** Compiles src/ into dist/ as `npm start` does (its prestart), once per bench run. */
export function buildService(): void {
  const tsc = `${PROJECT_ROOT}node_modules/typescript/bin/tsc`;
  const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: PROJECT_ROOT, stdio: 'inherit' });
  if (result.status !== 0) throw new Error(`the build failed (tsc exited ${result.status})`);
}

/**
 * BENCH_SERVICE_ENV adds settings to every service and worker process a benchmark starts, for an
 * A/B run of one setting (e.g. 'SLA_OVERDUE_CHECK_MS=0,SLA_TIMER_CONCURRENCY=100'); nothing else
 * of the shell's environment reaches them.
 */
export function benchServiceEnv(): Record<string, string> {
  const spec = process.env.BENCH_SERVICE_ENV?.trim();
  if (!spec) return {};
  return Object.fromEntries(
    spec.split(',').map((pair) => {
      const at = pair.indexOf('=');
      if (at <= 0) throw new Error(`BENCH_SERVICE_ENV takes KEY=VALUE pairs separated by commas, not "${pair}"`);
      return [pair.slice(0, at).trim(), pair.slice(at + 1).trim()];
    }),
  );
}

export async function startService(options: ServiceOptions): Promise<RunningService> {
  const port = await freePort();
  const logFile = `${PROJECT_ROOT}bench/results/service-${options.label}.log`;
  const logFd = openSync(logFile, 'w');
  const inherited = Object.fromEntries(
    ['PATH', 'HOME', 'TMPDIR', 'LANG', 'TZ'].flatMap((key) => (process.env[key] === undefined ? [] : [[key, process.env[key]!]])),
  );
  // BENCH_SERVICE_NODE_ARGS adds Node options to the service only (e.g. '--cpu-prof --cpu-prof-dir=/tmp/prof').
  const nodeArgs = process.env.BENCH_SERVICE_NODE_ARGS?.split(/\s+/).filter(Boolean) ?? [];
  // The flags of `npm start` (package.json), with its default heap limit.
  const child = spawn(process.execPath, ['--enable-source-maps', `--max-old-space-size=${process.env.HEAP_LIMIT_MB ?? 512}`, ...nodeArgs, 'dist/main.js'], {
    cwd: PROJECT_ROOT,
    env: {
      ...inherited,
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: String(port),
      DATABASE_URL: options.databaseUrl,
      REDIS_URL: options.redisUrl,
      QUEUE_PREFIX: options.queuePrefix,
      ADMIN_API_KEY: options.adminApiKey,
      LOG_LEVEL: 'warn',
      RATE_LIMIT_PER_MINUTE: '0',
      ROLE: 'all',
      ...options.env,
      ...benchServiceEnv(),
    },
    stdio: ['ignore', logFd, logFd],
  });
  closeSync(logFd);
  track(child);
  const pid = child.pid;
  if (pid === undefined) throw new Error('the service did not start (no pid)');

  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (options.readyTimeoutMs ?? 60_000);
  let lastProblem = 'no answer yet';
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      running.delete(child);
      throw new Error(`the service exited (${child.exitCode ?? child.signalCode}) before /readyz; ${logFile}:\n${logTail(logFile)}`);
    }
    if (Date.now() > deadline) {
      await terminate(child, 5_000);
      throw new Error(`the service was not ready within ${options.readyTimeoutMs ?? 60_000} ms (${lastProblem}); ${logFile}:\n${logTail(logFile)}`);
    }
    try {
      const response = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2_000) });
      if (response.ok) break;
      lastProblem = `/readyz answered ${response.status}`;
    } catch (error) {
      lastProblem = (error as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }

  const idleRssMb = procStatusMb(pid, 'VmRSS');
  let maxSampledRssMb = idleRssMb;
  const sampler = setInterval(() => {
    const rss = procStatusMb(pid, 'VmRSS');
    if (rss > maxSampledRssMb) maxSampledRssMb = rss;
  }, 250);
  sampler.unref();
  let stopping: Promise<MemoryReport & { exitCode: number | null }> | undefined;

  return {
    url,
    port,
    pid,
    logFile,
    idleRssMb,
    rssMb: () => procStatusMb(pid, 'VmRSS'),
    stop() {
      stopping ??= (async () => {
        clearInterval(sampler);
        const peakRssMb = procStatusMb(pid, 'VmHWM');
        const exitCode = await terminate(child, 5_000);
        return { peakRssMb, maxSampledRssMb, idleRssMb, exitCode };
      })();
      return stopping;
    },
  };
}
