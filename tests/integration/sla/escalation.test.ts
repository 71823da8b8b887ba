import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { escalationJobId } from '../../../src/modules/sla/clocks/sla.service.js';
import { systemClock } from '../../../src/shared/clock.js';
import { createTeam, createTicket } from '../../helpers/api.js';
import { createTestContext, type TestContext } from '../../helpers/context.js';
import { breachRows, createPolicy, eventRows, getTicket, reply, SECOND, startWebhookReceiver, until, type ReceivedRequest } from '../../helpers/sla.js';

/** Escalation levels on the real clock: BullMQ delays, the notifications worker, a real HTTP receiver. */
const SECRET = 'escalation-webhook-secret';
let ctx: TestContext;
let receiver: Awaited<ReturnType<typeof startWebhookReceiver>>;
let teamA: { id: string };
let teamB: { id: string };

/**
 * Level 2 comes this long after the breach. The answer in the second test must land between
 * level 1 and level 2 on a loaded two-core machine, in parallel with the first test: one second
 * left a stall of the process no room.
 */
const LEVEL_2_AFTER_SEC = 3;

beforeAll(async () => {
  ctx = await createTestContext({ clock: systemClock, env: { SLA_RECONCILE_INTERVAL_MS: '500', NOTIFY_WEBHOOK_SECRET: SECRET, OUTBOUND_ALLOW_PRIVATE: 'true', OUTBOUND_ALLOW_HTTP: 'true' } });
  receiver = await startWebhookReceiver();
  await ctx.startWorkers();
  teamA = await createTeam(ctx);
  teamB = await createTeam(ctx);
  await createPolicy(ctx, {
    targets: { firstResponse: 1 },
    escalation: [
      { afterSec: 0, actions: [{ type: 'notify', target: { kind: 'webhook', url: `${receiver.url}/hooks/sla` } }, { type: 'priority', raise: true }] },
      { afterSec: LEVEL_2_AFTER_SEC, actions: [{ type: 'reassign', teamId: teamB.id }] },
    ],
  });
});
afterAll(async () => {
  await ctx?.close();
  await receiver?.close();
});

interface WebhookBody {
  event: string;
  sentAt: string;
  data: { ticketId: string; level: number; breachId: string; metric: string; priority: string };
}
const bodyOf = (r: ReceivedRequest) => JSON.parse(r.body) as WebhookBody;

// Concurrent: each test watches its own ticket (and its own webhook deliveries).
describe.concurrent('escalation', () => {
  it('runs the levels in order: a signed webhook and a priority raise at once, the reassignment later', async () => {
    const ticket = await createTicket(ctx, { teamId: teamA.id, priority: 'normal' });
    const escalated = await until(async () => {
      const rows = await eventRows(ctx, ticket.id, 'escalated');
      return rows.length >= 2 ? rows : undefined;
    }, { what: 'both escalation levels' });
    expect(escalated.map((e) => e.data.level)).toEqual([1, 2]);
    const [breach] = await breachRows(ctx, ticket.id);
    expect(breach).toMatchObject({ state: 'open', escalationLevel: 2, metric: 'first_response', severity: 2 /* high */, teamId: teamB.id });
    // Level 2 waited its seconds after the breach; level 1 did not wait.
    expect(escalated[0]!.createdAt.getTime() - breach!.breachedAt.getTime()).toBeLessThan(LEVEL_2_AFTER_SEC * SECOND);
    expect(escalated[1]!.createdAt.getTime() - breach!.breachedAt.getTime()).toBeGreaterThanOrEqual(LEVEL_2_AFTER_SEC * SECOND);

    const after = await getTicket(ctx, ticket.id);
    expect(after).toMatchObject({ escalationLevel: 2, priority: 'high', teamId: teamB.id });
    const timeline = (await eventRows(ctx, ticket.id)).map((e) => `${e.type}${e.data.reason === 'escalation' ? '(esc)' : ''}`);
    const from = timeline.indexOf('sla_breached');
    expect(timeline.slice(from)).toEqual(['sla_breached', 'escalated', 'priority_changed(esc)', 'escalated', 'team_changed(esc)']);

    const hook = await until(() => receiver.requests.find((r) => bodyOf(r).data.ticketId === ticket.id), { what: 'the escalation webhook' });
    expect(hook.method).toBe('POST');
    expect(hook.url).toBe('/hooks/sla');
    expect(hook.headers['content-type']).toBe('application/json');
    expect(hook.headers['x-complaint-desk-signature']).toBe(`sha256=${createHmac('sha256', SECRET).update(hook.body).digest('hex')}`);
    expect(bodyOf(hook)).toMatchObject({ event: 'sla.escalation', data: { ticketId: ticket.id, level: 1, breachId: breach!.id, metric: 'first_response', priority: 'high' } });
    // Level 2 has no webhook: exactly one delivery for this ticket.
    expect(receiver.requests.filter((r) => bodyOf(r).data.ticketId === ticket.id)).toHaveLength(1);
  });

  it('an answer after level 1 resolves the breach and cancels level 2', async () => {
    const ticket = await createTicket(ctx, { teamId: teamA.id, priority: 'normal' });
    await until(async () => ((await eventRows(ctx, ticket.id, 'escalated')).length === 1 ? true : undefined), { what: 'level 1' });
    await reply(ctx, ticket.id);
    const [breach] = await breachRows(ctx, ticket.id);
    expect(breach).toMatchObject({ state: 'resolved', escalationLevel: 1 });

    // Level 2's job runs at breach + LEVEL_2_AFTER_SEC, finds the breach resolved and is removed; by then the
    // reconciler (every 0.5 s) has also had its chance. Wait for both.
    const level2Due = breach!.breachedAt.getTime() + LEVEL_2_AFTER_SEC * SECOND;
    await until(async () => ((await ctx.deps.queues.slaEscalations.queue.getJob(escalationJobId(breach!.id, 2))) === undefined && Date.now() > level2Due + 1 * SECOND ? true : undefined), {
      what: 'level 2 to have come and gone',
    });
    expect((await eventRows(ctx, ticket.id, 'escalated')).map((e) => e.data.level)).toEqual([1]);
    expect(await getTicket(ctx, ticket.id)).toMatchObject({ escalationLevel: 1, teamId: teamA.id, priority: 'high' });
    expect((await breachRows(ctx, ticket.id))[0]).toMatchObject({ state: 'resolved', escalationLevel: 1 });
    // And a late job for it, however it arrives, does nothing.
    expect(await ctx.deps.slaService.escalate(breach!.id, 2)).toBe('stale');
  });
});
