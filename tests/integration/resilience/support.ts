import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { inject } from 'vitest';
import { until } from '../../helpers/sla.js';

/**
 * Fault injection for the resilience suite: a Redis of the test's own (never the shared one),
 * terminating a database's Postgres backends, and the service or a worker as a real child
 * process that can be signalled or killed.
 */

const PROJECT_ROOT = fileURLToPath(new URL('../../..', import.meta.url));

export async function freePort(): Promise<number> {
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

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

/** Waits for the child to exit, at most `timeoutMs`; null if it is still running then. */
export async function exitWithin(child: ChildProcess, timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null } | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), timeoutMs)));
  const result = await Promise.race([exited(child), timeout]);
  clearTimeout(timer);
  return result;
}

/** Kills the child (SIGKILL) if it still runs, and waits for it: the tests' cleanup. */
export async function killHard(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const done = exited(child);
  child.kill('SIGKILL');
  await done;
}

/**
 * A redis-server of the test's own on a free loopback port, without persistence: stopping it
 * and starting it again is a Redis restart that lost every key (as a failover without
 * persistence would). With `persistent`, every write is in an append-only file first (fsync
 * always), so a restart keeps every key: Redis was away, not emptied. The shared Redis is never
 * touched.
 */
export async function startPrivateRedis(port?: number, options: { persistent?: boolean } = {}) {
  const chosen = port ?? (await freePort());
  let child: ChildProcess | undefined;
  const url = `redis://127.0.0.1:${chosen}`;
  const dir = options.persistent ? mkdtempSync(join(tmpdir(), 'cd-redis-')) : undefined;
  const persistence = dir ? ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir] : ['--appendonly', 'no'];
  const startServer = async () => {
    child = spawn('/usr/bin/redis-server', ['--port', String(chosen), '--bind', '127.0.0.1', '--save', '', ...persistence], { stdio: 'ignore' });
    await until(
      () =>
        new Promise<true | undefined>((resolve) => {
          const socket = connect(chosen, '127.0.0.1');
          socket.once('connect', () => {
            socket.destroy();
            resolve(true);
          });
          socket.once('error', () => resolve(undefined));
        }),
      { timeoutMs: 10_000, what: `redis-server on port ${chosen}` },
    );
  };
  await startServer();
  return {
    port: chosen,
    url,
    /** SIGKILL: the connections drop at once and every key is gone. */
    async kill() {
      await killHard(child);
    },
    start: startServer,
    running: () => child !== undefined && child.exitCode === null && child.signalCode === null,
    async stop() {
      await killHard(child);
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Terminates the Postgres backends of one database (all, or those whose application_name matches). */
export async function terminateBackends(databaseUrl: string, applicationName?: string): Promise<number> {
  const database = new URL(databaseUrl).pathname.slice(1);
  const admin = new pg.Client({ connectionString: inject('adminDatabaseUrl') });
  await admin.connect();
  try {
    const { rows } = await admin.query<{ n: number }>(
      `select count(pg_terminate_backend(pid))::int as n from pg_stat_activity where datname = $1 and pid <> pg_backend_pid() and ($2::text is null or application_name = $2)`,
      [database, applicationName ?? null],
    );
    return rows[0]!.n;
  } finally {
    await admin.end();
  }
}

export interface ServiceProcess {
  child: ChildProcess;
  /** Every line the process wrote to stdout and stderr, in order. */
  lines: string[];
  /** Lines that are not a JSON object (a stack dump, a console.error): there should be none. */
  nonJsonLines(): string[];
  /** Parsed JSON log lines whose msg matches. */
  logged(pattern: RegExp): Record<string, unknown>[];
}

/**
 * Runs src/main.ts in a child process (through tsx's loader, in that one process: a signal
 * reaches the service itself), with only the variables given plus PATH and HOME.
 */
export function spawnService(env: Record<string, string>): ServiceProcess {
  const inherited = Object.fromEntries(['PATH', 'HOME', 'TMPDIR', 'LANG', 'TZ'].flatMap((key) => (process.env[key] === undefined ? [] : [[key, process.env[key]!]])));
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: PROJECT_ROOT,
    env: { ...inherited, NODE_ENV: 'production', HOST: '127.0.0.1', LOG_LEVEL: 'info', RATE_LIMIT_PER_MINUTE: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const collect = (stream: NodeJS.ReadableStream | null) => {
    let partial = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      lines.push(...parts.filter((l) => l.length > 0));
    });
  };
  collect(child.stdout);
  collect(child.stderr);
  const parse = (line: string): Record<string, unknown> | null => {
    try {
      const value: unknown = JSON.parse(line);
      return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
    } catch {
      return null;
    }
  };
  return {
    child,
    lines,
    nonJsonLines: () => lines.filter((l) => parse(l) === null),
    logged: (pattern) => lines.flatMap((l): Record<string, unknown>[] => { const entry = parse(l); return entry ? [entry] : []; }).filter((entry: Record<string, unknown>) => typeof entry.msg === 'string' && pattern.test(entry.msg)),
  };
}

/** Waits until GET `url` answers `status` (any error or other status: keeps polling). */
export async function untilStatus(url: string, status: number, timeoutMs = 30_000): Promise<Response> {
  return until(
    async () => {
      try {
        const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
        if (response.status === status) return response;
        await response.body?.cancel();
      } catch {
        // not listening yet
      }
      return undefined;
    },
    { timeoutMs, intervalMs: 100, what: `${url} answering ${status}` },
  );
}

/** Resolves with the promise's value, or rejects if it takes longer than `ms`: "none hangs". */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A TCP proxy in front of a server (Postgres here): `cut()` drops every open connection and
 * refuses new ones, as a Postgres that went down would; `restore()` listens again on the same
 * port. The server itself (shared by every test file) is never touched.
 */
export async function startTcpProxy(target: { host: string; port: number }) {
  const port = await freePort();
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server = createServer((client) => {
        const upstream = connect(target.port, target.host);
        for (const s of [client, upstream]) {
          sockets.add(s);
          s.once('close', () => sockets.delete(s));
          s.on('error', () => undefined);
        }
        client.pipe(upstream).pipe(client);
        client.once('close', () => upstream.destroy());
        upstream.once('close', () => client.destroy());
      });
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
  const stop = async () => {
    const closing = server ? new Promise<void>((resolve) => server!.close(() => resolve())) : Promise.resolve();
    for (const s of sockets) s.destroy();
    await closing;
    server = undefined;
  };
  await listen();
  return { port, cut: stop, restore: listen, close: stop };
}
