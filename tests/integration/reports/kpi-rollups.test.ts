import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { refreshKpiRollups } from '../../../src/modules/reports/kpi-rollup.refresh.js';
import { SKETCH_RELATIVE_ACCURACY } from '../../../src/modules/reports/kpi-sketch.js';
import { queryKpis, type GroupBy, type KpiQuery, type KpiReport } from '../../../src/modules/reports/kpi.queries.js';
import { kpiReport } from '../../../src/modules/reports/kpi.service.js';
import { client, manualClock } from '../../helpers/api.js';
import { createTestContext, type TestContext } from '../../helpers/context.js';
import { at, fixtureWriter, writeFixedDataSet } from './fixture.js';

/**
 * The rollup-backed report against the exact statement (kpi.queries.ts, the reference): on the
 * fixed data set of kpis.test.ts and on a random one, every grouping, filter and time zone,
 * ranges on and off the hour. Counts and rates must be equal; medians and p90 within the
 * sketch's relative accuracy; averages equal up to floating-point summation order.
 */

let ctx: TestContext;
let ids: Awaited<ReturnType<typeof writeFixedDataSet>>;
const NOW = at('D2 12:00');

beforeAll(async () => {
  ctx = await createTestContext();
  manualClock(ctx).set(NOW);
  ids = await writeFixedDataSet(ctx.deps.db);
});
afterAll(async () => ctx?.close());

const GROUPINGS: GroupBy[] = ['channel', 'team', 'agent', 'language', 'priority', 'day', 'week'];

function expectSameReport(rollup: KpiReport, exact: KpiReport, label: string): void {
  expect(rollup.rows.map((r) => r.group), label).toEqual(exact.rows.map((r) => r.group));
  const compare = (actual: unknown, expected: unknown, path: string): void => {
    if (expected !== null && typeof expected === 'object') {
      expect(Object.keys(actual as object).sort(), path).toEqual(Object.keys(expected).sort());
      for (const [key, value] of Object.entries(expected)) compare((actual as Record<string, unknown>)[key], value, `${path}.${key}`);
    } else if (typeof expected === 'number' && (path.endsWith('.median') || path.endsWith('.p90'))) {
      expect(typeof actual, path).toBe('number');
      expect(Math.abs((actual as number) - expected), `${path}: ${String(actual)} vs ${expected}`).toBeLessThanOrEqual(SKETCH_RELATIVE_ACCURACY * Math.abs(expected) + 1e-9);
    } else if (typeof expected === 'number' && !Number.isInteger(expected)) {
      expect(actual as number, path).toBeCloseTo(expected, 9);
    } else {
      expect(actual, path).toBe(expected);
    }
  };
  exact.rows.forEach((row, i) => compare(rollup.rows[i], row, `${label} row ${row.group.label}`));
  compare(rollup.total, exact.total, `${label} total`);
}

async function expectRollupsMatch(q: KpiQuery, label: string): Promise<void> {
  const { report, source } = await kpiReport(ctx.deps.db, q);
  expect(source, label).toBe('rollups');
  expectSameReport(report, await queryKpis(ctx.deps.db, q), label);
}

const query = (from: string, to: string, groupBy: GroupBy, extra: Partial<KpiQuery> = {}): KpiQuery => ({
  from: new Date(from),
  to: new Date(to),
  groupBy,
  tz: 'UTC',
  now: NOW,
  ...extra,
});

describe('KPI rollups', () => {
  it('are read over connections with JIT off (compiling the fact statements cost more than it saved)', async () => {
    const { rows } = await ctx.deps.pool.query<{ jit: string }>('show jit');
    expect(rows[0]!.jit).toBe('off');
  });

  it('are not used before the first refresh: the exact statement answers', async () => {
    const { source } = await kpiReport(ctx.deps.db, query('2026-03-01T00:00Z', '2026-03-03T00:00Z', 'channel'));
    expect(source).toBe('exact');
  });

  it('answer like the exact statement on the fixed data set: every grouping, filter, zone, and ranges off the hour', async () => {
    const refreshed = await refreshKpiRollups(ctx.deps.pool);
    expect(refreshed.days).toBeGreaterThan(0);
    for (const groupBy of GROUPINGS) {
      await expectRollupsMatch(query('2026-03-01T00:00Z', '2026-03-03T00:00Z', groupBy), groupBy);
      await expectRollupsMatch(query('2026-02-25T07:30Z', '2026-03-02T13:45:10Z', groupBy), `${groupBy} off the hour`);
      await expectRollupsMatch(query('2026-03-01T00:00Z', '2026-03-03T00:00Z', groupBy, { channels: ['email'] }), `${groupBy} email`);
      await expectRollupsMatch(query('2026-02-20T00:00Z', '2026-03-10T00:00Z', groupBy, { channels: ['phone', 'facebook'], teamId: ids.teamB }), `${groupBy} team B`);
    }
    for (const tz of ['America/New_York', 'Europe/Warsaw']) {
      await expectRollupsMatch(query('2026-02-27T00:00Z', '2026-03-03T00:00Z', 'day', { tz }), `day ${tz}`);
      await expectRollupsMatch(query('2026-02-20T00:00Z', '2026-03-06T00:00Z', 'week', { tz }), `week ${tz}`);
    }
  });

  it('leave to the exact statement what they cannot cut: days at :30 from UTC, ranges under a day', async () => {
    expect((await kpiReport(ctx.deps.db, query('2026-02-27T00:00Z', '2026-03-03T00:00Z', 'day', { tz: 'Asia/Kolkata' }))).source).toBe('exact');
    expect((await kpiReport(ctx.deps.db, query('2026-03-01T00:00Z', '2026-03-01T23:00Z', 'channel'))).source).toBe('exact');
    const res = await client(ctx).get('/v1/reports/kpis?from=2026-03-01T00:00:00Z&to=2026-03-03T00:00:00Z&groupBy=day');
    expect(res.statusCode).toBe(200);
    expect(res.headers['kpi-source']).toBe('rollups');
  });

  it('re-aggregate, at the next refresh, the hours a later change moves facts in or out of', async () => {
    const { T1, T3, T4 } = ids.tickets;
    const db = ctx.deps.db;
    await db.execute(sql`delete from kpi_rollup_dirty_hours`);
    // T4, open since D1 14:00, is solved at D2 10:00: a resolution in that (closed) hour.
    await db.execute(sql`update tickets set status = 'solved', solved_at = ${at('D2 10:00').toISOString()}::timestamptz, fcr_state = 'no' where id = ${T4.id}`);
    // T1 (solved D1 12:00) is reopened: its solve leaves the D1 12:00 hour.
    await db.execute(sql`update tickets set status = 'open', solved_at = null, reopen_count = 1 where id = ${T1.id}`);
    // T3 moves to Ben: every fact of it changes agent (created D1 10:00, solved D1 11:00, clocks, commitment 03-05).
    await db.execute(sql`update tickets set assignee_id = ${ids.ben}::uuid where id = ${T3.id}`);
    // The survey of T9 (offered D1 15:00) is answered now; the open commitment of T0 (due D2 05:00) is kept.
    await db.execute(sql`update csat_surveys set score = 4, responded_at = ${NOW.toISOString()}::timestamptz where ticket_id = ${ids.tickets.T9.id}`);
    await db.execute(sql`update commitments set state = 'kept', closed_at = due_at where ticket_id = ${ids.tickets.T0.id}`);

    const marked = (await db.execute(sql`select distinct to_char(hour at time zone 'UTC', 'MM-DD HH24') as h from kpi_rollup_dirty_hours order by 1`)).rows.map((r) => r.h);
    expect(marked).toEqual(expect.arrayContaining(['03-02 10', '03-01 12', '03-01 10', '03-01 11', '03-05 12', '03-01 15', '03-02 05']));

    const q = query('2026-03-01T00:00Z', '2026-03-03T00:00Z', 'agent');
    // Until the refresh the stored hours are as they were (freshness: one refresh interval).
    const stale = (await kpiReport(db, q)).report;
    const exact = await queryKpis(db, q);
    expect(stale.total.commitments.kept).toBe(exact.total.commitments.kept - 1);

    const refreshed = await refreshKpiRollups(ctx.deps.pool);
    expect(refreshed.dirtyHours).toBeGreaterThanOrEqual(7);
    for (const groupBy of GROUPINGS) await expectRollupsMatch(query('2026-02-25T00:00Z', '2026-03-06T00:00Z', groupBy), `after changes ${groupBy}`);
    expect((await db.execute(sql`select count(*)::int as n from kpi_rollup_dirty_hours`)).rows[0]!.n).toBe(0);
  });

  it('read the hours since the watermark, and the hour of now, live', async () => {
    const w = fixtureWriter(ctx.deps.db);
    const realNow = Date.now();
    const HOUR = 3_600_000;
    for (let i = 0; i < 30; i++) {
      const created = new Date(realNow - i * 0.9 * HOUR - (i === 1 ? 150_000 - 0.9 * HOUR : 5_000));
      await w.ticket({ channel: i % 2 ? 'email' : 'phone', status: i % 3 ? 'open' : 'solved', createdAt: created, firstResponseAt: new Date(created.getTime() + 1_000 * i), solvedAt: i % 3 ? null : new Date(created.getTime() + 2_000 * i + 1) });
    }
    const refreshed = await refreshKpiRollups(ctx.deps.pool);
    // Against the time after the refresh (the watermark comes from the database's now(), later
    // than realNow: an hour may begin in between).
    expect(Date.parse(refreshed.watermark!)).toBeLessThanOrEqual(Date.now() - 120_000);
    // The open hour is stored up to a couple of minutes ago; only what came after is read live.
    const partial = await ctx.deps.db.execute(sql`select (select partial_until from kpi_rollup_state) as until, (select count(*)::int from kpi_rollups where period = 'partial') as n`);
    expect(partial.rows[0]!.until).not.toBeNull();
    // A ticket created 150 s ago is in the stored open hour unless that hour began since.
    if (realNow - 150_000 >= Date.parse(refreshed.watermark!)) expect(partial.rows[0]!.n).toBeGreaterThan(0);
    manualClock(ctx).set(new Date(realNow));
    for (const groupBy of ['channel', 'day'] as const) {
      await expectRollupsMatch({ ...query(new Date(realNow - 24 * HOUR).toISOString(), new Date(realNow + 60_000).toISOString(), groupBy), now: new Date(realNow) }, `last 24 h ${groupBy}`);
      // Ending inside the stored part of the open hour: its whole minutes stored, the rest live.
      const to = realNow - 150_000 - 7_000;
      await expectRollupsMatch({ ...query(new Date(to - 24 * HOUR).toISOString(), new Date(to).toISOString(), groupBy), now: new Date(realNow) }, `24 h to inside the open hour ${groupBy}`);
    }
  });

  it('are refreshed by the maintenance worker on its schedule', async () => {
    const before = (await ctx.deps.db.execute(sql`select refreshed_at from kpi_rollup_state`)).rows[0]!.refreshed_at as string;
    const workers = await ctx.startWorkers();
    const deadline = Date.now() + 30_000;
    let after = before;
    while (after === before && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      after = (await ctx.deps.db.execute(sql`select refreshed_at from kpi_rollup_state`)).rows[0]!.refreshed_at as string;
    }
    expect(after).not.toBe(before);
    // The rest of the file refreshes by hand: a background refresh would hold the lock.
    await Promise.all(workers.map((w) => w.close()));
  });

  it('answer like the exact statement on a random data set', async () => {
    const w = fixtureWriter(ctx.deps.db);
    let seed = 20260405;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)]!;
    const teams = [await w.team('Gamma'), await w.team('Delta')];
    const agents = [await w.agent('Dee', teams[0]!.id), await w.agent('Eve', teams[0]!.id), await w.agent('Fay', teams[1]!.id)];
    const base = Date.parse('2026-04-01T00:00:00Z');
    const HOUR = 3_600_000;
    for (let i = 0; i < 250; i++) {
      const created = new Date(base + Math.floor(random() * 20 * 24 * HOUR) + Math.floor(random() * 59_000));
      const agent = random() < 0.8 ? pick(agents) : null;
      const answered = random() < 0.85;
      const firstResponse = answered ? new Date(created.getTime() + Math.floor(random() * 10 * HOUR)) : null;
      const solved = answered && random() < 0.7 ? new Date(firstResponse!.getTime() + Math.floor(random() * 72 * HOUR)) : null;
      const closed = solved && random() < 0.5 ? new Date(solved.getTime() + Math.floor(random() * 48 * HOUR)) : !solved && random() < 0.05 ? new Date(created.getTime() + HOUR) : null;
      const channel = pick(['email', 'phone', 'facebook', 'twitter'] as const);
      const ticket = await w.ticket({
        channel,
        status: closed ? 'closed' : solved ? 'solved' : 'open',
        priority: pick(['low', 'normal', 'high', 'urgent']),
        teamId: agent ? (agent.teamId ?? null) : random() < 0.5 ? pick(teams).id : null,
        assigneeId: agent?.id ?? null,
        language: random() < 0.9 ? pick(['he', 'pl', 'en']) : null,
        createdAt: created,
        firstResponseAt: firstResponse,
        solvedAt: solved,
        closedAt: closed,
        reopenCount: random() < 0.1 ? 1 : 0,
        handoffCount: Math.floor(random() * 3),
        fcrState: solved ? pick(['yes', 'no', 'pending']) : 'pending',
      });
      if (firstResponse && random() < 0.8) {
        await w.clock(ticket.id, 'first_response', pick(['met', 'breached']), { usedSec: Math.floor(random() * 20_000), startedAt: created, stoppedAt: firstResponse });
      }
      if (solved && random() < 0.8) await w.clock(ticket.id, 'resolution', pick(['met', 'breached']), { usedSec: Math.floor(random() * 200_000), startedAt: created, stoppedAt: solved });
      if (random() < 0.15) await w.breach(ticket.id, 'first_response', pick(['email', 'phone']), random() < 0.5 ? teams[0]!.id : null, new Date(created.getTime() + HOUR));
      if (solved && random() < 0.5) {
        await w.survey(ticket.id, { agentId: agent?.id ?? null, teamId: agent?.teamId ?? null, channel, language: 'en', offeredAt: solved, ...(random() < 0.6 ? { score: 1 + Math.floor(random() * 5) } : {}) });
      }
      if (random() < 0.2) await w.commitment(ticket.id, pick(['open', 'kept', 'broken']), new Date(created.getTime() + Math.floor(random() * 96 * HOUR)));
    }
    manualClock(ctx).set(new Date('2026-04-12T08:20:00Z'));
    expect((await refreshKpiRollups(ctx.deps.pool)).skipped).toBeUndefined();
    const ranges = [
      ['2026-04-01T00:00Z', '2026-04-21T00:00Z'],
      ['2026-04-03T05:17:00Z', '2026-04-15T22:41:30Z'],
      ['2026-04-10T00:00Z', '2026-04-12T09:00Z'],
    ] as const;
    for (const [from, to] of ranges) {
      for (const groupBy of GROUPINGS) {
        const q = { ...query(from, to, groupBy), now: ctx.clock.now() };
        await expectRollupsMatch(q, `random ${groupBy} ${from}`);
        await expectRollupsMatch({ ...q, teamId: teams[0]!.id, channels: ['email', 'phone'] }, `random ${groupBy} ${from} filtered`);
      }
      await expectRollupsMatch({ ...query(from, to, 'day', { tz: 'America/Los_Angeles' }), now: ctx.clock.now() }, `random day LA ${from}`);
    }
  });
});
