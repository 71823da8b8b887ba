import { eq, inArray } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_FIGURE_SETTINGS } from '../../../src/domain/figures/settings.js';
import { csatSurveys } from '../../../src/modules/csat/csat.table.js';
import { queryAgentReport, type AgentReport } from '../../../src/modules/reports/agent-report.js';
import { refreshKpiRollups } from '../../../src/modules/reports/kpi-rollup.refresh.js';
import { alarms } from '../../../src/modules/reports/kpi-targets.table.js';
import { evaluateKpiTargets } from '../../../src/modules/reports/kpi-targets.service.js';
import { agentPresenceEvents } from '../../../src/modules/routing/routing.table.js';
import { tickets } from '../../../src/modules/tickets/tickets.table.js';
import { workIntervals } from '../../../src/modules/work/work.table.js';
import { phoneQueueCalls } from '../../../src/modules/work/queue-calls.table.js';
import { client, expectProblem, manualClock, tokenFor } from '../../helpers/api.js';
import { createTestContext, type TestContext } from '../../helpers/context.js';
import { CHANNEL_ENV, phoneEvent, postPhoneEvent } from '../../helpers/webhooks.js';
import { at, fixtureWriter } from '../reports/fixture.js';

/**
 * Issue 16's figures on a fixed data set, each against a value computed by hand below.
 * D1 = 2026-03-01 (UTC).
 *
 * Phone queue (PBX events at D1 10:00, threshold 20 s, short abandon 5 s):
 *   answered after 5, 10, 20, 30, 60 s (3 within); abandoned after 2, 4 (short), 25, 40, 90 s.
 *   SL(phone) = 3 / (10 − 2); ASA = 125 / 5 = 25 s; abandonment = (5 − 2) / (10 − 2) = 0.375.
 *   Each answered call talked 120 s with agent A1: [09:58, 10:00] five times, merged once for A1.
 * Digital first responses: E1 e-mail 2 h (within 8 h), E2 e-mail 9 h (not), F1 Facebook 30 min
 *   (within 1 h), F2 Facebook 2 h (not): 2 / 4.  Service level = (3 + 2) / (8 + 4) = 5/12.
 * Handle time (e-mail tickets solved on D1, AFTER_WORK_MAX_SEC e-mail 600 s):
 *   H1: A1 handling 09:00-09:20 and 09:10-09:30 (merged 30 min), after-work 09:25-09:35 (5 min
 *       past the handling), A2 handling 10:00-10:05: handling 2100 s, after-work 300 s, 2400 s.
 *   H2: A1 handling 10:30-10:50 (1200 s), after-work 11:00-11:30 capped at 600 s: 1800 s.
 *   H3: A2 handling 12:00-13:00: 3600 s.
 *   median 2400, p90 2400 + 0.8 × 1200 = 3360, avg 2600; handling avg 2300, after-work avg 300.
 * Surveys on D1 12:00: CES offered 5, answered 7, 5, 6, 2: average 5, response rate 0.8.
 *   NPS offered 9, answered 10, 9, 9, 8, 7, 6, 3, 0: 3 promoters, 2 passives, 3 detractors, score 0.
 * Redress: H1 refund 20.50 EUR, H2 credit 10 EUR, H3 goodwill 30 ILS.
 * Presence: A1 online 08:00, away 12:00, online 12:30, offline 17:00 (online 8.5 h, logged in 9 h);
 *   A1 work merged: 09:00-09:35, 09:58-10:00, 10:30-10:50, 11:00-11:10 = 67 min = 4020 s.
 *   A2 online 09:30-13:30 (4 h), work 10:00-10:05 and 12:00-13:00 = 3900 s.
 *   Occupancy A1 = 4020 / 30600; A2 = 3900 / 14400; total = 7920 / (30600 + 14400).
 */
let ctx: TestContext;
const NOW = at('2026-03-02T12:00:00Z');
const D1 = 'from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00Z';
const ids = {} as Record<'team' | 'a1' | 'a2' | 'h1' | 'h2' | 'h3' | 'leaf' | 'parent', string>;
let agentToken: string;

const totalOf = async (query: string) => {
  const res = await client(ctx).get(`/v1/reports/kpis?${query}`);
  expect(res.statusCode, res.body).toBe(200);
  return res.json<{ rows: Record<string, unknown>[]; total: Record<string, unknown> & Figures }>();
};
interface Figures {
  handleTime: { count: number; median: number; p90: number; avg: number; handlingAvg: number; afterWorkAvg: number };
  serviceLevel: { within: number; eligible: number; rate: number };
  averageSpeedOfAnswer: number;
  abandonmentRate: number;
  phoneQueue: Record<string, number>;
  ces: Record<string, number>;
  nps: Record<string, number>;
  redress: { count: number; sums: { currency: string; amount: number }[] };
  occupancy: number;
}

/** Two agent reports with the same rows in the same order, each figure equal (seconds to the millisecond, ratios to 12 places). */
function expectSameAgentReport(actual: AgentReport, expected: AgentReport, label: string): void {
  expect(actual.rows.map((r) => r.group), label).toEqual(expected.rows.map((r) => r.group));
  for (const [i, row] of [...expected.rows, expected.total].entries()) {
    const other = i < expected.rows.length ? actual.rows[i]! : actual.total;
    const what = `${label} ${row.group.label}`;
    expect(other.ticketsHandled, `${what} ticketsHandled`).toBe(row.ticketsHandled);
    for (const key of ['loggedInSec', 'availableSec', 'awaySec', 'handlingSec', 'idleSec'] as const) expect(other[key], `${what} ${key}`).toBeCloseTo(row[key], 3);
    for (const key of ['occupancy', 'utilization'] as const) {
      if (row[key] === null) expect(other[key], `${what} ${key}`).toBeNull();
      else expect(other[key], `${what} ${key}`).toBeCloseTo(row[key], 12);
    }
  }
}

beforeAll(async () => {
  ctx = await createTestContext({ env: { ...CHANNEL_ENV } });
  const w = fixtureWriter(ctx.deps.db);
  const db = ctx.deps.db;
  const team = await w.team('Complaints');
  ids.team = team.id;
  ids.a1 = (await w.agent('Ada', team.id)).id;
  ids.a2 = (await w.agent('@Dana', team.id)).id;
  agentToken = await tokenFor(ctx, 'agent', ids.a1);

  // Phone queue through the PBX webhook, at D1 10:00.
  manualClock(ctx).set(at('D1 10:00'));
  let n = 0;
  for (const waitSec of [5, 10, 20, 30, 60]) {
    const res = await postPhoneEvent(ctx, phoneEvent({ callId: `q-${++n}`, event: 'answered', from: `+97250123450${n}`, durationSec: 120, waitSec, agentId: ids.a1 }), { token: ctx.adminToken });
    expect(res.statusCode, res.body).toBeLessThan(300);
  }
  for (const waitSec of [2, 4, 25, 40, 90]) {
    const res = await postPhoneEvent(ctx, phoneEvent({ callId: `q-${++n}`, event: 'missed', from: `+9725012345${10 + n}`, waitSec }), { token: ctx.adminToken });
    expect(res.statusCode, res.body).toBeLessThan(300);
  }

  // Digital first responses.
  await w.ticket({ channel: 'email', status: 'open', teamId: team.id, createdAt: at('D1 08:00'), firstResponseAt: at('D1 10:00') });
  await w.ticket({ channel: 'email', status: 'open', teamId: team.id, createdAt: at('D1 08:00'), firstResponseAt: at('D1 17:00') });
  await w.ticket({ channel: 'facebook', status: 'open', teamId: team.id, createdAt: at('D1 09:00'), firstResponseAt: at('D1 09:30') });
  await w.ticket({ channel: 'facebook', status: 'open', teamId: team.id, createdAt: at('D1 09:00'), firstResponseAt: at('D1 11:00') });

  // Solved e-mail tickets with work, reported through the API the next day.
  ids.h1 = (await w.ticket({ channel: 'email', status: 'solved', teamId: team.id, assigneeId: ids.a1, createdAt: at('D1 08:30'), solvedAt: at('D1 15:00') })).id;
  ids.h2 = (await w.ticket({ channel: 'email', status: 'solved', teamId: team.id, assigneeId: ids.a1, createdAt: at('D1 08:30'), solvedAt: at('D1 16:00') })).id;
  ids.h3 = (await w.ticket({ channel: 'email', status: 'solved', teamId: team.id, assigneeId: ids.a2, createdAt: at('D1 08:30'), solvedAt: at('D1 17:00') })).id;
  manualClock(ctx).set(NOW);
  const work = async (ticket: string, kind: string, from: string, to: string, agentId?: string) => {
    const res = await client(ctx, agentId ? ctx.adminToken : agentToken).post(`/v1/tickets/${ticket}/work`, { kind, startedAt: at(from).toISOString(), endedAt: at(to).toISOString(), ...(agentId ? { agentId } : {}) });
    expect(res.statusCode, res.body).toBe(201);
    return res.json<{ endedAt: string; reportedEndedAt: string }>();
  };
  await work(ids.h1, 'handling', 'D1 09:00', 'D1 09:20');
  await work(ids.h1, 'handling', 'D1 09:10', 'D1 09:30');
  await work(ids.h1, 'after_work', 'D1 09:25', 'D1 09:35');
  await work(ids.h1, 'handling', 'D1 10:00', 'D1 10:05', ids.a2);
  await work(ids.h2, 'handling', 'D1 10:30', 'D1 10:50');
  const capped = await work(ids.h2, 'after_work', 'D1 11:00', 'D1 11:30');
  expect(capped).toMatchObject({ endedAt: at('D1 11:10').toISOString(), reportedEndedAt: at('D1 11:30').toISOString() });
  await work(ids.h3, 'handling', 'D1 12:00', 'D1 13:00', ids.a2);

  // Surveys.
  const survey = (kind: string, score?: number) =>
    db.insert(csatSurveys).values({
      ticketId: ids.h1,
      tokenHash: `${kind}-${Math.random()}`,
      channel: 'email',
      teamId: team.id,
      kind,
      offeredAt: at('D1 12:00'),
      expiresAt: at('2026-03-20T00:00Z'),
      ...(score === undefined ? {} : { score, respondedAt: at('D1 13:00') }),
    });
  for (const score of [7, 5, 6, 2, undefined]) await survey('ces', score);
  for (const score of [10, 9, 9, 8, 7, 6, 3, 0, undefined]) await survey('nps', score);

  // Presence.
  const presence = (agentId: string, status: string, when: string) => db.insert(agentPresenceEvents).values({ agentId, status, reason: 'manual', at: at(when) });
  await presence(ids.a1, 'online', 'D1 08:00');
  await presence(ids.a1, 'away', 'D1 12:00');
  await presence(ids.a1, 'online', 'D1 12:30');
  await presence(ids.a1, 'offline', 'D1 17:00');
  await presence(ids.a2, 'online', 'D1 09:30');
  await presence(ids.a2, 'offline', 'D1 13:30');
});
afterAll(async () => ctx?.close());

const put = (url: string, payload: unknown) => ctx.app.inject({ method: 'PUT', url, headers: { authorization: `Bearer ${ctx.adminToken}` }, payload: payload as object });

async function patchTicket(id: string, body: Record<string, unknown>) {
  const [row] = await ctx.deps.db.select({ version: tickets.version }).from(tickets).where(eq(tickets.id, id));
  return client(ctx).patch(`/v1/tickets/${id}`, { ...body, version: row!.version });
}

describe('the contact-center figures on a fixed data set', () => {
  it('wrap-up: reasons, root causes, outcome and redress on tickets', async () => {
    const parent = await client(ctx).post('/v1/reasons', { code: 'DELIVERY', name: 'Delivery', translations: { he: 'משלוח' } });
    expect(parent.statusCode, parent.body).toBe(201);
    ids.parent = parent.json<{ id: string }>().id;
    const leaf = await client(ctx).post('/v1/reasons', { code: 'DELIVERY.DAMAGED', name: 'Damaged parcel', parentId: ids.parent, translations: { pl: 'Uszkodzona paczka' } });
    expect(leaf.statusCode, leaf.body).toBe(201);
    ids.leaf = leaf.json<{ id: string }>().id;
    // Two levels only.
    expectProblem(await client(ctx).post('/v1/reasons', { code: 'X', name: 'Too deep', parentId: ids.leaf }), 400, { field: 'body.parentId' });
    expectProblem(await client(ctx).post('/v1/reasons', { code: 'delivery', name: 'Duplicate' }), 409);
    const tree = (await client(ctx).get('/v1/reasons?language=pl')).json<{ items: { code: string; children: { code: string; label: string }[] }[] }>();
    expect(tree.items).toEqual([expect.objectContaining({ code: 'DELIVERY', children: [expect.objectContaining({ code: 'DELIVERY.DAMAGED', label: 'Uszkodzona paczka' })] })]);
    expect((await client(ctx).post('/v1/root-causes', { code: 'CARRIER', name: 'Carrier handling' })).statusCode).toBe(201);

    expect((await patchTicket(ids.h1, { reasonCode: 'delivery.damaged', rootCauseCode: 'CARRIER', outcome: 'upheld', redress: { kind: 'refund', amount: 20.5, currency: 'EUR' } })).statusCode).toBe(200);
    expect((await patchTicket(ids.h2, { reasonId: ids.leaf, redress: { kind: 'credit', amount: 10, currency: 'EUR' } })).statusCode).toBe(200);
    const h3 = await patchTicket(ids.h3, { reasonId: ids.parent, outcome: 'partially_upheld', redress: { kind: 'goodwill', amount: 30, currency: 'ILS' } });
    expect(h3.json()).toMatchObject({ reasonId: ids.parent, outcome: 'partially_upheld', redress: { kind: 'goodwill', amount: 30, currency: 'ILS' }, handlingSec: 3600, afterWorkSec: 0 });
  });

  it('handle time, service level, speed of answer, abandonment, CES, NPS, redress and occupancy', async () => {
    const { total } = await totalOf(D1);
    expect(total.phoneQueue).toEqual({ offered: 10, answered: 5, answeredWithin: 3, abandoned: 5, shortAbandoned: 2 });
    expect(total.serviceLevel).toEqual({ within: 5, eligible: 12, rate: 5 / 12 });
    expect(total.averageSpeedOfAnswer).toBe(25);
    expect(total.abandonmentRate).toBe(0.375);
    expect(total.handleTime).toEqual({ count: 3, median: 2400, p90: 3360, avg: 2600, handlingAvg: 2300, afterWorkAvg: 300 });
    expect(total.ces).toEqual({ average: 5, offered: 5, responded: 4, responseRate: 0.8 });
    expect(total.nps).toEqual({ score: 0, offered: 9, responded: 8, promoters: 3, passives: 2, detractors: 3 });
    expect(total.redress).toEqual({ count: 3, sums: [{ currency: 'EUR', amount: 30.5 }, { currency: 'ILS', amount: 30 }] });
    expect(total.occupancy).toBeCloseTo(7920 / 45000, 12);
    // Per channel: the phone row is the phone queue's 3/8; e-mail 1 of 2 first responses.
    const byChannel = await totalOf(`${D1}&groupBy=channel`);
    const row = (key: string) => byChannel.rows.find((r) => (r.group as { key: string }).key === key) as unknown as Figures;
    expect(row('phone').serviceLevel).toEqual({ within: 3, eligible: 8, rate: 0.375 });
    expect(row('email').serviceLevel).toEqual({ within: 1, eligible: 2, rate: 0.5 });
    expect(row('email').occupancy).toBeNull();
  });

  it('groups by reason and root cause', async () => {
    const byReason = await totalOf(`${D1}&groupBy=reason`);
    const leaf = byReason.rows.find((r) => (r.group as { key: string }).key === ids.leaf) as unknown as Figures & { group: { label: string }; solvedCount: number };
    expect(leaf.group.label).toBe('DELIVERY.DAMAGED Damaged parcel');
    expect(leaf.solvedCount).toBe(2);
    expect(leaf.handleTime).toMatchObject({ count: 2, avg: 2100 });
    expect(leaf.redress).toEqual({ count: 2, sums: [{ currency: 'EUR', amount: 30.5 }] });
    const byCause = await totalOf(`${D1}&groupBy=rootCause`);
    expect(byCause.rows.map((r) => (r.group as { label: string }).label)).toEqual(['CARRIER Carrier handling', '(no root cause)']);
  });

  it('the agent report: occupancy across a day with idle gaps, per agent, team and day; CSV with a BOM and formulas neutralised', async () => {
    const res = await client(ctx).get(`/v1/reports/agents?${D1}&groupBy=agent`);
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json<{ rows: { group: { key: string; label: string }; [k: string]: unknown }[]; total: Record<string, unknown> }>();
    expect(body.rows.map((r) => r.group.label)).toEqual(['@Dana', 'Ada']);
    const ada = body.rows.find((r) => r.group.key === ids.a1)!;
    expect(ada).toMatchObject({ loggedInSec: 32_400, availableSec: 30_600, awaySec: 1800, handlingSec: 4020, idleSec: 26_580, ticketsHandled: 7 });
    expect(ada.occupancy).toBeCloseTo(4020 / 30_600, 12);
    expect(ada.utilization).toBeCloseTo(4020 / 32_400, 12);
    const dana = body.rows.find((r) => r.group.key === ids.a2)!;
    expect(dana).toMatchObject({ loggedInSec: 14_400, handlingSec: 3900, idleSec: 10_500, ticketsHandled: 2 });
    expect(body.total).toMatchObject({ handlingSec: 7920, idleSec: 37_080, ticketsHandled: 8 });
    expect(body.total.occupancy).toBeCloseTo(7920 / 45_000, 12);
    const team = (await client(ctx).get(`/v1/reports/agents?${D1}&groupBy=team`)).json<{ rows: { group: { label: string }; handlingSec: number }[] }>();
    expect(team.rows).toEqual([expect.objectContaining({ group: { key: ids.team, label: 'Complaints' }, handlingSec: 7920 })]);
    const days = (await client(ctx).get(`/v1/reports/agents?from=2026-03-01T00:00:00Z&to=2026-03-03T00:00:00Z&groupBy=day`)).json<{ rows: { group: { key: string }; handlingSec: number }[] }>();
    expect(days.rows.map((r) => [r.group.key, r.handlingSec])).toEqual([['2026-03-01', 7920]]);

    const csv = await client(ctx).get(`/v1/reports/agents?${D1}&groupBy=agent`, { accept: 'text/csv' });
    expect(csv.headers['content-type']).toMatch(/^text\/csv/);
    expect(csv.body.startsWith('\ufeffgroup.key,group.label,loggedInSec')).toBe(true);
    // "@Dana" would run as a formula in a spreadsheet: escaped with a leading quote.
    expect(csv.body).toContain(`\r\n${ids.a2},'@Dana,14400,`);
  });

  it('the rollups answer the same figures', async () => {
    await refreshKpiRollups(ctx.deps.pool, DEFAULT_FIGURE_SETTINGS);
    const res = await client(ctx).get(`/v1/reports/kpis?${D1}&groupBy=reason`);
    expect(res.headers['kpi-source']).toBe('rollups');
    const exact = await totalOf(`${D1}&groupBy=channel`);
    const total = res.json<{ total: Figures }>().total;
    for (const key of ['phoneQueue', 'serviceLevel', 'averageSpeedOfAnswer', 'abandonmentRate', 'ces', 'nps', 'redress', 'occupancy'] as const) expect(total[key], key).toEqual(exact.total[key]);
    expect(total.handleTime.count).toBe(3);
    expect(total.handleTime.avg).toBe(2600);
    expect(Math.abs(total.handleTime.median - 2400) / 2400).toBeLessThanOrEqual(0.01);
    expect(Math.abs(total.handleTime.p90 - 3360) / 3360).toBeLessThanOrEqual(0.01);
  });

  it('occupancy from the agent hour rollups equals the agent report by agent, team and day, also after late work and a backdated presence change', async () => {
    // Off the hour at the start: the partial first hour is computed live, the rest read from agent_hour_rollups.
    const range = 'from=2026-02-28T06:30:00Z&to=2026-03-02T00:00:00Z';
    const [rangeFrom, rangeTo] = [at('2026-02-28T06:30:00Z'), at('2026-03-02T00:00:00Z')];
    const compare = async (expected: { a1: number; a2: number; total: number }) => {
      await refreshKpiRollups(ctx.deps.pool, DEFAULT_FIGURE_SETTINGS);
      for (const groupBy of ['agent', 'team', 'day'] as const) {
        const kpis = await client(ctx).get(`/v1/reports/kpis?${range}&groupBy=${groupBy}`);
        expect(kpis.headers['kpi-source'], groupBy).toBe('rollups');
        // The agent report computed from the raw tables alone (the route reads the rollups for a range this long).
        const agents = await queryAgentReport(ctx.deps.pool, { from: rangeFrom, to: rangeTo, groupBy, tz: 'UTC' });
        // The agent report route, from agent_hour_rollups for the closed hours: every figure of every row as the raw tables give it.
        const routed = await client(ctx).get(`/v1/reports/agents?${range}&groupBy=${groupBy}`);
        expect(routed.statusCode, routed.body).toBe(200);
        expect(routed.headers['kpi-source'], groupBy).toBe('rollups');
        expectSameAgentReport(routed.json<AgentReport>(), agents, groupBy);
        const body = kpis.json<{ rows: { group: { key: string }; occupancy: number | null }[]; total: { occupancy: number } }>();
        for (const row of agents.rows) expect(body.rows.find((r) => r.group.key === row.group.key)?.occupancy, `${groupBy} ${row.group.key}`).toBeCloseTo(row.occupancy!, 12);
        expect(body.total.occupancy, groupBy).toBeCloseTo(agents.total.occupancy!, 12);
        expect(body.total.occupancy).toBeCloseTo(expected.total, 12);
        if (groupBy === 'agent') {
          expect(body.rows.find((r) => r.group.key === ids.a1)?.occupancy).toBeCloseTo(expected.a1, 12);
          expect(body.rows.find((r) => r.group.key === ids.a2)?.occupancy).toBeCloseTo(expected.a2, 12);
        }
      }
      // Local days: in a zone on whole hours from the rollups, in one at :30 live (its days do not
      // start on a UTC hour). A2's work at D1 22:30-23:00 UTC falls on 2 March in both zones, so
      // its ticket counts on a later local day than in UTC.
      const [night] = await ctx.deps.db
        .insert(workIntervals)
        .values({ ticketId: ids.h3, agentId: ids.a2, kind: 'handling', source: 'api', startedAt: at('D1 22:30'), endedAt: at('D1 23:00'), reportedEndedAt: at('D1 23:00') })
        .returning();
      await refreshKpiRollups(ctx.deps.pool, DEFAULT_FIGURE_SETTINGS);
      for (const [tz, source] of [['Asia/Jerusalem', 'rollups'], ['Asia/Kolkata', 'exact']] as const) {
        const local = await client(ctx).get(`/v1/reports/agents?${range}&groupBy=day&tz=${encodeURIComponent(tz)}`);
        expect(local.headers['kpi-source'], tz).toBe(source);
        const exact = await queryAgentReport(ctx.deps.pool, { from: rangeFrom, to: rangeTo, groupBy: 'day', tz });
        expect(exact.rows.find((r) => r.group.key === '2026-03-02')?.ticketsHandled, tz).toBe(1);
        expectSameAgentReport(local.json<AgentReport>(), exact, `day ${tz}`);
      }
      await ctx.deps.db.delete(workIntervals).where(eq(workIntervals.id, night!.id));
      await refreshKpiRollups(ctx.deps.pool, DEFAULT_FIGURE_SETTINGS);
    };
    await compare({ a1: 4020 / 30_600, a2: 3900 / 14_400, total: 7920 / 45_000 });
    // Changes to hours that closed long ago: the triggers mark them dirty, the next refresh
    // recomputes them. A2 reports 11:00-11:30 late (+1800 s handling); A1 went away at 15:00
    // (online 08:00-12:00 and 12:30-15:00 = 23,400 s; the away time is not available).
    const [late] = await ctx.deps.db
      .insert(workIntervals)
      .values({ ticketId: ids.h3, agentId: ids.a2, kind: 'handling', source: 'api', startedAt: at('D1 11:00'), endedAt: at('D1 11:30'), reportedEndedAt: at('D1 11:30') })
      .returning();
    const [away] = await ctx.deps.db.insert(agentPresenceEvents).values({ agentId: ids.a1, status: 'away', reason: 'manual', at: at('D1 15:00') }).returning();
    // Until the refresh, the stored hours still answer (proof that they, not the agent report, do).
    const stale = (await client(ctx).get(`/v1/reports/kpis?${range}&groupBy=agent`)).json<{ total: { occupancy: number } }>();
    expect(stale.total.occupancy).toBeCloseTo(7920 / 45_000, 12);
    const staleAgents = (await client(ctx).get(`/v1/reports/agents?${range}&groupBy=agent`)).json<AgentReport>();
    expect(staleAgents.total).toMatchObject({ handlingSec: 7920, idleSec: 37_080 });
    await compare({ a1: 4020 / 23_400, a2: 5700 / 14_400, total: 9720 / 37_800 });
    // And back: deletes mark their hours too.
    await ctx.deps.db.delete(workIntervals).where(eq(workIntervals.id, late!.id));
    await ctx.deps.db.delete(agentPresenceEvents).where(eq(agentPresenceEvents.id, away!.id));
    await compare({ a1: 4020 / 30_600, a2: 3900 / 14_400, total: 7920 / 45_000 });
    // Several changes deleted by one statement mark each hour once: row by row, each deleted change
    // found its next change deleted too and marked every hour up to now, once per row.
    const burst = await ctx.deps.db
      .insert(agentPresenceEvents)
      .values([{ agentId: ids.a1, status: 'online', reason: 'manual', at: at('D1 18:00') }, { agentId: ids.a1, status: 'offline', reason: 'manual', at: at('D1 19:00') }])
      .returning();
    await refreshKpiRollups(ctx.deps.pool, DEFAULT_FIGURE_SETTINGS);
    // The refresh may leave hours it does not recompute yet (the open day's) marked: only the delete's marks count here.
    await ctx.deps.pool.query('delete from kpi_rollup_dirty_hours');
    await ctx.deps.db.delete(agentPresenceEvents).where(inArray(agentPresenceEvents.id, burst.map((row) => row.id)));
    const { rows: [marks] } = await ctx.deps.pool.query<{ n: number; distinct: number; first: Date }>('select count(*)::int as n, count(distinct hour)::int as distinct, min(hour) as first from kpi_rollup_dirty_hours');
    expect(marks!.n).toBe(marks!.distinct);
    expect(marks!.first).toEqual(at('D1 18:00'));
    await compare({ a1: 4020 / 30_600, a2: 3900 / 14_400, total: 7920 / 45_000 });
  });
});

describe('bad input: 4xx naming the field, nothing written', () => {
  it('work intervals', async () => {
    const before = (await ctx.deps.db.select().from(workIntervals)).length;
    const api = client(ctx, agentToken);
    const post = (body: Record<string, unknown>, ticket = ids.h1) => api.post(`/v1/tickets/${ticket}/work`, { kind: 'handling', ...body });
    expectProblem(await post({ startedAt: '2026-03-01T10:00:00Z', endedAt: '2026-03-01T09:00:00Z' }), 400, { field: 'body.endedAt' });
    expectProblem(await post({ startedAt: '2026-03-02T11:00:00Z', endedAt: '2026-03-02T13:00:00Z' }), 400, { field: 'body.endedAt' }); // in the future
    expectProblem(await post({ startedAt: '2026-02-27T10:00:00Z', endedAt: '2026-02-28T10:00:01Z' }), 400, { field: 'body.endedAt' }); // over 24 h
    expectProblem(await post({ startedAt: 'yesterday', endedAt: '2026-03-01T09:00:00Z' }), 400, { field: 'body.startedAt' });
    expectProblem(await post({ startedAt: '2026-03-01T08:00:00Z', endedAt: '2026-03-01T09:00:00Z', kind: 'lunch' }), 400, { field: 'body.kind' });
    expectProblem(await post({ startedAt: '2026-03-01T08:00:00Z', endedAt: '2026-03-01T09:00:00Z' }, '00000000-0000-4000-8000-000000000000'), 404);
    expectProblem(await post({ startedAt: '2026-03-01T08:00:00Z', endedAt: '2026-03-01T09:00:00Z', agentId: ids.a2 }), 403);
    expect((await ctx.deps.db.select().from(workIntervals)).length).toBe(before);
    expectProblem(await api.get('/v1/tickets/00000000-0000-4000-8000-000000000000/work'), 404);
    expect((await api.get(`/v1/tickets/${ids.h1}/work`)).json<{ items: unknown[] }>().items).toHaveLength(4);
  });

  it('classification, and a solve without a leaf reason where the team requires one', async () => {
    const w = fixtureWriter(ctx.deps.db);
    const team = await w.team('Strict');
    expect((await client(ctx).patch(`/v1/teams/${team.id}`, { requireReasonOnSolve: true })).json()).toMatchObject({ requireReasonOnSolve: true });
    const t = await w.ticket({ channel: 'email', status: 'open', teamId: team.id, createdAt: at('D1 08:00') });
    expectProblem(await patchTicket(t.id, { reasonCode: 'NOPE' }), 400, { field: 'body.reasonCode' });
    expectProblem(await patchTicket(t.id, { redress: { kind: 'refund', amount: -1, currency: 'EUR' } }), 400, { field: 'body.redress.amount' });
    expectProblem(await patchTicket(t.id, { redress: { kind: 'refund', amount: 1, currency: 'XYZ' } }), 400, { field: 'body.redress.currency' });
    expectProblem(await patchTicket(t.id, { status: 'solved' }), 422, { field: 'body.reasonId' });
    // A reason with sub-reasons is not enough.
    expectProblem(await patchTicket(t.id, { status: 'solved', reasonId: ids.parent }), 422, { field: 'body.reasonId' });
    const [unchanged] = await ctx.deps.db.select().from(tickets).where(eq(tickets.id, t.id));
    expect(unchanged).toMatchObject({ status: 'open', reasonId: null, redressKind: null, version: t.version });
    const solved = await patchTicket(t.id, { status: 'solved', reasonCode: 'DELIVERY.DAMAGED' });
    expect(solved.statusCode, solved.body).toBe(200);
    expect(solved.json()).toMatchObject({ status: 'solved', reasonId: ids.leaf });
  });

  it('surveys: CES per channel through the token page, answers out of range refused', async () => {
    const created = await put('/v1/survey-settings', { scope: { kind: 'channel', value: 'facebook' }, onSolve: 'ces' });
    expect(created.statusCode, created.body).toBe(201);
    expectProblem(await put('/v1/survey-settings', { scope: { kind: 'channel', value: 'fax' }, onSolve: 'ces' }), 400, { field: 'body.scope.value' });
    expectProblem(await put('/v1/survey-settings', { onSolve: 'stars' }), 400, { field: 'body.onSolve' });
    expect((await client(ctx).get('/v1/survey-settings')).json()).toMatchObject({ items: [{ scope: { kind: 'channel', value: 'facebook' }, onSolve: 'ces' }] });
    const t = await fixtureWriter(ctx.deps.db).ticket({ channel: 'facebook', status: 'open', createdAt: at('D1 08:00') });
    expect((await patchTicket(t.id, { status: 'solved' })).statusCode).toBe(200);
    const messages = (await client(ctx).get(`/v1/tickets/${t.id}/messages`)).json<{ items: { body: string }[] }>().items;
    const token = /\/v1\/csat\/([A-Za-z0-9_-]+)/.exec(messages.map((m) => m.body).join(' '))?.[1];
    expect(messages.map((m) => m.body).join(' ')).toContain('from 1 (very hard) to 7 (very easy)');
    const read = await client(ctx).get(`/v1/csat/${token}`, { accept: 'application/json' });
    expect(read.json()).toMatchObject({ kind: 'ces', scale: { min: 1, max: 7 } });
    expectProblem(await client(ctx).post(`/v1/csat/${token}`, { score: 8 }), 400, { field: 'body.score' });
    const [survey] = await ctx.deps.db.select().from(csatSurveys).where(eq(csatSurveys.ticketId, t.id));
    expect(survey).toMatchObject({ kind: 'ces', score: null, respondedAt: null });
    expect((await client(ctx).post(`/v1/csat/${token}`, { score: 6 })).statusCode).toBe(201);
  });
});

describe('alarms on the new figures', () => {
  it('fires when service level drops below its target and clears when it recovers', async () => {
    const target = await put('/v1/kpi-targets', { kpi: 'service_level', scope: { kind: 'all' }, threshold: 0.8, direction: 'below', windowHours: 24 });
    expect(target.statusCode, target.body).toBe(201);
    // Window D1: 5/12 (see the header): below 0.8.
    const first = await evaluateKpiTargets(ctx.deps.db, at('2026-03-02T00:00:00Z'), DEFAULT_FIGURE_SETTINGS);
    expect(first.find((e) => e.targetId === target.json<{ id: string }>().id)).toMatchObject({ outcome: 'raised', value: 5 / 12 });
    // D2 10:00: eight calls answered within 5 s. Window [D1 12:00, D2 12:00): those and E2's late first response: 8/9.
    manualClock(ctx).set(at('D2 10:00'));
    for (let i = 0; i < 8; i++) {
      const res = await postPhoneEvent(ctx, phoneEvent({ callId: `ok-${i}`, event: 'answered', from: `+97250765432${i}`, durationSec: 60, waitSec: 5 }), { token: ctx.adminToken });
      expect(res.statusCode, res.body).toBeLessThan(300);
    }
    expect(await ctx.deps.db.select().from(phoneQueueCalls)).toHaveLength(18);
    const second = await evaluateKpiTargets(ctx.deps.db, NOW, DEFAULT_FIGURE_SETTINGS);
    expect(second.find((e) => e.targetId === target.json<{ id: string }>().id)).toMatchObject({ outcome: 'cleared', value: 8 / 9 });
    const rows = await ctx.deps.db.select().from(alarms);
    expect(rows).toEqual([expect.objectContaining({ state: 'cleared', value: 5 / 12, lastValue: 8 / 9 })]);
  });
});
