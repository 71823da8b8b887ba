import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { encodeCursor } from '../../../src/http/pagination.js';
import { client, createAgent, createTeam, createTicket, expectProblem, manualClock, MINUTE, patchTicket, type AgentJson, type TeamJson, type TicketJson } from '../../helpers/api.js';
import { createTestContext, type TestContext } from '../../helpers/context.js';
import { createCalendar, createPolicy } from '../../helpers/sla.js';

interface Page {
  items: TicketJson[];
  nextCursor: string | null;
}

async function list(ctx: TestContext, query: string): Promise<Page> {
  const res = await client(ctx).get(`/v1/tickets?${query}`);
  expect(res.statusCode, res.body).toBe(200);
  return res.json<Page>();
}

/** Follows nextCursor to the end, returning every page's ids. */
async function walk(ctx: TestContext, query: string, between?: (pageIndex: number) => Promise<void>): Promise<string[][]> {
  const pages: string[][] = [];
  let cursor: string | null = null;
  do {
    const page = await list(ctx, `${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    pages.push(page.items.map((t) => t.id));
    cursor = page.nextCursor;
    if (pages.length > 50) throw new Error('pagination does not end');
    if (cursor && between) await between(pages.length - 1);
  } while (cursor);
  return pages;
}

describe('filters, search and sorts', () => {
  let ctx: TestContext;
  let agent1: AgentJson;
  let agent2: AgentJson;
  let teamX: TeamJson;
  let teamY: TeamJson;
  /** The seeded tickets by name, as they are after the patches below. */
  const t: Record<string, TicketJson> = {};
  let firstCreated: string;
  let patchedFrom: string;

  const ids = (page: Page) => page.items.map((ticket) => ticket.id).sort();
  const named = (...names: string[]) => names.map((n) => t[n]!.id).sort();
  const expectFilter = async (query: string, ...names: string[]) => expect(ids(await list(ctx, query)), query).toEqual(named(...names));

  beforeAll(async () => {
    ctx = await createTestContext();
    const clock = manualClock(ctx);
    teamX = await createTeam(ctx, { name: 'Team X' });
    teamY = await createTeam(ctx, { name: 'Team Y' });
    agent1 = await createAgent(ctx, { teamId: teamX.id });
    agent2 = await createAgent(ctx, { teamId: teamY.id });
    firstCreated = clock.now().toISOString();
    const seed = async (name: string, body: Record<string, unknown>) => {
      t[name] = await createTicket(ctx, body);
      clock.advance(MINUTE);
    };
    await seed('kettle', { channel: 'email', customer: { email: 'alice@example.com' }, priority: 'low', language: 'en', tags: ['refund'], subject: 'Broken kettle', body: 'The kettle leaks water everywhere' });
    await seed('hebrew', {
      channel: 'phone',
      customer: { phone: '050-111-2233' },
      priority: 'high',
      language: 'he',
      subject: 'מכונת כביסה שבורה',
      body: 'המכונה לא עובדת מאז ההתקנה',
      assigneeId: agent1.id,
      teamId: teamX.id,
    });
    await seed('polish', { channel: 'facebook', customer: { name: 'Zofia' }, priority: 'urgent', language: 'pl', tags: ['damaged', 'refund'], subject: 'Reklamacja pralki', body: 'Zamówienie dotarło uszkodzone, proszę o zwrot' });
    await seed('late', { channel: 'twitter', customer: { email: 'alice@example.com' }, language: 'en', subject: 'Late delivery', body: 'The parcel is three weeks late', assigneeId: agent2.id, teamId: teamY.id });
    await seed('closed', { channel: 'email', customerId: t.kettle!.customerId, subject: 'Wrong invoice', body: 'Invoice has the wrong address' });
    await seed('fresh', { channel: 'email', customer: { email: 'bob@example.com' }, priority: 'high', subject: 'Noisy fridge', body: 'Buzzing all night' });

    // Later, some tickets move: each patch at its own minute, so updatedAt orders them.
    patchedFrom = clock.now().toISOString();
    const move = async (name: string, ...statuses: string[]) => {
      for (const status of statuses) {
        const res = await patchTicket(ctx, t[name]!, { status });
        expect(res.statusCode, res.body).toBe(200);
        t[name] = res.json<TicketJson>();
        clock.advance(MINUTE);
      }
    };
    await move('kettle', 'open');
    await move('polish', 'pending');
    await move('late', 'solved');
    await move('closed', 'solved', 'closed');
  });
  afterAll(async () => ctx?.close());

  it('lists every ticket, newest first by default', async () => {
    const page = await list(ctx, '');
    expect(page.items.map((x) => x.id)).toEqual(['fresh', 'closed', 'late', 'polish', 'hebrew', 'kettle'].map((n) => t[n]!.id));
    expect(page.nextCursor).toBeNull();
    expect(page.items.find((x) => x.id === t.closed!.id)).toEqual(t.closed);
  });

  it('filters by status, one or a comma list', async () => {
    await expectFilter('status=new', 'hebrew', 'fresh');
    await expectFilter('status=open,pending', 'kettle', 'polish');
    await expectFilter('status=closed', 'closed');
    await expectFilter('status=on_hold');
  });

  it('filters by channel and priority, one or several', async () => {
    await expectFilter('channel=phone', 'hebrew');
    await expectFilter('channel=email,twitter', 'kettle', 'late', 'closed', 'fresh');
    await expectFilter('priority=high', 'hebrew', 'fresh');
    await expectFilter('priority=urgent,low', 'kettle', 'polish');
  });

  it('filters by assignee (and "none" for unassigned), team and customer', async () => {
    await expectFilter(`assigneeId=${agent1.id}`, 'hebrew');
    await expectFilter('assigneeId=none', 'kettle', 'polish', 'closed', 'fresh');
    await expectFilter(`teamId=${teamY.id}`, 'late');
    await expectFilter(`customerId=${t.kettle!.customerId}`, 'kettle', 'late', 'closed');
  });

  it('filters by language and tag', async () => {
    await expectFilter('language=he', 'hebrew');
    await expectFilter('language=pl', 'polish');
    await expectFilter('language=en', 'kettle', 'late');
    await expectFilter('tag=refund', 'kettle', 'polish');
    await expectFilter('tag=damaged', 'polish');
    await expectFilter('tag=none-such');
  });

  it('searches subject and body as full text, in English, Hebrew and Polish, ignoring case', async () => {
    const q = (text: string) => `q=${encodeURIComponent(text)}`;
    await expectFilter(q('kettle'), 'kettle');
    await expectFilter(q('KETTLE'), 'kettle');
    await expectFilter(q('leaks'), 'kettle');
    await expectFilter(q('late parcel'), 'late');
    await expectFilter(q('"parcel is three"'), 'late');
    await expectFilter(q('שבורה'), 'hebrew');
    await expectFilter(q('המכונה'), 'hebrew');
    await expectFilter(q('pralki'), 'polish');
    await expectFilter(q('zamówienie'), 'polish');
    await expectFilter(q('ZAMÓWIENIE USZKODZONE'), 'polish');
    await expectFilter(q('kettle -leaks'));
    await expectFilter(q('dishwasher'));
  });

  it('filters by creation and update time, from inclusive and to exclusive', async () => {
    await expectFilter(`createdFrom=${encodeURIComponent(t.polish!.createdAt)}&createdTo=${encodeURIComponent(t.closed!.createdAt)}`, 'polish', 'late');
    await expectFilter(`createdFrom=${encodeURIComponent(firstCreated)}`, 'kettle', 'hebrew', 'polish', 'late', 'closed', 'fresh');
    await expectFilter(`createdTo=${encodeURIComponent(firstCreated)}`);
    // Offsets other than Z mean the same instant.
    const plusTwo = new Date(new Date(t.fresh!.createdAt).getTime() + 2 * 3_600_000).toISOString().replace('Z', '+02:00');
    await expectFilter(`createdFrom=${encodeURIComponent(plusTwo)}`, 'fresh');
    await expectFilter(`updatedFrom=${encodeURIComponent(patchedFrom)}`, 'kettle', 'polish', 'late', 'closed');
    await expectFilter(`updatedTo=${encodeURIComponent(patchedFrom)}`, 'hebrew', 'fresh');
    await expectFilter(`updatedFrom=${encodeURIComponent(t.polish!.updatedAt)}&updatedTo=${encodeURIComponent(t.late!.updatedAt)}`, 'polish');
  });

  it('combines filters with AND', async () => {
    await expectFilter('status=new&channel=phone', 'hebrew');
    await expectFilter('status=new&channel=email', 'fresh');
    await expectFilter(`tag=refund&customerId=${t.kettle!.customerId}`, 'kettle');
    await expectFilter('q=kettle&status=closed');
  });

  it('sorts by createdAt and updatedAt, both directions', async () => {
    const order = async (sort: string) => (await list(ctx, `sort=${sort}`)).items.map((x) => Object.keys(t).find((n) => t[n]!.id === x.id));
    const byCreation = ['kettle', 'hebrew', 'polish', 'late', 'closed', 'fresh'];
    const byUpdate = ['hebrew', 'fresh', 'kettle', 'polish', 'late', 'closed'];
    expect(await order('createdAt')).toEqual(byCreation);
    expect(await order('-createdAt')).toEqual([...byCreation].reverse());
    expect(await order('updatedAt')).toEqual(byUpdate);
    expect(await order('-updatedAt')).toEqual([...byUpdate].reverse());
  });

  it('walks every sort in pages of 2, each ticket exactly once, in the same order as one page', async () => {
    for (const sort of ['createdAt', '-createdAt', 'updatedAt', '-updatedAt']) {
      const whole = (await list(ctx, `sort=${sort}`)).items.map((x) => x.id);
      const pages = await walk(ctx, `sort=${sort}&limit=2`);
      expect(pages.map((p) => p.length), sort).toEqual([2, 2, 2]);
      expect(pages.flat(), sort).toEqual(whole);
    }
    // A filtered walk too: the cursor carries on within the filter.
    const pages = await walk(ctx, 'status=new,open,pending&limit=1&sort=createdAt');
    expect(pages.flat()).toEqual(['kettle', 'hebrew', 'polish', 'fresh'].map((n) => t[n]!.id));
  });
});

describe('cursor pagination under inserts', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext();
  });
  afterAll(async () => ctx?.close());

  const seed = async (count: number, tag: string, advanceMs: number) => {
    const made: TicketJson[] = [];
    for (let i = 0; i < count; i++) {
      made.push(await createTicket(ctx, { tags: [tag], subject: `${tag} ${i}` }));
      manualClock(ctx).advance(advanceMs);
    }
    return made;
  };

  it('breaks ties on equal timestamps by id: 7 tickets created in the same millisecond walk once each', async () => {
    const made = await seed(7, 'same-instant', 0);
    manualClock(ctx).advance(MINUTE);
    for (const sort of ['createdAt', '-createdAt', 'updatedAt', '-updatedAt']) {
      const pages = await walk(ctx, `tag=same-instant&limit=2&sort=${sort}`);
      expect(pages.map((p) => p.length)).toEqual([2, 2, 2, 1]);
      const all = pages.flat();
      expect(new Set(all).size).toBe(7);
      expect([...all].sort()).toEqual(made.map((x) => x.id).sort());
      const byId = [...all].sort();
      expect(all).toEqual(sort.startsWith('-') ? byId.reverse() : byId);
    }
  });

  it('newest-first pages neither repeat nor skip when tickets arrive between page fetches', async () => {
    const made = await seed(9, 'stream', 1000);
    const arrived: TicketJson[] = [];
    const pages = await walk(ctx, 'tag=stream&limit=4', async () => {
      arrived.push(...(await seed(3, 'stream', 1000)));
    });
    const seen = pages.flat();
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual(made.map((x) => x.id).reverse());
    expect(arrived).toHaveLength(6);
    expect(seen.some((id) => arrived.some((a) => a.id === id))).toBe(false);
  });

  it('oldest-first pages keep every earlier ticket exactly once, new arrivals only at the end', async () => {
    const made = await seed(5, 'oldest', 1000);
    const arrived: TicketJson[] = [];
    const pages = await walk(ctx, 'tag=oldest&limit=2&sort=createdAt', async (index) => {
      if (index < 2) arrived.push(...(await seed(1, 'oldest', 1000)));
    });
    const seen = pages.flat();
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual([...made, ...arrived].map((x) => x.id));
  });

  it('refuses limit above 200 or below 1, naming query.limit', async () => {
    expectProblem(await client(ctx).get('/v1/tickets?limit=201'), 400, { code: 'validation', field: 'query.limit' });
    expectProblem(await client(ctx).get('/v1/tickets?limit=0'), 400, { field: 'query.limit' });
    expectProblem(await client(ctx).get('/v1/tickets?limit=ten'), 400, { field: 'query.limit' });
    expect((await client(ctx).get('/v1/tickets?limit=200')).statusCode).toBe(200);
  });

  it('refuses a cursor it did not issue, naming query.cursor', async () => {
    const forged = (key: unknown) => Buffer.from(JSON.stringify(key)).toString('base64url');
    const bad = [
      'garbage',
      '!!!',
      forged({ hello: 'world' }),
      forged([1, 2]),
      forged({ v: 'not a date', id: 'not-a-uuid' }),
      forged({ v: '2026-01-05T09:00:00.000Z', id: 'not-a-uuid' }),
      forged({ v: 'yesterday', id: '0b7f2a1e-9d7c-4d55-8f0a-7c6b1e2d3f4a' }),
      forged({ v: 12, id: '0b7f2a1e-9d7c-4d55-8f0a-7c6b1e2d3f4a' }),
      forged({ v: '0000-01-01T00:00:00.000Z', id: '0b7f2a1e-9d7c-4d55-8f0a-7c6b1e2d3f4a' }),
      'x'.repeat(501),
    ];
    for (const cursor of bad) {
      expectProblem(await client(ctx).get(`/v1/tickets?cursor=${encodeURIComponent(cursor)}`), 400, { field: 'query.cursor' });
    }
    // The same check guards the conversation and timeline pages.
    const ticket = await createTicket(ctx);
    for (const cursor of [forged({ v: 'x', id: 'y' }), forged({ v: 'nan', id: '1' })]) {
      expectProblem(await client(ctx).get(`/v1/tickets/${ticket.id}/messages?cursor=${cursor}`), 400, { field: 'query.cursor' });
      expectProblem(await client(ctx).get(`/v1/tickets/${ticket.id}/events?cursor=${cursor}`), 400, { field: 'query.cursor' });
    }
    // A well-formed cursor still works.
    const ok = encodeCursor({ v: new Date('2100-01-01T00:00:00Z').toISOString(), id: ticket.id });
    expect((await client(ctx).get(`/v1/tickets?cursor=${ok}`)).statusCode).toBe(200);
  });
});

describe('the page as Postgres renders it', () => {
  let ctx: TestContext;
  afterAll(async () => ctx?.close());

  it('writes every ticket exactly as GET /v1/tickets/:id does: wrap-up, redress, handle time, nulls, escaped text, clocks', async () => {
    ctx = await createTestContext();
    const clock = manualClock(ctx);
    const team = await createTeam(ctx, { name: 'Render team' });
    const agent = await createAgent(ctx, { teamId: team.id });
    // Clocks on the urgent ticket: a business-hours policy, so remainingSec comes from its calendar.
    await createPolicy(ctx, { match: { teamIds: [team.id] }, calendarId: (await createCalendar(ctx)).id, targets: { firstResponse: 3600, resolution: 86_400 } });
    const plain = await createTicket(ctx, { subject: 'Plain', body: 'nothing special' });
    clock.advance(MINUTE);
    const odd = await createTicket(ctx, {
      channel: 'phone',
      customer: { phone: '050-999-0000' },
      subject: 'Quote " backslash \\ tab\tnewline\ncontrol \u0001 emoji 😀 hebrew שלום U+2028 \u2028 end',
      body: 'a body that stays out of the page',
      priority: 'urgent',
      language: 'he',
      tags: ['a"b', 'back\\slash', 'ünï'],
      teamId: team.id,
      assigneeId: agent.id,
    });
    clock.advance(MINUTE);
    const wrapped = await createTicket(ctx, { channel: 'facebook', customer: { name: 'Wrapped' }, subject: 'Wrapped up' });
    const res = await patchTicket(ctx, wrapped, { status: 'solved', outcome: 'partially_upheld', redress: { kind: 'refund', amount: 12.5, currency: 'EUR' } });
    expect(res.statusCode, res.body).toBe(200);
    // Handle time is bookkeeping of the work module: fractional seconds straight in the row.
    await ctx.deps.db.execute(sql`update tickets set handling_sec = 12.345, after_work_sec = 0.1 where id = ${wrapped.id}`);

    const listed = await client(ctx).get('/v1/tickets');
    expect(listed.statusCode, listed.body).toBe(200);
    expect(listed.headers['content-type']).toBe('application/json; charset=utf-8');
    const page = listed.json<Page>();
    expect(page.items.map((item) => item.id)).toEqual([wrapped.id, odd.id, plain.id]);
    for (const item of page.items) {
      const single = await client(ctx).get(`/v1/tickets/${item.id}`);
      expect(item, item.id).toEqual(single.json());
    }
    const [first, second] = page.items;
    expect(first).toMatchObject({ redress: { kind: 'refund', amount: 12.5, currency: 'EUR' }, outcome: 'partially_upheld', status: 'solved' });
    expect(first!.handlingSec).toBeCloseTo(12.345, 3);
    expect(second).toMatchObject({ subject: odd.subject, tags: ['a"b', 'back\\slash', 'ünï'], redress: null, teamId: team.id, assigneeId: agent.id });
    expect(second!.sla!.length).toBeGreaterThan(0);
    // The cursor of a rendered page walks on from its last ticket.
    const first2 = (await client(ctx).get('/v1/tickets?limit=2')).json<Page>();
    expect(first2.items.map((item) => item.id)).toEqual([wrapped.id, odd.id]);
    const rest = (await client(ctx).get(`/v1/tickets?limit=2&cursor=${encodeURIComponent(first2.nextCursor!)}`)).json<Page>();
    expect(rest).toEqual({ items: [page.items[2]], nextCursor: null });
  });
});

describe('the clocks of a rendered page', () => {
  let ctx: TestContext;
  afterAll(async () => ctx?.close());

  it('writes running, paused, breached and stopped clocks, on 24/7 and on business hours, byte for byte as GET /v1/tickets/:id does', async () => {
    ctx = await createTestContext();
    const clock = manualClock(ctx);
    const HOUR = 60 * MINUTE;
    const allDay = await createTeam(ctx, { name: 'Around the clock' });
    const office = await createTeam(ctx, { name: 'Office hours' });
    const targets = { firstResponse: 3600, resolution: 86_400, periodicUpdate: 7200 };
    // 24/7: Postgres writes every clock. Business hours: running clocks' remainingSec comes from the calendar in JS.
    await createPolicy(ctx, { match: { teamIds: [allDay.id] }, targets });
    await createPolicy(ctx, { match: { teamIds: [office.id] }, calendarId: (await createCalendar(ctx)).id, targets });
    const made: Record<string, TicketJson> = {};
    for (const team of [allDay, office]) {
      for (const kind of ['running', 'pending', 'breached', 'solved late', 'solved in time']) {
        made[`${team.name} ${kind}`] = await createTicket(ctx, { subject: `${team.name} ${kind}`, teamId: team.id });
      }
    }
    const patch = async (name: string, body: Record<string, unknown>) => {
      const res = await patchTicket(ctx, made[name]!, body);
      expect(res.statusCode, res.body).toBe(200);
      made[name] = res.json<TicketJson>();
    };
    clock.advance(30 * MINUTE);
    for (const team of [allDay, office]) {
      await patch(`${team.name} pending`, { status: 'pending' }); // resolution paused, first response running
      await patch(`${team.name} solved in time`, { status: 'solved' }); // every clock met
    }
    clock.advance(2 * HOUR);
    for (const team of [allDay, office]) await patch(`${team.name} solved late`, { status: 'solved' }); // first response stopped breached
    // A breach the timer worker wrote (not running here): breached, still running, overdue.
    const ids = [allDay, office].map((team) => made[`${team.name} breached`]!.id);
    await ctx.deps.db.execute(sql`update sla_clocks set state = 'breached', breached_at = due_at where metric = 'first_response' and ticket_id in (${ids[0]}, ${ids[1]})`);
    // Microseconds and fractional seconds, which the JS view truncates to milliseconds and keeps.
    await ctx.deps.db.execute(
      sql`update sla_clocks set used_sec = used_sec + 0.1234567, resumed_at = resumed_at + interval '0.000789 seconds', started_at = started_at + interval '0.000999 seconds' where metric = 'resolution' and ticket_id in (${made['Around the clock running']!.id}, ${made['Office hours running']!.id})`,
    );
    clock.advance(1234);

    const listed = await client(ctx).get('/v1/tickets');
    expect(listed.statusCode, listed.body).toBe(200);
    const page = listed.json<Page>();
    expect(page.items).toHaveLength(10);
    const states = new Set<string>();
    for (const item of page.items) {
      const single = (await client(ctx).get(`/v1/tickets/${item.id}`)).json<TicketJson>();
      expect(item, item.subject).toEqual(single);
      expect(listed.body, item.subject).toContain(`"sla":${JSON.stringify(single.sla)}}`);
      expect(item.sla!.length, item.subject).toBeGreaterThan(0);
      for (const c of item.sla as { state: string; remainingSec: number | null }[]) states.add(`${c.state} ${c.remainingSec === null ? 'null' : c.remainingSec < 0 ? 'overdue' : 'left'}`);
    }
    // Running overdue: a first response past due whose breach job has not run (no workers here).
    expect([...states].sort()).toEqual(['breached overdue', 'met null', 'paused left', 'running left', 'running overdue']);
    const paused = page.items.find((item) => item.id === made['Around the clock pending']!.id)!;
    expect(paused.sla).toContainEqual(expect.objectContaining({ metric: 'resolution', state: 'paused', remainingSec: 86_400 - 1800 }));
  });
});
