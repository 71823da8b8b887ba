import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordEvents, type RecordedEvent } from '../../../src/modules/events/events.writer.js';
import { webhookSettingsOf } from '../../../src/modules/events/events.module.js';
import { createWebhookPump, type WebhookPump } from '../../../src/modules/events/webhook-pump.js';
import { client, manualClock } from '../../helpers/api.js';
import { createTestContext, type TestContext } from '../../helpers/context.js';
import { until } from '../../helpers/sla.js';

/**
 * The delivery chains (webhook-dispatch.ts) under a backlog of many resources: per-resource
 * order, exactly once, the per-subscription limit across two pumps (two worker processes), and
 * one failing resource never holding the others back.
 */

const RESOURCES = 24;
const PER_RESOURCE = 6;
const MAX_IN_FLIGHT = 3;

let ctx: TestContext;
const pumps: WebhookPump[] = [];
const servers: { close(): Promise<void> }[] = [];

beforeAll(async () => {
  ctx = await createTestContext({ env: { WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_MAX_IN_FLIGHT: String(MAX_IN_FLIGHT), WEBHOOK_BACKOFF_MS: '1000', WEBHOOK_TIMEOUT_MS: '5000' } });
});
afterAll(async () => {
  for (const p of pumps) await p.close();
  for (const s of servers) await s.close();
  await ctx?.close();
});

const ticketId = (run: string, i: number) => `${run}0000-0000-4000-8000-${String(i).padStart(12, '0')}`;
const updated = (id: string, n: number): RecordedEvent => ({
  type: 'ticket.updated',
  resource: { type: 'ticket', id },
  data: { ticketId: id, ticketNumber: n, changes: { priority: { from: 'normal', to: n % 2 ? 'high' : 'normal' } } },
  occurredAt: ctx.clock.now(),
});

/** A receiver that answers after a short hold (a subscriber doing some work), recording how many requests it held at once. */
async function slowReceiver(answer: (resourceId: string) => number) {
  const received: { id: number; resourceId: string; webhookId: string; status: number }[] = [];
  let open = 0;
  let maxOpen = 0;
  const server = createServer((req, res) => {
    open++;
    maxOpen = Math.max(maxOpen, open);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { id: string; resource: { id: string } };
      const status = answer(body.resource.id);
      received.push({ id: Number(body.id), resourceId: body.resource.id, webhookId: String(req.headers['webhook-id']), status });
      setTimeout(() => {
        open--;
        res.writeHead(status).end();
      }, 5);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const handle = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`,
    received,
    maxOpen: () => maxOpen,
    accepted: () => received.filter((r) => r.status < 300),
    close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
  servers.push(handle);
  return handle;
}

/** Writes PER_RESOURCE events for each of RESOURCES tickets, interleaved, several resources per transaction. */
async function writeBacklog(run: string) {
  for (let round = 0; round < PER_RESOURCE; round++) {
    for (let first = 0; first < RESOURCES; first += 4) {
      const batch = [0, 1, 2, 3].filter((k) => first + k < RESOURCES).map((k) => updated(ticketId(run, first + k), round));
      await ctx.deps.db.transaction((tx) => recordEvents(tx, batch));
    }
  }
}

async function subscribe(url: string) {
  const res = await client(ctx).post('/v1/webhook-subscriptions', { url, eventTypes: ['ticket.updated'] });
  expect(res.statusCode, res.body).toBe(201);
  return res.json<{ id: string }>();
}

function startPump() {
  const pump = createWebhookPump({ db: ctx.deps.db, clock: ctx.clock, logger: pino({ level: 'silent' }), databaseUrl: ctx.databaseUrl, settings: webhookSettingsOf(ctx.config) });
  pumps.push(pump);
  return pump.start();
}

function expectInOrderPerResource(received: { id: number; resourceId: string }[]) {
  const byResource = new Map<string, number[]>();
  for (const r of received) byResource.set(r.resourceId, [...(byResource.get(r.resourceId) ?? []), r.id]);
  for (const ids of byResource.values()) expect(ids).toEqual([...ids].sort((a, b) => a - b));
  return byResource;
}

describe('webhook delivery chains', () => {
  it('deliver a backlog over many resources exactly once, in order per resource, within the subscription limit across two pumps', async () => {
    const r = await slowReceiver(() => 200);
    const sub = await subscribe(r.url);
    await writeBacklog('aaaa');
    await startPump();
    await startPump();
    const total = RESOURCES * PER_RESOURCE;
    await until(() => (r.received.length >= total ? true : undefined), { timeoutMs: 60_000, what: `all ${total} deliveries` });

    expect(r.received).toHaveLength(total);
    expect(new Set(r.received.map((d) => d.webhookId)).size).toBe(total);
    const byResource = expectInOrderPerResource(r.received);
    expect(byResource.size).toBe(RESOURCES);
    expect(r.maxOpen()).toBeLessThanOrEqual(MAX_IN_FLIGHT);
    // Resources went out side by side, not one after the other (the limit was used).
    expect(r.maxOpen()).toBeGreaterThan(1);

    // Nothing left behind: every delivery settled, every chain gone.
    await until(async () => {
      const { rows } = await ctx.deps.pool.query(`select (select count(*)::int from webhook_delivery_chains where subscription_id = $1) as chains, (select count(*)::int from webhook_deliveries where subscription_id = $1 and state <> 'succeeded') as open`, [sub.id]);
      return rows[0].chains === 0 && rows[0].open === 0 ? true : undefined;
    }, { what: 'chains and deliveries settled' });
    await client(ctx).patch(`/v1/webhook-subscriptions/${sub.id}`, { active: false });
  }, 90_000);

  it('a resource whose deliveries fail waits alone: the others keep flowing, and it resumes in order', async () => {
    let failing = true;
    const stuck = ticketId('bbbb', 0);
    const r = await slowReceiver((resourceId) => (failing && resourceId === stuck ? 500 : 200));
    const sub = await subscribe(r.url);
    if (pumps.length === 0) await startPump();
    await writeBacklog('bbbb');

    const others = (RESOURCES - 1) * PER_RESOURCE;
    await until(() => (r.accepted().length >= others ? true : undefined), { timeoutMs: 60_000, what: 'every other resource delivered' });
    // The failing resource: only its first event was tried (again and again at most), nothing after it.
    const tried = r.received.filter((d) => d.resourceId === stuck);
    expect(tried.length).toBeGreaterThan(0);
    expect(new Set(tried.map((d) => d.webhookId)).size).toBe(1);
    const { rows } = await ctx.deps.pool.query(`select state, count(*)::int as n from webhook_deliveries where subscription_id = $1 and resource_key = $2 group by state order by state`, [sub.id, `ticket:${stuck}`]);
    expect(rows).toEqual([{ state: 'pending', n: PER_RESOURCE }]);

    // The subscriber recovers; the retry comes due on the service's clock and the chain drains in order.
    failing = false;
    await until(
      () => {
        if (r.accepted().filter((d) => d.resourceId === stuck).length >= PER_RESOURCE) return true;
        manualClock(ctx).advance(2_000);
        return undefined;
      },
      { timeoutMs: 60_000, intervalMs: 100, what: 'the failing resource drained after recovery' },
    );
    const ids = r.accepted().filter((d) => d.resourceId === stuck).map((d) => d.id);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(new Set(ids).size).toBe(PER_RESOURCE);
    expectInOrderPerResource(r.accepted());
  }, 120_000);
});
