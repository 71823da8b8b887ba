import http from 'node:http';
import autocannon from 'autocannon';
import { Samples, type Stats } from './stats.js';

export interface LoadOptions {
  /** The service's base URL; only 127.0.0.1 is ever targeted. */
  url: string;
  connections: number;
  /** Exactly this many requests (autocannon's `amount`). */
  amount: number;
  /** Hard bound on the run: it is stopped, and reported as truncated, past this. */
  maxSeconds: number;
  /** Stop early when no answer has come for this long (a deadlocked service): default 10 s. */
  stallSeconds?: number;
  /** Each request in turn (path, headers, body built per request, e.g. to sign each webhook). */
  next: () => { method: 'GET' | 'POST'; path: string; headers?: Record<string, string>; body?: string | Buffer };
  signal?: AbortSignal;
  onProgress?: (completed: number) => void;
}

export interface LoadResult {
  completed: number;
  ok: number;
  non2xx: number;
  statusCounts: Record<string, number>;
  errors: number;
  timeouts: number;
  elapsedSec: number;
  /** 2xx answers per second of wall time. */
  okPerSec: number;
  /** Per-request latency (ms) as autocannon measured each response. */
  latency: Stats;
  truncated: boolean;
  /** Set when the run was stopped because answers stopped coming. */
  stalled: boolean;
  /** What makes the figures untrustworthy: non-2xx answers, errors, a truncated or stalled run. */
  problems: string[];
}

/**
 * Runs autocannon and gathers exact per-request latencies from its `response` events (its own
 * result keeps an HDR histogram; ours are the same samples the baselines use). Any non-2xx
 * answer, connection error or truncation is listed in `problems`.
 */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  if (!/^http:\/\/127\.0\.0\.1:\d+$/.test(options.url)) throw new Error(`load only targets 127.0.0.1, not ${options.url}`);
  const latencies = new Samples();
  const statusCounts: Record<string, number> = {};
  let truncated = false;
  let stalled = false;
  const started = performance.now();
  // autocannon only notices that `amount` is reached on its one-second tick, so its own
  // duration rounds up to whole seconds; the rate is taken over first request to last answer.
  let lastAnswerAt = started;
  const stallMs = (options.stallSeconds ?? 10) * 1000;
  const requests: autocannon.Request[] = [
    {
      setupRequest: (request) => {
        const generated = options.next();
        return { ...request, method: generated.method, path: generated.path, headers: generated.headers ?? {}, body: generated.body };
      },
    },
  ];

  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: options.url,
        connections: options.connections,
        amount: options.amount,
        timeout: 30,
        requests,
      },
      (error, done) => (error ? reject(error) : resolve(done)),
    );
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      lastAnswerAt = performance.now();
      latencies.push(responseTime);
      statusCounts[statusCode] = (statusCounts[statusCode] ?? 0) + 1;
    });
    const stop = () => {
      truncated = true;
      instance.stop();
    };
    const bound = setTimeout(stop, options.maxSeconds * 1000);
    const watch = setInterval(() => {
      if (performance.now() - lastAnswerAt > stallMs) {
        stalled = true;
        stop();
      }
    }, 1_000);
    const progress = options.onProgress ? setInterval(() => options.onProgress!(latencies.length), 2_000) : undefined;
    options.signal?.addEventListener('abort', stop, { once: true });
    instance.once('done', () => {
      clearTimeout(bound);
      clearInterval(watch);
      if (progress) clearInterval(progress);
      options.signal?.removeEventListener('abort', stop);
    });
  });

  const elapsedSec = Math.max(1e-3, (lastAnswerAt - started) / 1000);
  const ok = Object.entries(statusCounts).reduce((sum, [status, count]) => (status.startsWith('2') ? sum + count : sum), 0);
  const completed = latencies.length;
  const non2xx = completed - ok;
  const problems: string[] = [];
  if (non2xx > 0) {
    const breakdown = Object.entries(statusCounts)
      .filter(([status]) => !status.startsWith('2'))
      .map(([status, count]) => `${status}: ${count}`)
      .join(', ');
    problems.push(`${non2xx} non-2xx answers (${breakdown})`);
  }
  if (stalled) problems.push(`stalled: no answer for ${stallMs / 1000} s with ${completed}/${options.amount} requests answered`);
  else if (truncated) problems.push(`stopped after ${options.maxSeconds} s with ${completed}/${options.amount} requests answered`);
  else if (result.errors > 0) problems.push(`${result.errors} connection errors (${result.timeouts} timeouts)`);
  return {
    completed,
    ok,
    non2xx,
    statusCounts,
    errors: result.errors,
    timeouts: result.timeouts,
    elapsedSec,
    okPerSec: ok / elapsedSec,
    latency: latencies.summary(),
    truncated,
    stalled,
    problems,
  };
}

export interface SequentialResult {
  latency: Stats;
  non2xx: number;
  statusCounts: Record<string, number>;
  problems: string[];
}

/**
 * One request at a time over one kept-alive connection: the latency a single user sees with
 * the service otherwise idle. Paths are taken in turn.
 */
export async function sequentialGets(options: {
  url: string;
  paths: string[];
  headers: Record<string, string>;
  count: number;
  signal?: AbortSignal;
  /** Run (untimed here) before each request: a baseline measured in turn with it, under the same load. */
  beforeEach?: (i: number) => Promise<void>;
}): Promise<SequentialResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const latencies = new Samples();
  const statusCounts: Record<string, number> = {};
  try {
    for (let i = 0; i < options.count && !options.signal?.aborted; i++) {
      await options.beforeEach?.(i);
      const path = options.paths[i % options.paths.length]!;
      const started = performance.now();
      const status = await get(agent, options.url + path, options.headers);
      latencies.push(performance.now() - started);
      statusCounts[status] = (statusCounts[status] ?? 0) + 1;
    }
  } finally {
    agent.destroy();
  }
  const non2xx = Object.entries(statusCounts).reduce((sum, [status, count]) => (status.startsWith('2') ? sum : sum + count), 0);
  const problems = non2xx > 0 ? [`${non2xx} non-2xx answers (${JSON.stringify(statusCounts)})`] : [];
  return { latency: latencies.summary(), non2xx, statusCounts, problems };
}

function get(agent: http.Agent, url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { agent, headers, timeout: 30_000 }, (response) => {
      response.on('data', () => undefined);
      response.on('end', () => resolve(response.statusCode ?? 0));
      response.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new Error(`timeout: GET ${url}`)));
    request.on('error', reject);
  });
}

/**
 * Runs `task` `total` times with `concurrency` in flight, timing each call: the in-process
 * baselines' counterpart of autocannon. Stops early (and says so) past maxSeconds or on abort.
 */
export async function runConcurrent(options: {
  total: number;
  concurrency: number;
  maxSeconds: number;
  task: (index: number) => Promise<void>;
  signal?: AbortSignal;
  onProgress?: (completed: number) => void;
}): Promise<{ completed: number; failed: number; elapsedSec: number; perSec: number; latency: Stats; truncated: boolean; firstError?: string }> {
  const latencies = new Samples();
  const deadline = performance.now() + options.maxSeconds * 1000;
  let nextIndex = 0;
  let failed = 0;
  let truncated = false;
  let firstError: string | undefined;
  const started = performance.now();
  const progress = options.onProgress ? setInterval(() => options.onProgress!(latencies.length), 2_000) : undefined;
  async function lane() {
    while (nextIndex < options.total) {
      if (options.signal?.aborted || performance.now() > deadline) {
        truncated = true;
        return;
      }
      const index = nextIndex++;
      const t0 = performance.now();
      try {
        await options.task(index);
        latencies.push(performance.now() - t0);
      } catch (error) {
        failed++;
        firstError ??= (error as Error).message;
      }
    }
  }
  try {
    await Promise.all(Array.from({ length: Math.min(options.concurrency, options.total) }, lane));
  } finally {
    if (progress) clearInterval(progress);
  }
  const elapsedSec = (performance.now() - started) / 1000;
  return { completed: latencies.length, failed, elapsedSec, perSec: latencies.length / elapsedSec, latency: latencies.summary(), truncated, ...(firstError ? { firstError } : {}) };
}
