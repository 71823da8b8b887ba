import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../../src/shared/clock.js';
import { bearer, createTestContext, type TestContext } from '../../helpers/context.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext({ clock: systemClock, env: { SLA_RECONCILE_INTERVAL_MS: '500' } });
  await ctx.startWorkers();
});
afterAll(async () => ctx?.close());

async function until<T>(probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('SLA breach (smoke)', () => {
  it('warns then breaches a 1-second first-response target', async () => {
    const auth = bearer(ctx.adminToken);
    const policy = await ctx.app.inject({ method: 'POST', url: '/v1/sla/policies', headers: auth, payload: { name: 'fast', position: 0, match: {}, targets: { firstResponse: 1 }, warnAt: 0.5 } });
    expect(policy.statusCode, policy.body).toBe(201);
    const created = await ctx.app.inject({ method: 'POST', url: '/v1/tickets', headers: auth, payload: { channel: 'email', customer: { email: 'x@example.com' }, subject: 's', body: 'b' } });
    expect(created.statusCode, created.body).toBe(201);
    const ticket = created.json();
    expect(ticket.sla[0]).toMatchObject({ metric: 'first_response', state: 'running' });
    const events = await until(async () => {
      const res = await ctx.app.inject({ method: 'GET', url: `/v1/tickets/${ticket.id}/events`, headers: auth });
      const types = res.json().items.map((e: { type: string }) => e.type);
      return types.includes('sla_breached') ? types : undefined;
    });
    expect(events.indexOf('sla_warning')).toBeLessThan(events.indexOf('sla_breached'));
    const queue = await ctx.app.inject({ method: 'GET', url: '/v1/sla/breaches', headers: auth });
    expect(queue.json().items).toHaveLength(1);
  });
});
