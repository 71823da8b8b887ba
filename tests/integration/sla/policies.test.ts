import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_POLICIES } from '../../../src/domain/sla/sla-policy.js';
import { installDefaultPolicies } from '../../../src/modules/sla/policies/sla.defaults.js';
import { client, createTicket, expectProblem, manualClock, patchTicket, tokenFor, type TicketJson } from '../../helpers/api.js';
import { createTestContext, type TestContext } from '../../helpers/context.js';
import { clockOf, clockRows, createCalendar, createPolicy, SECOND, type PolicyJson } from '../../helpers/sla.js';

/**
 * SLA configuration (policies, calendars, the shipped defaults) and the operations endpoints'
 * keys, on a ManualClock. The pool is kept small so that a deadlock on it shows up at once.
 */
let ctx: TestContext;
let agentToken: string;
let supervisorToken: string;
beforeAll(async () => {
  ctx = await createTestContext({ env: { DATABASE_POOL_MAX: '4' } });
  agentToken = await tokenFor(ctx, 'agent');
  supervisorToken = await tokenFor(ctx, 'supervisor');
});
afterAll(async () => ctx?.close());

const put = (url: string, payload: object, token = ctx.adminToken) => ctx.app.inject({ method: 'PUT', url, headers: { authorization: `Bearer ${token}` }, payload });
/** A policy no ticket of this file can match (an unknown team), for validation tests. */
const inert = (overrides: Record<string, unknown> = {}) => ({ name: `inert-${Math.random()}`, position: 1000, match: { teamIds: ['00000000-0000-4000-8000-000000000001'] }, targets: { firstResponse: 60 }, ...overrides });

describe('the default policies', () => {
  // First in the file: they install only into an empty policy table.
  it('install 12 policies and the business-hours calendar, once; social is 1 h around the clock, e-mail 8 business hours', async () => {
    expect(await installDefaultPolicies(ctx.deps.db)).toBe(true);
    expect(await installDefaultPolicies(ctx.deps.db)).toBe(false);
    ctx.deps.policies.invalidate(); // installed behind the API's back
    const policies = (await client(ctx).get('/v1/sla/policies')).json<{ items: PolicyJson[] }>().items;
    expect(policies).toHaveLength(12);
    expect(policies.map((p) => p.name)).toEqual(DEFAULT_POLICIES.map((p) => p.name));
    const calendars = (await client(ctx).get('/v1/calendars')).json<{ items: { id: string; name: string; definition: { timeZone: string } }[] }>().items;
    expect(calendars).toEqual([expect.objectContaining({ name: 'business-hours', definition: expect.objectContaining({ timeZone: 'Europe/Warsaw' }) })]);
    expect(policies.filter((p) => p.calendarId === calendars[0]!.id).map((p) => p.name)).toEqual(['E-mail - urgent', 'E-mail - high', 'E-mail - normal', 'E-mail - low']);

    const clock = manualClock(ctx);
    clock.set('2026-01-10T12:00:00Z'); // a Saturday
    const facebook = await createTicket(ctx, { channel: 'facebook', customer: { name: 'fb' } });
    const t0 = Date.parse(facebook.createdAt);
    expect(clockOf(facebook, 'first_response').dueAt).toBe(new Date(t0 + 3600 * SECOND).toISOString());
    expect(clockOf(facebook, 'resolution').dueAt).toBe(new Date(t0 + 3 * 86_400 * SECOND).toISOString()); // normal: 3 days, 24/7
    const urgentTweet = await createTicket(ctx, { channel: 'twitter', priority: 'urgent', customer: { name: 'tw' } });
    expect(clockOf(urgentTweet, 'resolution').dueAt).toBe(new Date(t0 + 4 * 3600 * SECOND).toISOString());
    const weekendMail = await createTicket(ctx, { channel: 'email' });
    expect(clockOf(weekendMail, 'first_response').dueAt).toBe('2026-01-12T16:00:00.000Z'); // Monday 17:00 in Warsaw

    clock.set('2026-01-05T09:00:00Z'); // Monday 10:00 in Warsaw
    const mail = await createTicket(ctx, { channel: 'email' });
    expect(clockOf(mail, 'first_response').dueAt).toBe('2026-01-06T09:00:00.000Z'); // Tuesday 10:00: 7 h Monday, 1 h Tuesday
    expect(clockOf(mail, 'resolution').dueAt).toBe('2026-01-08T09:00:00.000Z'); // 3 business days of 8 h
    // The answer to the POST names the policy its clocks run under.
    expect(mail.slaPolicyId).toBe(policies.find((p) => p.name === 'E-mail - normal')!.id);
    // Raising the priority switches the policy: urgent resolution is 4 business hours.
    const raised = await patchTicket(ctx, mail, { priority: 'urgent' });
    expect(raised.statusCode, raised.body).toBe(200);
    expect(raised.json<TicketJson>().slaPolicyId).toBe(policies.find((p) => p.name === 'E-mail - urgent')!.id);
    expect(clockOf(raised.json<TicketJson>(), 'resolution').dueAt).toBe('2026-01-05T13:00:00.000Z'); // Monday 14:00 in Warsaw
    expect(clockOf(raised.json<TicketJson>(), 'first_response').dueAt).toBe('2026-01-06T09:00:00.000Z');
  });
});

describe('policy and calendar configuration', () => {
  it('rejects bad policies with a 400 naming the field', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ targets: { firstResponse: -5 } }, 'body.targets.firstResponse'],
      [{ targets: { resolution: 1.5 } }, 'body.targets.resolution'],
      [{ targets: { firstResponse: '60' } }, 'body.targets.firstResponse'],
      [{ targets: {} }, 'body.targets'],
      [{ targets: { firstResponse: 60, speed: 5 } }, 'body.targets'],
      [{ warnAt: 1 }, 'body.warnAt'],
      [{ match: { channels: ['fax'] } }, 'body.match.channels.0'],
      [{ escalation: [{ afterSec: 60, actions: [{ type: 'priority', raise: true }] }, { afterSec: 30, actions: [{ type: 'priority', raise: true }] }] }, 'body.escalation'],
      [{ escalation: [{ afterSec: 0, actions: [{ type: 'notify', target: { kind: 'webhook', url: 'ftp://example.com/x' } }] }] }, 'body.escalation.0.actions.0.target.url'],
      [{ escalation: [{ afterSec: 0, actions: [{ type: 'reassign' }] }] }, 'body.escalation.0.actions.0'],
      [{ calendarId: '00000000-0000-4000-8000-000000000002' }, 'body.calendarId'],
    ];
    for (const [overrides, field] of cases) {
      expectProblem(await client(ctx).post('/v1/sla/policies', inert(overrides)), 400, { field });
    }
    const { name } = await createPolicy(ctx, inert());
    expectProblem(await client(ctx).post('/v1/sla/policies', inert({ name })), 409);
  });

  it('lets supervisors and admins change policies; agents may only read them', async () => {
    expectProblem(await client(ctx, agentToken).post('/v1/sla/policies', inert()), 403);
    expect((await client(ctx, agentToken).get('/v1/sla/policies')).statusCode).toBe(200);
    const created = await client(ctx, supervisorToken).post('/v1/sla/policies', inert());
    expect(created.statusCode, created.body).toBe(201);
    const policy = created.json<PolicyJson>();
    expect(policy).toMatchObject({ warnAt: 0.75, escalation: [], calendarId: null });
    expectProblem(await put(`/v1/sla/policies/${policy.id}`, inert({ name: policy.name }), agentToken), 403);
    const updated = await put(`/v1/sla/policies/${policy.id}`, inert({ name: policy.name, targets: { firstResponse: 120 }, warnAt: 0.5 }), supervisorToken);
    expect(updated.statusCode, updated.body).toBe(200);
    expect(updated.json()).toMatchObject({ id: policy.id, targets: { firstResponse: 120 }, warnAt: 0.5 });
    expectProblem(await put(`/v1/sla/policies/${policy.id}`, inert({ targets: { firstResponse: 0 } })), 400, { field: 'body.targets.firstResponse' });
    expectProblem(await put('/v1/sla/policies/00000000-0000-4000-8000-000000000003', inert()), 404);
    expectProblem(await ctx.app.inject({ method: 'DELETE', url: `/v1/sla/policies/${policy.id}`, headers: { authorization: `Bearer ${agentToken}` } }), 403);
    expect((await ctx.app.inject({ method: 'DELETE', url: `/v1/sla/policies/${policy.id}`, headers: { authorization: `Bearer ${supervisorToken}` } })).statusCode).toBe(204);
    expectProblem(await client(ctx).get(`/v1/sla/policies/${policy.id}`), 404);
  });

  it('validates calendars and keeps one that a policy uses', async () => {
    expectProblem(await client(ctx).post('/v1/calendars', { name: 'bad zone', definition: { timeZone: 'Mars/Olympus', weeklyHours: { mon: [{ start: '09:00', end: '17:00' }] } } }), 400, { field: 'body.definition.timeZone' });
    expectProblem(await client(ctx).post('/v1/calendars', { name: 'never open', definition: { timeZone: 'UTC', weeklyHours: {} } }), 400, { field: 'body.definition.weeklyHours' });
    expectProblem(await client(ctx, agentToken).post('/v1/calendars', { name: 'x', definition: { timeZone: 'UTC', weeklyHours: { mon: [{ start: '09:00', end: '17:00' }] } } }), 403);
    const calendar = await createCalendar(ctx);
    await createPolicy(ctx, inert({ calendarId: calendar.id }));
    expectProblem(await ctx.app.inject({ method: 'DELETE', url: `/v1/calendars/${calendar.id}`, headers: { authorization: `Bearer ${ctx.adminToken}` } }), 409);
  });

  it('a burst of ticket changes right after a policy change does not exhaust the pool (policy cache reload)', async () => {
    // Regression: every pooled connection was a ticket transaction waiting for the policy cache,
    // whose reload waited for a pooled connection: the process hung for good.
    const clock = manualClock(ctx);
    clock.set('2026-04-01T08:00:00Z');
    await createPolicy(ctx, { name: 'burst', position: 0, match: { channels: ['phone'] }, targets: { firstResponse: 60 } });
    const hang = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`hung: pool total ${ctx.deps.pool.totalCount}, idle ${ctx.deps.pool.idleCount}, waiting ${ctx.deps.pool.waitingCount}`)), 10_000).unref());
    const tickets = await Promise.race([Promise.all(Array.from({ length: 16 }, (_, i) => createTicket(ctx, { channel: 'phone', customer: { name: `burst ${i}` } }))), hang]);
    expect(tickets.every((t) => clockOf(t, 'first_response').state === 'running')).toBe(true);

    // The same for the timer processor: every clock due at once, the cache dropped, fired together.
    clock.advance(61 * SECOND);
    ctx.deps.policies.invalidate();
    const rows = (await Promise.all(tickets.map((t) => clockRows(ctx, t.id)))).flat();
    const results = await Promise.race([Promise.all(rows.map((r) => ctx.deps.slaService.fire('breach', r.id, r.generation))), hang]);
    expect(results).toEqual(Array(16).fill('fired'));
  });
});

describe('operations endpoints', () => {
  it('serves /metrics to supervisors and admins only', async () => {
    expectProblem(await ctx.app.inject({ method: 'GET', url: '/metrics' }), 401);
    expectProblem(await client(ctx, agentToken).get('/metrics'), 403);
    const res = await client(ctx).get('/metrics');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.body).toContain('# TYPE complaint_desk_sla_timer_lateness_seconds histogram');
    expect(res.body).toMatch(/complaint_desk_queue_jobs\{queue="sla-timers",state="delayed"\} \d+/);
    expect((await client(ctx, supervisorToken).get('/metrics')).statusCode).toBe(200);
  });

  it('serves the queue dashboard (/admin/queues/) to admins only', async () => {
    const page = await client(ctx).get('/admin/queues/');
    expect(page.statusCode, page.body.slice(0, 200)).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    const api = await client(ctx).get('/admin/queues/api/queues');
    expect(api.statusCode, api.body.slice(0, 200)).toBe(200);
    expect(api.json<{ queues: { name: string }[] }>().queues.map((q) => q.name)).toEqual(expect.arrayContaining(['maintenance', 'notifications', 'sla-escalations', 'sla-timers']));
    // Anyone else is refused (401/403 problems, asserted below).
    for (const headers of [{}, { authorization: `Bearer ${supervisorToken}` }, { authorization: `Bearer ${agentToken}` }, { authorization: 'Bearer cdk_000000000000_nottherightsecretnottherightsecret' }]) {
      for (const url of ['/admin/queues/', '/admin/queues/api/queues']) {
        const res = await ctx.app.inject({ method: 'GET', url, headers });
        expect(res.statusCode, url).not.toBe(200);
        expect(res.body).not.toContain('sla-timers');
      }
    }
  });

  // BUG (src/http/observability.ts): Bull Board's Fastify plugin installs its own error handler
  // in the scope the guard protects, so the guard's 401/403 reach the client as Bull Board's
  // 500 {"error":{"key":"ERRORS.INTERNAL_SERVER_ERROR"}} instead of problem+json 401/403.
  // Access is still refused; the status and format are wrong.
  it('answers the dashboard without a key 401 and to a supervisor 403, as problem+json', async () => {
    expectProblem(await ctx.app.inject({ method: 'GET', url: '/admin/queues/api/queues' }), 401);
    expectProblem(await client(ctx, supervisorToken).get('/admin/queues/api/queues'), 403);
  });

  // BUG (src/http/observability.ts): the dashboard is only routed at /admin/queues/ (the plugin's
  // '/' under the prefix); the URL it is known by, /admin/queues, answers 404 even to an admin.
  it('redirects /admin/queues (no trailing slash) to the dashboard', async () => {
    const res = await client(ctx).get('/admin/queues');
    expect([200, 301, 302, 308]).toContain(res.statusCode);
  });
});
