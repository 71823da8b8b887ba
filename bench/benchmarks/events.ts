import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { createDatabase } from '../../src/db/client.js';
import { recordEvents } from '../../src/modules/events/events.writer.js';
import type { Benchmark } from '../lib/bench.js';
import { measured, type Row } from '../lib/report.js';
import { summarize } from '../lib/stats.js';

/** The offered load of the issue: 1,000 events a second. */
const RATE = 1_000;
/** Events written per tick (every 10 ms), each in a transaction of its own. */
const PER_TICK = RATE / 100;
/** Resources the events are about: a resource's events go one at a time, so more resources, more parallelism. */
const RESOURCES = 500;

const resourceId = (i: number) => `00000000-0000-4000-8000-${String(i % RESOURCES).padStart(12, '0')}`;
const eventOf = (i: number) => ({
  type: 'ticket.updated' as const,
  resource: { type: 'ticket' as const, id: resourceId(i) },
  data: { ticketId: resourceId(i), ticketNumber: i % RESOURCES, changes: { priority: { from: 'normal', to: i % 2 ? 'high' : 'normal' } } },
});

/** A local receiver: records when each body's marker arrived, answers 200. */
async function startReceiver(markerOf: (body: string) => number) {
  const arrivals = new Map<number, number>();
  let orderViolations = 0;
  const lastByResource = new Map<string, number>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const marker = markerOf(body);
      if (!arrivals.has(marker)) arrivals.set(marker, performance.now());
      const parsed = JSON.parse(body) as { id?: string; resource?: { id: string } };
      if (parsed.id && parsed.resource) {
        const id = Number(parsed.id);
        if ((lastByResource.get(parsed.resource.id) ?? 0) > id) orderViolations++;
        lastByResource.set(parsed.resource.id, id);
      }
      res.writeHead(200).end();
    });
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`,
    arrivals,
    orderViolations: () => orderViolations,
    close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}

/** Runs `work(i)` for i in [0, total) at RATE per second in ticks of 10 ms; answers when all settled. */
async function paced(total: number, signal: AbortSignal, work: (i: number) => Promise<void>): Promise<{ elapsedSec: number; failures: number }> {
  const started = performance.now();
  const pending: Promise<void>[] = [];
  let failures = 0;
  for (let tick = 0; tick * PER_TICK < total && !signal.aborted; tick++) {
    const due = started + tick * 10;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    for (let k = 0; k < PER_TICK && tick * PER_TICK + k < total; k++) pending.push(work(tick * PER_TICK + k).catch(() => void failures++));
  }
  await Promise.all(pending);
  return { elapsedSec: (performance.now() - started) / 1000, failures };
}

async function waitFor(done: () => boolean, maxMs: number, signal: AbortSignal): Promise<boolean> {
  const deadline = performance.now() + maxMs;
  while (!done() && performance.now() < deadline && !signal.aborted) await new Promise((resolve) => setTimeout(resolve, 20));
  return done();
}

/**
 * Event webhooks (issue 15): `size` catalog events committed at 1,000/s (each in its own
 * transaction, through the outbox writer the service uses) are delivered by the service's
 * worker to a local receiver, signed. Measured: delivery throughput, and the lag from each
 * event's commit to its arrival (p50/p99). Baseline: the same payloads POSTed straight to the
 * same receiver at the same rate (what a subscriber would get from a fire-and-forget sender
 * with no outbox, no signature, no retries): its lag is send-to-arrival.
 */
export const events: Benchmark = {
  name: 'events',
  description: 'event webhooks at 1,000 events/s to a local receiver: delivery throughput and commit-to-delivery lag, beside plain HTTP POSTs of the same payloads',
  sizeUnit: 'events',
  sizes: { quick: 5_000, full: 30_000 },

  async run(context): Promise<Row[]> {
    const name = 'events';
    const total = context.size;
    const database = await context.env.createDatabase('events_product');
    const service = await context.startService({ label: 'events', databaseUrl: database.url, env: { WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_MAX_IN_FLIGHT: '64' } });
    const pool = new pg.Pool({ connectionString: database.url, max: 16 });
    pool.on('error', () => undefined);
    const committedAt = new Map<number, number>();
    const product = await startReceiver((body) => Number((JSON.parse(body) as { id: string }).id));
    const baseline = await startReceiver((body) => (JSON.parse(body) as { marker: number }).marker);
    try {
      const res = await fetch(`${service.url}/v1/webhook-subscriptions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${context.adminApiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ url: product.url, eventTypes: ['ticket.updated'] }),
      });
      if (res.status !== 201) throw new Error(`subscription answered ${res.status}: ${await res.text()}`);

      context.log(`product: ${total} events at ${RATE}/s, one transaction each`);
      const written = await paced(total, context.signal, async (i) => {
        const client = await pool.connect();
        try {
          await client.query('begin');
          await recordEvents(createDatabase(client as unknown as pg.Pool), [eventOf(i)]);
          const { rows } = await client.query<{ id: string }>(`select currval('domain_events_id_seq')::text as id`);
          await client.query('commit');
          committedAt.set(Number(rows[0]!.id), performance.now());
        } catch (error) {
          await client.query('rollback').catch(() => undefined);
          throw error;
        } finally {
          client.release();
        }
      });
      const firstCommit = Math.min(...committedAt.values());
      const complete = await waitFor(() => product.arrivals.size >= committedAt.size, 120_000, context.signal);
      const lastArrival = Math.max(...product.arrivals.values());
      const lags: number[] = [];
      for (const [id, at] of committedAt) {
        const arrived = product.arrivals.get(id);
        if (arrived !== undefined) lags.push(arrived - at);
      }
      const productStats = summarize(lags);
      const productRate = product.arrivals.size / ((lastArrival - firstCommit) / 1000);
      context.log(`product: ${product.arrivals.size}/${committedAt.size} delivered, ${productRate.toFixed(0)}/s, lag p50 ${productStats.p50.toFixed(1)} ms p99 ${productStats.p99.toFixed(1)} ms`);

      context.log(`baseline: ${total} plain POSTs at ${RATE}/s`);
      const sentAt = new Map<number, number>();
      const agent = new Agent({ keepAlive: true, maxSockets: 64 });
      const posted = await paced(total, context.signal, async (i) => {
        const body = JSON.stringify({ marker: i, id: String(i), type: 'ticket.updated', version: 1, occurredAt: new Date().toISOString(), resource: { type: 'ticket', id: resourceId(i) }, data: eventOf(i).data });
        sentAt.set(i, performance.now());
        await post(baseline.url, body, agent);
      });
      await waitFor(() => baseline.arrivals.size >= total, 30_000, context.signal);
      const baseLags: number[] = [];
      for (const [i, at] of sentAt) {
        const arrived = baseline.arrivals.get(i);
        if (arrived !== undefined) baseLags.push(arrived - at);
      }
      const baseStats = summarize(baseLags);
      const baseRate = baseline.arrivals.size / ((Math.max(...baseline.arrivals.values()) - Math.min(...sentAt.values())) / 1000);
      agent.destroy();
      context.log(`baseline: ${baseline.arrivals.size} delivered, ${baseRate.toFixed(0)}/s, lag p50 ${baseStats.p50.toFixed(1)} ms p99 ${baseStats.p99.toFixed(1)} ms`);

      const memory = await service.stop();
      context.details.product = { written, delivered: product.arrivals.size, lag: productStats, perSec: productRate, orderViolations: product.orderViolations(), memory };
      context.details.baseline = { posted, delivered: baseline.arrivals.size, lag: baseStats, perSec: baseRate };
      const problems = [
        ...(complete ? [] : [`${committedAt.size - product.arrivals.size} of ${committedAt.size} events not delivered within 120 s`]),
        ...(written.failures ? [`${written.failures} event writes failed`] : []),
      ];
      const note = `${total} events at ${RATE}/s over ${RESOURCES} tickets, one subscription (WEBHOOK_MAX_IN_FLIGHT 64); baseline: the same payloads POSTed directly, keep-alive`;
      return [
        measured({ benchmark: name, metric: 'delivery throughput at 1,000 events/s offered', unit: 'events/s', product: productRate, baseline: baseRate, problems, note, target: { kind: 'at-least', value: RATE * 0.95, unit: 'events/s' } }),
        measured({ benchmark: name, metric: 'commit-to-delivery lag p50', unit: 'ms', product: productStats.p50, baseline: baseStats.p50, problems }),
        measured({ benchmark: name, metric: 'commit-to-delivery lag p99', unit: 'ms', product: productStats.p99, baseline: baseStats.p99, problems }),
        measured({ benchmark: name, metric: 'events lost', product: committedAt.size - product.arrivals.size, baseline: total - baseline.arrivals.size, target: { kind: 'equals', value: 0 } }),
        measured({ benchmark: name, metric: 'out of order per resource', product: product.orderViolations(), target: { kind: 'equals', value: 0 } }),
      ];
    } finally {
      await service.stop().catch(() => undefined);
      await product.close();
      await baseline.close();
      await pool.end();
    }
  },
};

/** One plain POST (the baseline's whole delivery). */
function post(url: string, body: string, agent: Agent): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', resolve);
    });
    req.on('error', reject);
    req.end(body);
  });
}
