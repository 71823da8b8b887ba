import { asc, eq, inArray } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alarms } from '../../../src/modules/reports/kpi-targets.table.js';
import { evaluateKpiTargets } from '../../../src/modules/reports/kpi-targets.service.js';
import { slaStreamEvents } from '../../../src/modules/sla/sla.table.js';
import { client, expectProblem, manualClock, tokenFor } from '../../helpers/api.js';
import { createTestContext, type TestContext } from '../../helpers/context.js';
import { until } from '../../helpers/sla.js';
import { fixtureWriter } from './fixture.js';

/** KPI targets and alarms: the evaluator is called with a chosen `now`, then once through the worker. */
let ctx: TestContext;
let w: ReturnType<typeof fixtureWriter>;

const NOW = new Date('2026-03-10T12:00:00Z');
const hoursBefore = (h: number) => new Date(NOW.getTime() - h * 3_600_000);

interface TargetJson {
  id: string;
  kpi: string;
  scope: { kind: string; value?: string };
  threshold: number;
  direction: string;
  windowHours: number;
}
interface AlarmJson {
  id: string;
  targetId: string;
  kpi: string;
  state: string;
  value: number | null;
  raisedAt: string;
  clearedAt: string | null;
  lastValue: number | null;
  lastEvaluatedAt: string;
}

beforeAll(async () => {
  // The worker test at the end evaluates on a 1 s schedule.
  ctx = await createTestContext({ env: { KPI_EVALUATE_INTERVAL_MS: '1000' } });
  manualClock(ctx).set(NOW);
  w = fixtureWriter(ctx.deps.db);
});
afterAll(async () => ctx?.close());

const solved = (fcrState: 'yes' | 'no' | 'pending', solvedHoursAgo: number, channel = 'email') =>
  w.ticket({ channel, status: 'solved', createdAt: hoursBefore(solvedHoursAgo + 2), firstResponseAt: hoursBefore(solvedHoursAgo + 1), solvedAt: hoursBefore(solvedHoursAgo), fcrState });

const streamEvents = () => ctx.deps.db.select().from(slaStreamEvents).where(inArray(slaStreamEvents.type, ['alarm_raised', 'alarm_cleared'])).orderBy(asc(slaStreamEvents.id));

async function putTarget(body: Record<string, unknown>, expected = 201): Promise<TargetJson> {
  const res = await ctx.app.inject({ method: 'PUT', url: '/v1/kpi-targets', headers: { authorization: `Bearer ${ctx.adminToken}` }, payload: body });
  expect(res.statusCode, res.body).toBe(expected);
  return res.json<TargetJson>();
}

describe('KPI targets', () => {
  it('are upserted by (kpi, scope), listed and validated', async () => {
    const created = await putTarget({ kpi: 'fcr_rate', scope: { kind: 'all' }, threshold: 0.4, direction: 'below', windowHours: 24 });
    expect(created).toMatchObject({ kpi: 'fcr_rate', scope: { kind: 'all' }, threshold: 0.4, direction: 'below', windowHours: 24 });
    // Same kpi and scope: the same target, replaced (200).
    const updated = await putTarget({ kpi: 'fcr_rate', scope: { kind: 'all' }, threshold: 0.5, direction: 'below', windowHours: 24 }, 200);
    expect(updated).toMatchObject({ id: created.id, threshold: 0.5 });

    const list = await client(ctx).get('/v1/kpi-targets');
    expect(list.statusCode).toBe(200);
    expect(list.json<{ items: TargetJson[] }>().items).toEqual([expect.objectContaining({ id: created.id, threshold: 0.5 })]);

    const put = (payload: Record<string, unknown>, token = ctx.adminToken) => ctx.app.inject({ method: 'PUT', url: '/v1/kpi-targets', headers: { authorization: `Bearer ${token}` }, payload });
    expectProblem(await put({ kpi: 'happiness', threshold: 1, direction: 'below' }), 400, { field: 'body.kpi' });
    expectProblem(await put({ kpi: 'backlog', direction: 'above' }), 400, { field: 'body.threshold' });
    expectProblem(await put({ kpi: 'backlog', threshold: 10, direction: 'sideways' }), 400, { field: 'body.direction' });
    expectProblem(await put({ kpi: 'backlog', threshold: 10, direction: 'above', windowHours: 0 }), 400, { field: 'body.windowHours' });
    expectProblem(await put({ kpi: 'backlog', threshold: 10, direction: 'above', scope: { kind: 'channel', value: 'fax' } }), 400);
    expectProblem(await put({ kpi: 'backlog', threshold: 10, direction: 'above', scope: { kind: 'team', value: '00000000-0000-4000-8000-000000000000' } }), 400, { field: 'body.scope.value' });
    expectProblem(await put({ kpi: 'backlog', threshold: 10, direction: 'above' }, await tokenFor(ctx, 'agent')), 403);
    expectProblem(await client(ctx, await tokenFor(ctx, 'agent')).get('/v1/alarms'), 403);
  });
});

describe('the KPI evaluator', () => {
  let fcrTarget: TargetJson;

  it('raises an alarm when the KPI crosses the threshold, once, stored and streamed', async () => {
    fcrTarget = (await client(ctx).get('/v1/kpi-targets')).json<{ items: TargetJson[] }>().items[0]!;
    // Solved in the last 24 h: one yes, two no → 1/3 < 0.5. The 'yes' solved 30 h ago is outside the window.
    await solved('yes', 2);
    await solved('no', 5);
    await solved('no', 20);
    await solved('yes', 30);
    await solved('pending', 1);

    const evaluations = await evaluateKpiTargets(ctx.deps.db, NOW);
    expect(evaluations).toEqual([{ targetId: fcrTarget.id, value: 1 / 3, outcome: 'raised' }]);

    const res = await client(ctx).get('/v1/alarms?state=raised');
    expect(res.statusCode).toBe(200);
    const [alarm] = res.json<{ items: AlarmJson[] }>().items;
    expect(alarm).toMatchObject({ targetId: fcrTarget.id, kpi: 'fcr_rate', state: 'raised', raisedAt: NOW.toISOString(), clearedAt: null, lastEvaluatedAt: NOW.toISOString() });
    expect(alarm!.value).toBeCloseTo(1 / 3, 9);

    const events = await streamEvents();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: 'alarm_raised', data: { alarmId: alarm!.id, targetId: fcrTarget.id, kpi: 'fcr_rate', scope: { kind: 'all' }, threshold: 0.5, direction: 'below', windowHours: 24 } });

    // Still off target an hour later: the same alarm, no new event.
    const later = new Date(NOW.getTime() + 3_600_000);
    expect(await evaluateKpiTargets(ctx.deps.db, later)).toEqual([expect.objectContaining({ outcome: 'still-raised' })]);
    const rows = await ctx.deps.db.select().from(alarms).where(eq(alarms.targetId, fcrTarget.id));
    expect(rows).toHaveLength(1);
    expect(rows[0]!.lastEvaluatedAt.toISOString()).toBe(later.toISOString());
    expect(await streamEvents()).toHaveLength(1);
  });

  it('clears the alarm when the KPI recovers', async () => {
    // Two more first-contact resolutions: 3 yes of 5 settled = 0.6, no longer below 0.5.
    await solved('yes', 1);
    await solved('yes', 3);
    const at = new Date(NOW.getTime() + 2 * 3_600_000);
    // The window slid two hours: the 'no' solved 20 h before NOW is still in it (22 h).
    const [evaluation] = await evaluateKpiTargets(ctx.deps.db, at);
    expect(evaluation).toMatchObject({ targetId: fcrTarget.id, outcome: 'cleared' });
    expect(evaluation!.value).toBeCloseTo(0.6, 9);

    expect((await client(ctx).get('/v1/alarms?state=raised')).json<{ items: AlarmJson[] }>().items).toEqual([]);
    const [cleared] = (await client(ctx).get('/v1/alarms?state=cleared')).json<{ items: AlarmJson[] }>().items;
    expect(cleared).toMatchObject({ state: 'cleared', clearedAt: at.toISOString(), raisedAt: NOW.toISOString() });
    expect(cleared!.lastValue).toBeCloseTo(0.6, 9);
    expect(cleared!.value).toBeCloseTo(1 / 3, 9); // the value at raise is kept

    const events = await streamEvents();
    expect(events.map((e) => e.type)).toEqual(['alarm_raised', 'alarm_cleared']);
    expect(events[1]!.data).toMatchObject({ alarmId: cleared!.id, targetId: fcrTarget.id, value: 0.6 });
  });

  it('evaluates a scoped target over its scope only, and leaves a KPI without data alone', async () => {
    const backlog = await putTarget({ kpi: 'backlog', scope: { kind: 'channel', value: 'phone' }, threshold: 1, direction: 'above', windowHours: 1 });
    const csat = await putTarget({ kpi: 'csat_average', threshold: 3, direction: 'below', windowHours: 24 });
    const at = new Date(NOW.getTime() + 3 * 3_600_000);
    // One open phone ticket (and open e-mail ones, which this scope ignores): 1 is not above 1.
    await w.ticket({ channel: 'phone', status: 'open', createdAt: hoursBefore(48) });
    await w.ticket({ channel: 'email', status: 'open', createdAt: hoursBefore(1) });
    await w.ticket({ channel: 'email', status: 'open', createdAt: hoursBefore(1) });
    let byTarget = new Map((await evaluateKpiTargets(ctx.deps.db, at)).map((e) => [e.targetId, e]));
    expect(byTarget.get(backlog.id)).toEqual({ targetId: backlog.id, value: 1, outcome: 'ok' });
    // No survey offered in the window: no average, nothing to judge.
    expect(byTarget.get(csat.id)).toEqual({ targetId: csat.id, value: null, outcome: 'no-data' });

    await w.ticket({ channel: 'phone', status: 'new', createdAt: hoursBefore(0.5) });
    byTarget = new Map((await evaluateKpiTargets(ctx.deps.db, at)).map((e) => [e.targetId, e]));
    expect(byTarget.get(backlog.id)).toEqual({ targetId: backlog.id, value: 2, outcome: 'raised' });
    const raised = (await client(ctx).get('/v1/alarms?state=raised')).json<{ items: (AlarmJson & { scope: unknown })[] }>().items;
    expect(raised).toEqual([expect.objectContaining({ targetId: backlog.id, kpi: 'backlog', scope: { kind: 'channel', value: 'phone' }, value: 2 })]);
  });

  it('pages the alarm list, newest first', async () => {
    const page1 = await client(ctx).get('/v1/alarms?limit=1');
    const body1 = page1.json<{ items: AlarmJson[]; nextCursor: string | null }>();
    expect(body1.items.map((a) => a.kpi)).toEqual(['backlog']);
    const body2 = (await client(ctx).get(`/v1/alarms?limit=1&cursor=${body1.nextCursor}`)).json<{ items: AlarmJson[]; nextCursor: string | null }>();
    expect(body2.items.map((a) => a.kpi)).toEqual(['fcr_rate']);
    expect(body2.nextCursor).toBeNull();
    expectProblem(await client(ctx).get('/v1/alarms?state=open'), 400, { field: 'query.state' });
    expectProblem(await client(ctx).get('/v1/alarms?cursor=bogus'), 400, { field: 'query.cursor' });
  });

  it('deleting a target deletes its alarms', async () => {
    const { items } = (await client(ctx).get('/v1/kpi-targets')).json<{ items: TargetJson[] }>();
    const backlog = items.find((t) => t.kpi === 'backlog')!;
    expect((await client(ctx).delete(`/v1/kpi-targets/${backlog.id}`)).statusCode).toBe(204);
    expectProblem(await client(ctx).delete(`/v1/kpi-targets/${backlog.id}`), 404);
    expect(await ctx.deps.db.select().from(alarms).where(eq(alarms.targetId, backlog.id))).toEqual([]);
  });

  it('runs on the maintenance queue every KPI_EVALUATE_INTERVAL_MS', async () => {
    // The fcr target is on target (0.6); make it fail with three more 'no' and let the worker notice.
    for (let i = 0; i < 3; i++) await solved('no', 0.5);
    manualClock(ctx).set(new Date(NOW.getTime() + 4 * 3_600_000));
    await ctx.startWorkers();
    const alarm = await until(
      async () => {
        const [row] = await ctx.deps.db.select().from(alarms).where(eq(alarms.state, 'raised'));
        return row;
      },
      { timeoutMs: 15_000, what: 'an alarm raised by the worker' },
    );
    // 3 yes of 8 settled tickets solved in [NOW-20h, NOW+4h)
    expect(alarm.value).toBeCloseTo(3 / 8, 9);
  });
});
