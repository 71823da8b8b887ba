import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordEvents, type RecordedEvent } from '../../../src/modules/events/events.writer.js';
import { startWebhookPump } from '../../../src/modules/events/events.module.js';
import { dispatchEvents } from '../../../src/modules/events/webhook-dispatch.js';
import { createRetentionService } from '../../../src/modules/privacy/retention.service.js';
import { client, manualClock } from '../../helpers/api.js';
import { createTestContext, type TestContext } from '../../helpers/context.js';
import { until } from '../../helpers/sla.js';
import { startReceiver } from './receiver.js';

/*
 * Retention of the outbox and the webhook delivery log (retention.service.ts): past the payload
 * days, finished deliveries go, and events go once nothing refers to them; a delivery still
 * being retried keeps itself and its event, and recent rows stay.
 */

let ctx: TestContext;
const receivers: { close(): Promise<void> }[] = [];
const DAY = 86_400_000;

beforeAll(async () => {
  ctx = await createTestContext({ env: { WEBHOOK_ALLOW_PRIVATE: 'true' } });
});
afterAll(async () => {
  for (const r of receivers) await r.close();
  await ctx?.close();
});

const updated = (id: string, n: number): RecordedEvent => ({
  type: 'ticket.updated',
  resource: { type: 'ticket', id },
  data: { ticketId: id, ticketNumber: n, changes: { priority: { from: 'normal', to: 'high' } } },
  occurredAt: ctx.clock.now(),
});
const ticket = (i: number) => `cccc0000-0000-4000-8000-${String(i).padStart(12, '0')}`;

async function ids(sqlText: string, params: unknown[]): Promise<number[]> {
  const { rows } = await ctx.deps.pool.query<{ id: number }>(sqlText, params);
  return rows.map((r) => Number(r.id)).sort((a, b) => a - b);
}

describe('retention of domain events and webhook deliveries', () => {
  it('deletes finished deliveries and unreferenced events past the payload days, in batches; keeps pending ones and recent rows', async () => {
    const clock = manualClock(ctx);
    const r = await startReceiver(() => 200, () => ctx.clock.now());
    receivers.push(r);
    const res = await client(ctx).post('/v1/webhook-subscriptions', { url: r.url, eventTypes: ['ticket.updated'] });
    expect(res.statusCode, res.body).toBe(201);
    const sub = res.json<{ id: string }>();

    // Old: three events delivered by the pump...
    await ctx.deps.db.transaction((tx) => recordEvents(tx, [updated(ticket(1), 1), updated(ticket(2), 2), updated(ticket(3), 3)]));
    const pump = await startWebhookPump(ctx.deps);
    try {
      await until(() => (r.accepted().length >= 3 ? true : undefined), { what: 'three deliveries' });
      await until(async () => ((await ids(`select id from webhook_deliveries where subscription_id = $1 and state = 'succeeded'`, [sub.id])).length === 3 ? true : undefined), { what: 'three settled' });
    } finally {
      await pump.close();
    }
    const delivered = await ids(`select event_id as id from webhook_deliveries where subscription_id = $1`, [sub.id]);
    // ...and one dispatched but not sent yet (still pending: it is retried, it must stay).
    await ctx.deps.db.transaction((tx) => recordEvents(tx, [updated(ticket(4), 4)]));
    await until(async () => ((await dispatchEvents(ctx.deps.db, ctx.clock.now(), { backoffMs: 1000, retryHours: 24 })).deliveries > 0 ? true : undefined), { what: 'the pending delivery dispatched' });
    const [pendingEvent] = await ids(`select event_id as id from webhook_deliveries where subscription_id = $1 and state = 'pending'`, [sub.id]);
    expect(pendingEvent).toBeDefined();

    // 100 days later (the default keeps payloads 90 days), one recent event, delivered.
    clock.advance(100 * DAY);
    await ctx.deps.db.transaction((tx) => recordEvents(tx, [updated(ticket(5), 5)]));
    await until(async () => ((await dispatchEvents(ctx.deps.db, ctx.clock.now(), { backoffMs: 1000, retryHours: 24 })).deliveries > 0 ? true : undefined), { what: 'the recent delivery dispatched' });
    const [recentEvent] = await ids(`select id from domain_events where resource_id = $1`, [ticket(5)]);

    // Batches of 2, one per rule and run: the first run leaves some for the next.
    const retention = createRetentionService({ db: ctx.deps.db, clock: ctx.clock, logger: ctx.deps.logger, batchSize: 2, maxBatches: 1 });
    const first = await retention.run();
    expect(first).toMatchObject({ webhookDeliveriesDeleted: 2, more: true });
    let total = { deliveries: first.webhookDeliveriesDeleted, events: first.eventsDeleted };
    for (let run = 0; run < 10; run++) {
      const next = await retention.run();
      total = { deliveries: total.deliveries + next.webhookDeliveriesDeleted, events: total.events + next.eventsDeleted };
      if (!next.more) break;
    }
    expect(total.deliveries).toBe(3);

    // The delivered old events are gone with their deliveries; the pending one and the recent one stay, with theirs.
    expect(await ids(`select id from domain_events where id = any($1::bigint[])`, [delivered])).toEqual([]);
    expect(await ids(`select event_id as id from webhook_deliveries where subscription_id = $1`, [sub.id])).toEqual([pendingEvent, recentEvent].sort((a, b) => a! - b!));
    expect(await ids(`select id from domain_events where id = any($1::bigint[])`, [[pendingEvent, recentEvent]])).toEqual([pendingEvent, recentEvent].sort((a, b) => a! - b!));
    expect(total.events).toBeGreaterThanOrEqual(3);
  }, 60_000);
});
