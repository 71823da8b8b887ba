import { eq, sql } from 'drizzle-orm';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDependencies } from '../../../src/dependencies.js';
import { agents } from '../../../src/modules/agents/agents.table.js';
import { tickets } from '../../../src/modules/tickets/tickets.table.js';
import { client, createAgent, createTeam, unique } from '../../helpers/api.js';
import { createTestContext, type TestContext } from '../../helpers/context.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(async () => ctx?.close());

/** A backlog straight in the database (set-based: the race, not the API, is under test). */
async function backlog(teamId: string, count: number) {
  const tag = unique('backlog');
  await ctx.deps.db.execute(sql`
    with c as (
      insert into customers (id) select gen_random_uuid() from generate_series(1, ${count}) returning id
    )
    insert into tickets (status, priority, channel, subject, customer_id, team_id, language)
    select 'new', 'normal', 'email', ${tag}, c.id, ${teamId}::uuid, 'en' from c`);
}

describe('deleting a team while routers drain it', () => {
  it('takes locks in the routers\' order (tickets, then agents in id order): no deadlock on either side', async () => {
    // Two routers as two processes (two pools) and the deletion race over each team; a
    // deadlock would fail the deletion (500) or a drain (40P01). Several rounds: the window
    // (a router holding its tickets, not yet its agents) is short.
    const second = createDependencies(ctx.config, { clock: ctx.clock, logger: pino({ level: 'silent' }) });
    try {
      for (let round = 0; round < 6; round++) {
        const team = await createTeam(ctx, { capacity: { email: 500, phone: 1, facebook: 5, twitter: 5 } });
        const staff = [];
        for (let i = 0; i < 6; i++) staff.push(await createAgent(ctx, { teamId: team.id, languages: ['en'] }));
        // A helper from another team serves this one too (teamIds): deletion locks it as well.
        const other = await createTeam(ctx);
        staff.push(await createAgent(ctx, { teamId: other.id, teamIds: [team.id], languages: ['en'] }));
        await backlog(team.id, 400);
        for (const agent of staff) await ctx.deps.db.update(agents).set({ presence: 'online', lastActivityAt: ctx.clock.now() }).where(eq(agents.id, agent.id));

        const outcomes = await Promise.allSettled([
          ctx.deps.routing.routeTeam(team.id),
          second.routing.routeTeam(team.id),
          client(ctx).delete(`/v1/teams/${team.id}`),
          ctx.deps.routing.routeTeam(team.id),
        ]);
        const failures = outcomes.flatMap((o) => (o.status === 'rejected' ? [String((o.reason as Error).message)] : []));
        expect(failures, `round ${round}`).toEqual([]);
        const deleted = outcomes[2] as PromiseFulfilledResult<{ statusCode: number; body: string }>;
        expect(deleted.value.statusCode, deleted.value.body).toBe(204);
        // The team is gone; its tickets are the default queue's, assigned or still waiting there.
        const left = await ctx.deps.db.select({ n: sql<number>`count(*)::int` }).from(tickets).where(eq(tickets.teamId, team.id));
        expect(left[0]!.n).toBe(0);
        const helper = await client(ctx).get(`/v1/agents/${staff.at(-1)!.id}`);
        expect(helper.json()).toMatchObject({ teamIds: [] });
        // Back offline: the next round's default-queue drains leave these agents alone.
        for (const agent of staff) await ctx.deps.db.update(agents).set({ presence: 'offline' }).where(eq(agents.id, agent.id));
      }
    } finally {
      await second.close();
    }
  }, 120_000);
});
