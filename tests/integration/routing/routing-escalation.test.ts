import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../../src/shared/clock.js';
import { client, createAgent, createTeam, createTicket, type TicketJson } from '../../helpers/api.js';
import { bearer, createTestContext, type TestContext } from '../../helpers/context.js';
import { createPolicy } from '../../helpers/sla.js';

/** Escalation on the real clock (BullMQ delays) hands the ticket to routing in the new team. */
let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext({ clock: systemClock, env: { SLA_RECONCILE_INTERVAL_MS: '500' } });
  await ctx.startWorkers();
});
afterAll(async () => ctx?.close());

describe('escalation and routing', () => {
  it('"reassign to a team" leaves the ticket waiting in that team, and routing gives it to an agent there', async () => {
    const [first, escalation] = [await createTeam(ctx), await createTeam(ctx)];
    await createPolicy(ctx, { match: { teamIds: [first.id] }, targets: { firstResponse: 1 }, escalation: [{ afterSec: 0, actions: [{ type: 'reassign', teamId: escalation.id }] }] });
    const owner = await createAgent(ctx, { teamId: first.id, languages: ['en'] });
    const senior = await createAgent(ctx, { teamId: escalation.id, languages: ['en'] });
    const online = await ctx.app.inject({ method: 'PUT', url: `/v1/agents/${senior.id}/presence`, headers: bearer(ctx.adminToken), payload: { status: 'online' } });
    expect(online.statusCode).toBe(200);
    const ticket = await createTicket(ctx, { teamId: first.id, language: 'en', assigneeId: owner.id });

    await expect
      .poll(async () => (await client(ctx).get(`/v1/tickets/${ticket.id}`)).json<TicketJson>(), { timeout: 15_000, interval: 100 })
      .toMatchObject({ teamId: escalation.id, assigneeId: senior.id, handoffCount: 1 });
    const events = (await client(ctx).get(`/v1/tickets/${ticket.id}/events?limit=200`)).json<{ items: { type: string; data: Record<string, unknown> }[] }>().items;
    expect(events.filter((e) => e.type === 'assigned').map((e) => e.data)).toEqual([
      expect.objectContaining({ to: owner.id }),
      expect.objectContaining({ from: owner.id, to: null, reason: 'escalation' }),
      expect.objectContaining({ from: null, to: senior.id, by: 'routing' }),
    ]);
  });
});
