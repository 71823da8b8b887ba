import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT_TYPES } from '../../../src/domain/events/catalog.js';
import { outbox } from '../../../src/modules/delivery/delivery.table.js';
import { recordEvent } from '../../../src/modules/events/events.writer.js';
import { startWebhookPump } from '../../../src/modules/events/events.module.js';
import { createSubscriptionService } from '../../../src/modules/events/subscriptions.service.js';
import type { WebhookPump } from '../../../src/modules/events/webhook-pump.js';
import { evaluateKpiTargets } from '../../../src/modules/reports/kpi-targets.service.js';
import { breaches } from '../../../src/modules/sla/sla.table.js';
import { client, createAgent, createTicket, expectProblem, manualClock, patchTicket, type TicketJson } from '../../helpers/api.js';
import { createTestContext, type TestContext } from '../../helpers/context.js';
import { createPolicy, until } from '../../helpers/sla.js';
import { startReceiver, verifyStandardWebhook } from './receiver.js';

let ctx: TestContext;
let pump: WebhookPump;
const receivers: { close(): Promise<void> }[] = [];

beforeAll(async () => {
  ctx = await createTestContext({
    env: {
      WEBHOOK_ALLOW_PRIVATE: 'true',
      WEBHOOK_TIMEOUT_MS: '1500',
      WEBHOOK_BACKOFF_MS: '1000',
      WEBHOOK_DISABLE_AFTER_FAILURES: '1',
      PUBLIC_BASE_URL: 'https://desk.example.com',
    },
  });
  pump = await startWebhookPump(ctx.deps);
});
afterAll(async () => {
  await pump?.close();
  for (const r of receivers) await r.close();
  await ctx?.close();
});

async function receiver(behave?: Parameters<typeof startReceiver>[0]) {
  // The receiver reads the service's (manual) clock when it checks a timestamp's freshness.
  const r = await startReceiver(behave, () => ctx.clock.now());
  receivers.push(r);
  return r;
}

interface Created {
  id: string;
  secret: string;
}
async function subscribe(url: string, eventTypes?: string[]): Promise<Created> {
  const res = await client(ctx).post('/v1/webhook-subscriptions', { url, ...(eventTypes ? { eventTypes } : {}) });
  expect(res.statusCode, res.body).toBe(201);
  return res.json<Created>();
}

/** Moves the manual clock on until `probe` answers: retries come due on the service's clock. */
const advancingUntil = <T>(probe: () => Promise<T | undefined> | T | undefined, stepMs: number, what: string) =>
  until(
    async () => {
      const found = await probe();
      if (found === undefined) manualClock(ctx).advance(stepMs);
      return found;
    },
    { what, timeoutMs: 60_000, intervalMs: 100 },
  );

/**
 * Waits until the pump is idle: every recorded event dispatched, no delivery waiting or in
 * flight. A scripted life jumps the manual clock by minutes and hours; a jump during a request
 * (a few ms in reality) would expire its lease (the timeout + 60 s) and send it a second time,
 * which is what a lease is for but not what this script tests.
 */
const pumpIdle = () =>
  until(
    async () => {
      const { rows } = await ctx.deps.pool.query<{ busy: boolean }>(`
        select exists (select 1 from webhook_deliveries where state in ('pending', 'delivering'))
            or exists (select 1 from domain_events e join webhook_dispatch_cursor c on c.id = 1 where (e.tx_id, e.id) > (c.tx_id, c.event_id)) as busy`);
      return rows[0]!.busy ? undefined : true;
    },
    { what: 'the webhook pump idle' },
  );

describe('webhook subscriptions', () => {
  it('deliver every catalog event of a scripted ticket life, in order per resource, signed per Standard Webhooks', async () => {
    const r = await receiver();
    const sub = await subscribe(r.url);
    expect(sub.secret).toMatch(/^whsec_/);
    const clock = manualClock(ctx);

    const agent = await createAgent(ctx);
    await createPolicy(ctx, { targets: { firstResponse: 60 }, escalation: [{ afterSec: 0, actions: [{ type: 'priority', raise: true }] }] });
    const ticket = await createTicket(ctx, { priority: 'normal' });
    expect((await patchTicket(ctx, ticket, { assigneeId: agent.id, version: ticket.version })).statusCode).toBe(200);
    const afterAssign = (await client(ctx).get(`/v1/tickets/${ticket.id}`)).json<TicketJson>();
    expect((await patchTicket(ctx, ticket, { priority: 'high', tags: ['vip'], version: afterAssign.version })).statusCode).toBe(200);
    expect((await client(ctx).post(`/v1/tickets/${ticket.id}/messages`, { body: 'internal', public: false })).statusCode).toBe(201);

    // The first-response clock warns and breaches; its escalation level runs.
    await pumpIdle();
    clock.advance(55_000);
    await ctx.deps.slaService.reconcile();
    await pumpIdle();
    clock.advance(6_000);
    await ctx.deps.slaService.reconcile();
    const [breach] = await ctx.deps.db.select().from(breaches).where(eq(breaches.ticketId, ticket.id));
    expect(breach).toBeDefined();
    if (breach!.escalationLevel < 1) await ctx.deps.slaService.escalate(breach!.id, 1);

    // Promises: one comes due unkept, one is marked broken.
    const due = new Date(clock.now().getTime() + 3_600_000).toISOString();
    const kept = await client(ctx).post(`/v1/tickets/${ticket.id}/commitments`, { description: 'call back', dueAt: due });
    expect(kept.statusCode, kept.body).toBe(201);
    const broken = await client(ctx).post(`/v1/tickets/${ticket.id}/commitments`, { description: 'refund', dueAt: due });
    expect((await client(ctx).patch(`/v1/tickets/${ticket.id}/commitments/${broken.json<{ id: string }>().id}`, { state: 'broken' })).statusCode).toBe(200);
    await pumpIdle();
    clock.advance(2 * 3_600_000);
    await ctx.deps.commitments.reconcile();

    // Solved by a public reply; the customer answers the survey.
    expect((await client(ctx).post(`/v1/tickets/${ticket.id}/messages`, { body: 'Fixed', public: true, status: 'solved' })).statusCode).toBe(201);
    const offers = await ctx.deps.db.select().from(outbox).where(eq(outbox.ticketId, ticket.id));
    const token = offers.map((o) => /\/v1\/csat\/([A-Za-z0-9_-]+)/.exec(o.payload?.text ?? '')?.[1]).find(Boolean);
    expect(token).toBeDefined();
    expect((await ctx.app.inject({ method: 'POST', url: `/v1/csat/${token}`, payload: { score: 5, comment: 'private words' } })).statusCode).toBe(201);

    // Another ticket of the same customer merged into it; another customer merged into this one.
    const second = await createTicket(ctx, { customerId: ticket.customerId });
    expect((await client(ctx).post(`/v1/tickets/${second.id}/merge`, { targetTicketId: ticket.id })).statusCode).toBe(200);
    const other = await createTicket(ctx);
    expect((await client(ctx).post(`/v1/customers/${other.customerId}/merge`, { targetCustomerId: ticket.customerId })).statusCode).toBe(200);

    // A KPI alarm raised and cleared.
    const put = (threshold: number) =>
      ctx.app.inject({ method: 'PUT', url: '/v1/kpi-targets', headers: { authorization: `Bearer ${ctx.adminToken}` }, payload: { kpi: 'backlog', scope: { kind: 'all' }, threshold, direction: 'above', windowHours: 24 } });
    expect((await put(0)).statusCode).toBeLessThan(300);
    await evaluateKpiTargets(ctx.deps.db, clock.now());
    expect((await put(1_000_000)).statusCode).toBeLessThan(300);
    await evaluateKpiTargets(ctx.deps.db, clock.now());

    // Erasure is the privacy module's; it emits through the same writer.
    await ctx.deps.db.transaction((tx) => recordEvent(tx, { type: 'customer.erased', resource: { type: 'customer', id: other.customerId! }, data: { customerId: other.customerId! }, occurredAt: clock.now() }));

    const missing = () => EVENT_TYPES.filter((t) => !r.accepted().some((e) => e.type === t));
    const all = await until(() => (missing().length === 0 ? r.accepted() : undefined), { timeoutMs: 20_000 }).catch(() => {
      throw new Error(`event types never delivered: ${missing().join(', ')}`);
    });

    // Each delivery verifies with the subscription's secret (an implementation of our own).
    for (const d of r.deliveries) expect(verifyStandardWebhook(sub.secret, d.headers, d.body, { now: d.clockAt })).toBe(true);
    const first = r.deliveries[0]!;
    expect(verifyStandardWebhook(`whsec_${Buffer.alloc(32, 7).toString('base64')}`, first.headers, first.body, { now: first.clockAt })).toBe(false);
    expect(verifyStandardWebhook(sub.secret, first.headers, first.body.replace('}', ' }'), { now: first.clockAt })).toBe(false);
    expect(verifyStandardWebhook(sub.secret, first.headers, first.body, { now: new Date(first.clockAt.getTime() + 3_600_000) })).toBe(false);

    // In order per resource: ids ascending as received, and the ticket's life as it happened.
    const byResource = new Map<string, number[]>();
    for (const e of all) byResource.set(`${e.resource.type}:${e.resource.id}`, [...(byResource.get(`${e.resource.type}:${e.resource.id}`) ?? []), Number(e.id)]);
    for (const ids of byResource.values()) expect(ids).toEqual([...ids].sort((a, b) => a - b));
    const life = all.filter((e) => e.resource.id === ticket.id).map((e) => e.type);
    expect(life.slice(0, 4)).toEqual(['ticket.created', 'message.created', 'ticket.assigned', 'ticket.updated']);
    expect(life.indexOf('sla.warning')).toBeLessThan(life.indexOf('sla.breached'));
    expect(life.indexOf('sla.breached')).toBeLessThan(life.indexOf('sla.escalated'));
    expect(life.indexOf('ticket.status_changed')).toBeLessThan(life.indexOf('csat.responded'));
    const updated = all.find((e) => e.type === 'ticket.updated' && e.resource.id === ticket.id)!;
    expect(updated.data).toMatchObject({ changes: { priority: { from: 'normal', to: 'high' }, tags: { from: [], to: ['vip'] } } });
    // The survey's comment (the customer's words) never leaves in an event.
    expect(JSON.stringify(all)).not.toContain('private words');
    expect(r.deliveries.every((d) => d.headers['content-type'] === 'application/json' && /^msg_\d+$/.test(String(d.headers['webhook-id'])))).toBe(true);

    // The delivery log answers state, attempts, response code and latency.
    // (The receiver may have the last events before their settlement commits: wait for it.)
    const items = await until(async () => {
      const log = await client(ctx).get(`/v1/webhook-subscriptions/${sub.id}/deliveries?limit=200`);
      expect(log.statusCode).toBe(200);
      const found = log.json<{ items: { state: string; attempts: number; lastResponseCode: number; lastLatencyMs: number }[] }>().items;
      return found.some((i) => i.state === 'delivering') ? undefined : found;
    }, { what: 'every delivery settled' });
    expect(items.length).toBeGreaterThanOrEqual(EVENT_TYPES.length);
    expect(items.filter((i) => !(i.state === 'succeeded' && i.attempts === 1 && i.lastResponseCode === 200 && i.lastLatencyMs >= 0))).toEqual([]);
  }, 60_000);

  it('survive 500s, timeouts and a dead port with retries, lose nothing, keep order, and redeliver on request', async () => {
    // The first attempt of each event is answered 500, the second hangs past the timeout, the third succeeds.
    const flaky = await receiver((_body, attempt) => (attempt === 1 ? 500 : attempt === 2 ? 'hang' : 200));
    const dead = await receiver();
    const flakySub = await subscribe(flaky.url, ['ticket.created', 'ticket.updated']);
    const deadSub = await subscribe(dead.url, ['ticket.created', 'ticket.updated']);
    const deadPort = dead.port;
    await dead.close();

    const tickets: TicketJson[] = [];
    for (let i = 0; i < 3; i++) tickets.push(await createTicket(ctx, { priority: 'low' }));
    for (const t of tickets) expect((await patchTicket(ctx, t, { priority: 'urgent', version: t.version })).statusCode).toBe(200);
    const expected = tickets.flatMap((t) => [`${t.id}:ticket.created`, `${t.id}:ticket.updated`]).sort();

    const delivered = await advancingUntil(() => {
      const got = flaky.accepted().map((e) => `${e.resource.id}:${e.type}`).sort();
      return got.length >= expected.length ? got : undefined;
    }, 2_000, 'every event through 500s and timeouts');
    expect(delivered).toEqual(expected);
    for (const t of tickets) {
      const seq = flaky.accepted().filter((e) => e.resource.id === t.id).map((e) => e.type);
      expect(seq).toEqual(['ticket.created', 'ticket.updated']);
    }
    const attempts = flaky.deliveries.map((d) => d.answered);
    expect(attempts).toContain(500);
    expect(attempts).toContain('hang');

    // The dead port comes back (a receiver on the same port): the retries deliver everything.
    const back = await startReceiverOn(deadPort);
    receivers.push(back);
    const fromDead = await advancingUntil(() => (back.accepted().length >= expected.length ? back.accepted() : undefined), 2_000, 'every event after the port came back');
    expect(fromDead.map((e) => `${e.resource.id}:${e.type}`).sort()).toEqual(expected);
    const deadLog = await until(async () => {
      const items = (await client(ctx).get(`/v1/webhook-subscriptions/${deadSub.id}/deliveries`)).json<{ items: { attempts: number; state: string; eventType: string }[] }>().items;
      return items.every((d) => d.state === 'succeeded') ? items : undefined;
    }, { what: 'the dead port deliveries settled' });
    // Each ticket's first event met the dead port; its second waited for it (order per resource).
    expect(deadLog.filter((d) => d.eventType === 'ticket.created').every((d) => d.attempts >= 2)).toBe(true);

    // Redelivery on request: the same webhook-id again.
    const log = (await client(ctx).get(`/v1/webhook-subscriptions/${flakySub.id}/deliveries`)).json<{ items: { id: string; eventId: number }[] }>().items;
    const target = log[0]!;
    const before = flaky.deliveries.length;
    const again = await client(ctx).post(`/v1/webhook-subscriptions/${flakySub.id}/deliveries/${target.id}/redeliver`);
    expect(again.statusCode, again.body).toBe(202);
    const redelivered = await until(() => flaky.deliveries.slice(before).find((d) => d.headers['webhook-id'] === `msg_${target.eventId}` && d.answered === 200), {
      what: 'the redelivery',
    });
    expect(JSON.parse(redelivered.body).id).toBe(String(target.eventId));
  });

  it('a subscription that keeps failing is disabled, with an alarm; re-enabling clears it', async () => {
    const watcher = await receiver();
    await subscribe(watcher.url, ['alarm.raised', 'alarm.cleared']);
    const failing = await receiver(() => 500);
    const sub = await subscribe(failing.url, ['ticket.created']);
    await createTicket(ctx);
    await advancingUntil(async () => {
      const row = (await client(ctx).get(`/v1/webhook-subscriptions/${sub.id}`)).json<{ active: boolean; disabledReason: string | null }>();
      return row.active ? undefined : row;
    }, 3_600_000, 'the subscription disabled after 24 h of failures');
    const alarm = await until(() => watcher.accepted().find((e) => e.type === 'alarm.raised' && e.data.targetId === sub.id), { what: 'alarm.raised' });
    expect(alarm.data).toMatchObject({ source: 'webhook_subscription', alarmId: `webhook-subscription:${sub.id}` });
    const failed = (await client(ctx).get(`/v1/webhook-subscriptions/${sub.id}/deliveries?state=failed`)).json<{ items: { attempts: number }[] }>().items;
    expect(failed.length).toBe(1);
    expect(failed[0]!.attempts).toBeGreaterThan(3);

    const enabled = await client(ctx).patch(`/v1/webhook-subscriptions/${sub.id}`, { active: true });
    expect(enabled.json()).toMatchObject({ active: true, disabledReason: null });
    await until(() => watcher.accepted().find((e) => e.type === 'alarm.cleared' && e.data.targetId === sub.id), { what: 'alarm.cleared' });
  });

  it('rotates the secret with an overlap: both secrets sign until it ends', async () => {
    const r = await receiver();
    const sub = await subscribe(r.url, ['ticket.created']);
    const rotated = await client(ctx).post(`/v1/webhook-subscriptions/${sub.id}/rotate-secret`);
    expect(rotated.statusCode).toBe(200);
    const { secret } = rotated.json<{ secret: string }>();
    expect(secret).not.toBe(sub.secret);
    await createTicket(ctx);
    const d = await until(() => r.deliveries[0], { what: 'a delivery' });
    expect(String(d.headers['webhook-signature']).split(' ')).toHaveLength(2);
    expect(verifyStandardWebhook(secret, d.headers, d.body, { now: d.clockAt })).toBe(true);
    expect(verifyStandardWebhook(sub.secret, d.headers, d.body, { now: d.clockAt })).toBe(true);
    // The secret is never shown again.
    expect(JSON.stringify((await client(ctx).get(`/v1/webhook-subscriptions/${sub.id}`)).json())).not.toContain('whsec_');
  });

  it('refuses bad input naming the field', async () => {
    const r = await receiver();
    expectProblem(await client(ctx).post('/v1/webhook-subscriptions', { url: r.url, eventTypes: ['ticket.created', 'ticket.exploded'] }), 400, { field: 'body.eventTypes[1]' });
    expectProblem(await client(ctx).post('/v1/webhook-subscriptions', { url: 'not a url' }), 400, { field: 'body.url' });
    // Unreachable when saved: a port nobody listens on.
    const gone = await startReceiver();
    const url = gone.url;
    await gone.close();
    expectProblem(await client(ctx).post('/v1/webhook-subscriptions', { url }), 400, { field: 'body.url' });
    // Without WEBHOOK_ALLOW_PRIVATE: https only, and no private or loopback address.
    const strict = createSubscriptionService({ db: ctx.deps.db, clock: ctx.clock, outbound: { allowPrivate: false, allowHttp: false }, retry: { backoffMs: 1000, retryHours: 24 }, secretOverlapHours: 1 });
    await expect(strict.create({ url: r.url })).rejects.toMatchObject({ status: 400, errors: [{ field: 'body.url' }] });
    await expect(strict.create({ url: 'https://127.0.0.1/hooks' })).rejects.toMatchObject({ status: 400, errors: [{ field: 'body.url', message: expect.stringContaining('private or internal') }] });
    await expect(strict.create({ url: 'https://169.254.169.254/latest' })).rejects.toMatchObject({ status: 400 });
    // Admins only.
    const agentToken = (await client(ctx).post('/v1/api-keys', { name: 'a', role: 'supervisor' })).json<{ token: string }>().token;
    expect((await client(ctx, agentToken).get('/v1/webhook-subscriptions')).statusCode).toBe(403);
    expect((await client(ctx).get('/v1/webhook-subscriptions/00000000-0000-4000-8000-000000000000')).statusCode).toBe(404);
  });

  it('lists the catalog at GET /v1/events/types', async () => {
    const res = await client(ctx).get('/v1/events/types');
    expect(res.statusCode).toBe(200);
    const items = res.json<{ items: { type: string; version: number; schema: string }[] }>().items;
    expect(items.map((i) => i.type).sort()).toEqual([...EVENT_TYPES].sort());
    expect(items.find((i) => i.type === 'ticket.status_changed')).toMatchObject({ version: 1, schema: '#/components/schemas/EventTicketStatusChanged' });
  });
});

async function startReceiverOn(port: number) {
  const { createServer } = await import('node:http');
  // Listens again on the dead subscription's port, with a fresh recorder.
  const deliveries: { body: string }[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      deliveries.push({ body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    accepted: () => deliveries.map((d) => JSON.parse(d.body) as { id: string; type: string; resource: { id: string } }),
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
