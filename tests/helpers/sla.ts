import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { asc, eq } from 'drizzle-orm';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { expect } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createDependencies, type Dependencies } from '../../src/dependencies.js';
import { breaches, slaClocks } from '../../src/modules/sla/sla.table.js';
import { ticketEvents } from '../../src/modules/tickets/ticket-events.table.js';
import type { Clock } from '../../src/shared/clock.js';
import { startWorkers } from '../../src/workers/index.js';
import { client, unique, type TicketJson } from './api.js';
import type { TestContext } from './context.js';

/**
 * Shared helpers of the SLA integration tests: bounded waiting, a local webhook receiver, policy
 * and calendar set-up, an SSE reader, a Prometheus text parser, wiping a Redis prefix, and a
 * second worker process set on the same database and Redis prefix.
 */

// ---------------------------------------------------------------- waiting

/**
 * Polls `probe` until it returns something other than undefined, or throws after `timeoutMs`.
 * Tests wait on conditions, never on fixed sleeps.
 */
export async function until<T>(probe: () => Promise<T | undefined> | T | undefined, options: { timeoutMs?: number; intervalMs?: number; what?: string } = {}): Promise<T> {
  const { timeoutMs = 10_000, intervalMs = 25, what = 'condition' } = options;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

// ---------------------------------------------------------------- policies and calendars

export interface PolicyJson {
  id: string;
  name: string;
  position: number;
  match: Record<string, unknown>;
  calendarId: string | null;
  targets: Record<string, number>;
  warnAt: number;
  escalation: unknown[];
}

export async function createPolicy(ctx: TestContext, body: Record<string, unknown>): Promise<PolicyJson> {
  const res = await client(ctx).post('/v1/sla/policies', { name: unique('policy'), position: 0, match: {}, ...body });
  expect(res.statusCode, res.body).toBe(201);
  return res.json<PolicyJson>();
}

export const nineToFive = [{ start: '09:00', end: '17:00' }];
export const WARSAW_WEEKDAYS = { timeZone: 'Europe/Warsaw', weeklyHours: { mon: nineToFive, tue: nineToFive, wed: nineToFive, thu: nineToFive, fri: nineToFive }, holidays: [] };

export async function createCalendar(ctx: TestContext, definition: Record<string, unknown> = WARSAW_WEEKDAYS): Promise<{ id: string; name: string }> {
  const res = await client(ctx).post('/v1/calendars', { name: unique('calendar'), definition });
  expect(res.statusCode, res.body).toBe(201);
  return res.json<{ id: string; name: string }>();
}

// ---------------------------------------------------------------- reading SLA state

/** A clock as the ticket JSON shows it. */
export interface ClockJson {
  metric: string;
  state: 'running' | 'paused' | 'met' | 'breached';
  startedAt: string;
  dueAt: string | null;
  warnedAt: string | null;
  breachedAt: string | null;
  remainingSec: number | null;
}

export async function getTicket(ctx: TestContext, id: string): Promise<TicketJson> {
  const res = await client(ctx).get(`/v1/tickets/${id}`);
  expect(res.statusCode, res.body).toBe(200);
  return res.json<TicketJson>();
}

export function clockOf(ticket: TicketJson, metric: string): ClockJson {
  const clock = (ticket.sla as unknown as ClockJson[] | undefined)?.find((c) => c.metric === metric);
  if (!clock) throw new Error(`ticket #${ticket.number} has no ${metric} clock: ${JSON.stringify(ticket.sla)}`);
  return clock;
}

export interface EventJson {
  id: number;
  type: string;
  actorKind: string;
  data: Record<string, unknown>;
  createdAt: string;
}

export async function events(ctx: TestContext, ticketId: string): Promise<EventJson[]> {
  const res = await client(ctx).get(`/v1/tickets/${ticketId}/events?limit=200`);
  expect(res.statusCode, res.body).toBe(200);
  return res.json<{ items: EventJson[] }>().items;
}

/** The ticket's breach rows, straight from Postgres (every state, oldest first). */
export function breachRows(ctx: TestContext, ticketId: string) {
  return ctx.deps.db.select().from(breaches).where(eq(breaches.ticketId, ticketId)).orderBy(asc(breaches.breachedAt));
}

export function clockRows(ctx: TestContext, ticketId: string) {
  return ctx.deps.db.select().from(slaClocks).where(eq(slaClocks.ticketId, ticketId));
}

export async function clockRow(ctx: TestContext, ticketId: string, metric: string) {
  const row = (await clockRows(ctx, ticketId)).find((c) => c.metric === metric);
  if (!row) throw new Error(`no ${metric} clock row for ticket ${ticketId}`);
  return row;
}

/** Timeline events of one type for a ticket, from Postgres (no page limit). */
export async function eventRows(ctx: TestContext, ticketId: string, type?: string) {
  const rows = await ctx.deps.db.select().from(ticketEvents).where(eq(ticketEvents.ticketId, ticketId)).orderBy(asc(ticketEvents.id));
  return type ? rows.filter((r) => r.type === type) : rows;
}

/** Public agent reply through the API (a response to the customer: stops response clocks); the ticket after it, with its clocks. */
export async function reply(ctx: TestContext, ticketId: string, body: Record<string, unknown> = {}) {
  const res = await client(ctx).post(`/v1/tickets/${ticketId}/messages`, { body: 'We are on it', public: true, ...body });
  expect(res.statusCode, res.body).toBe(201);
  return getTicket(ctx, ticketId);
}

// ---------------------------------------------------------------- metrics

export interface Histogram {
  buckets: { le: number; count: number }[];
  sum: number;
  count: number;
}

function parseLabels(raw: string | undefined): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const match of (raw ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[match[1]!] = match[2]!;
  return labels;
}

/** One labelled series of a Prometheus histogram, from the text exposition format. */
export function parseHistogram(text: string, name: string, labels: Record<string, string>): Histogram {
  const histogram: Histogram = { buckets: [], sum: 0, count: 0 };
  for (const line of text.split('\n')) {
    const match = /^(\w+?)(?:\{([^}]*)\})?\s+(\S+)$/.exec(line);
    if (!match) continue;
    const [, series, rawLabels, value] = match;
    const parsed = parseLabels(rawLabels);
    if (!Object.entries(labels).every(([k, v]) => parsed[k] === v)) continue;
    if (series === `${name}_bucket`) histogram.buckets.push({ le: parsed.le === '+Inf' ? Infinity : Number(parsed.le), count: Number(value) });
    else if (series === `${name}_sum`) histogram.sum = Number(value);
    else if (series === `${name}_count`) histogram.count = Number(value);
  }
  histogram.buckets.sort((a, b) => a.le - b.le);
  return histogram;
}

/** Observations that landed in (previous bucket, le], per bucket: the histogram's distribution. */
export function bucketCounts(histogram: Histogram): { le: number; count: number }[] {
  return histogram.buckets.map((b, i) => ({ le: b.le, count: b.count - (i === 0 ? 0 : histogram.buckets[i - 1]!.count) }));
}

/** The smallest bucket bound that holds every observation: an upper bound of the maximum. */
export function maxBound(histogram: Histogram): number {
  return histogram.buckets.find((b) => b.count === histogram.count)?.le ?? Infinity;
}

export async function scrapeMetrics(ctx: TestContext): Promise<string> {
  const res = await client(ctx).get('/metrics');
  expect(res.statusCode, res.body).toBe(200);
  return res.body;
}

// ---------------------------------------------------------------- webhook receiver

export interface ReceivedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  receivedAt: number;
}

/** A local HTTP server on 127.0.0.1:0 that records every request and answers `status`. */
export async function startWebhookReceiver(status = 200): Promise<{ url: string; requests: ReceivedRequest[]; close(): Promise<void> }> {
  const requests: ReceivedRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), receivedAt: Date.now() });
      res.writeHead(status, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

// ---------------------------------------------------------------- server-sent events

export interface SseEvent {
  id: number | null;
  event: string;
  data: Record<string, unknown>;
}

/**
 * Opens an SSE stream with fetch and parses it as it arrives. `waitFor` resolves with the first
 * received event matching the predicate (already received ones included).
 */
export async function openSse(url: string, token: string, lastEventId?: number) {
  const controller = new AbortController();
  const headers: Record<string, string> = { authorization: `Bearer ${token}`, accept: 'text/event-stream' };
  if (lastEventId !== undefined) headers['last-event-id'] = String(lastEventId);
  const response = await fetch(url, { headers, signal: controller.signal });
  const received: SseEvent[] = [];
  // What an EventSource would send back on reconnecting: the last `id:` field, with or without data.
  let lastId = lastEventId;
  const reading = (async () => {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const fields: Record<string, string> = {};
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) continue;
            const colon = line.indexOf(':');
            if (colon < 0) continue;
            fields[line.slice(0, colon)] = line.slice(colon + 1).replace(/^ /, '');
          }
          if (fields.id !== undefined) lastId = Number(fields.id);
          if (fields.event === undefined && fields.data === undefined) continue;
          received.push({ id: fields.id !== undefined ? Number(fields.id) : null, event: fields.event ?? 'message', data: fields.data ? (JSON.parse(fields.data) as Record<string, unknown>) : {} });
        }
      }
    } catch (error) {
      if (!controller.signal.aborted) throw error;
    }
  })();
  return {
    response,
    received,
    get lastEventId() {
      return lastId;
    },
    waitFor: (predicate: (e: SseEvent) => boolean, timeoutMs = 10_000) => until(() => received.find(predicate), { timeoutMs, what: 'SSE event' }),
    async close() {
      controller.abort();
      await reading.catch(() => undefined);
    },
  };
}

// ---------------------------------------------------------------- Redis

/**
 * Deletes every key under the test's queue prefix (SCAN + DEL): what a FLUSHALL does to us,
 * without touching the other test files that share this Redis.
 */
export async function wipeRedisPrefix(redisUrl: string, prefix: string): Promise<number> {
  const redis = new Redis(redisUrl);
  let deleted = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) deleted += await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return deleted;
}

// ---------------------------------------------------------------- a second process

/**
 * Another worker process: its own pools, Redis connections, policy cache and metrics, on the
 * SAME database and Redis prefix as the context (as a second replica in production would be).
 */
export async function startSecondProcess(ctx: TestContext, options: { clock?: Clock; workers?: boolean; env?: Record<string, string> } = {}): Promise<{ deps: Dependencies; close(): Promise<void> }> {
  const config = loadConfig({
    DATABASE_URL: ctx.config.DATABASE_URL,
    REDIS_URL: ctx.config.REDIS_URL,
    QUEUE_PREFIX: ctx.config.QUEUE_PREFIX,
    SLA_RECONCILE_INTERVAL_MS: String(ctx.config.SLA_RECONCILE_INTERVAL_MS),
    SLA_WORKER_CONCURRENCY: String(ctx.config.SLA_WORKER_CONCURRENCY),
    LOG_LEVEL: 'silent',
    RATE_LIMIT_PER_MINUTE: '0',
    NODE_ENV: 'test',
    ...options.env,
  });
  const deps = createDependencies(config, { clock: options.clock ?? ctx.clock, logger: pino({ level: 'silent' }) });
  const workers = options.workers === false ? [] : await startWorkers(deps);
  return {
    deps,
    async close() {
      await Promise.all(workers.map((w) => w.close()));
      await deps.close();
    },
  };
}

export const SECOND = 1_000;
