import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../../src/shared/clock.js';
import { createTicket } from '../../helpers/api.js';
import { createTestContext, type TestContext } from '../../helpers/context.js';
import { createPolicy, until } from '../../helpers/sla.js';
import { killHard, spawnService, type ServiceProcess } from './support.js';

/**
 * The worker process killed (kill -9) while SLA timers are firing: its jobs in flight die with
 * it, mid-transaction or just after. Another worker takes over, and every clock still
 * breaches exactly once (one breach row, one timeline event).
 */
let ctx: TestContext;
const workers: ServiceProcess[] = [];

beforeAll(async () => {
  ctx = await createTestContext({ clock: systemClock });
  await createPolicy(ctx, { targets: { firstResponse: 2 } });
});
afterAll(async () => {
  await Promise.all(workers.map((w) => killHard(w.child)));
  await ctx?.close();
});

function startWorker(): ServiceProcess {
  const worker = spawnService({
    ROLE: 'worker',
    DATABASE_URL: ctx.config.DATABASE_URL,
    REDIS_URL: ctx.config.REDIS_URL,
    QUEUE_PREFIX: ctx.config.QUEUE_PREFIX,
    SLA_RECONCILE_INTERVAL_MS: '500',
    SLA_WORKER_CONCURRENCY: '4',
    LOG_LEVEL: 'warn',
  });
  workers.push(worker);
  return worker;
}

const breachCount = async () => (await ctx.deps.pool.query<{ n: number }>('select count(*)::int as n from breaches')).rows[0]!.n;

describe('a worker killed mid-batch', () => {
  it('another worker finishes the batch: every clock breaches exactly once', async () => {
    const first = startWorker();
    const ids: string[] = [];
    for (let batch = 0; batch < 4; batch++) ids.push(...(await Promise.all(Array.from({ length: 10 }, () => createTicket(ctx)))).map((t) => t.id));

    // The first breaches are in: the worker is firing the batch. Kill it where it stands.
    await until(async () => ((await breachCount()) > 0 ? true : undefined), { timeoutMs: 30_000, what: 'the first breach' });
    first.child.kill('SIGKILL');
    await until(() => (first.child.signalCode === 'SIGKILL' ? true : undefined), { what: 'the worker killed' });
    const breachedAtKill = await breachCount();

    // Deadlines that come due while no worker runs at all.
    ids.push(...(await Promise.all(Array.from({ length: 10 }, () => createTicket(ctx)))).map((t) => t.id));

    const second = startWorker();
    await until(async () => ((await breachCount()) >= ids.length ? true : undefined), { timeoutMs: 45_000, what: `${ids.length} breaches` });

    const perClock = await ctx.deps.db.execute<{ n: number }>(sql`select count(*)::int as n from breaches group by clock_id`);
    expect(perClock.rows).toHaveLength(ids.length);
    expect(perClock.rows.every((r) => r.n === 1)).toBe(true);
    const events = await ctx.deps.db.execute<{ n: number }>(sql`select count(*)::int as n from ticket_events where type = 'sla_breached' group by ticket_id`);
    expect(events.rows).toHaveLength(ids.length);
    expect(events.rows.every((r) => r.n === 1)).toBe(true);
    expect(second.child.exitCode).toBeNull();
    expect(second.nonJsonLines()).toEqual([]);
    if (process.env.RESILIENCE_REPORT) console.error({ clocks: ids.length, breachedAtKill });
  });
});
