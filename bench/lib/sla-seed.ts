import type pg from 'pg';

/**
 * SLA rows written straight into Postgres (set-based SQL), for the timers, queries and kpis
 * benchmarks. The product reads them as its own: the timer recovery schedules every running
 * clock with a future due time, the breach queue and at-risk list page over them, the KPI
 * report aggregates them.
 */

/** One policy, around the clock (no calendar), without escalation levels: a breach is a breach and nothing follows it. */
export const BENCH_POLICY = { name: 'Bench 24/7', firstResponseSec: 3_600, resolutionSec: 72 * 3_600 } as const;

/** Seeding sessions: no durability wait, no per-row foreign-key triggers (superuser only). */
async function prepareSession(client: pg.PoolClient): Promise<void> {
  await client.query(`set synchronous_commit = off`);
  await client.query(`set work_mem = '64MB'`);
  await client.query(`set maintenance_work_mem = '256MB'`);
  await client.query(`set session_replication_role = replica`).catch(() => undefined);
}

async function resetSession(client: pg.PoolClient): Promise<void> {
  await client.query('reset all').catch(() => undefined);
}

/** The bench policy (inserted once per database); its id. */
export async function ensureBenchPolicy(pool: pg.Pool): Promise<string> {
  const { rows } = await pool.query<{ id: string }>(
    `insert into sla_policies (name, position, match, calendar_id, targets, warn_at, escalation)
     values ($1, 0, '{}'::jsonb, null, $2::jsonb, 0.75, '[]'::jsonb)
     on conflict (name) do update set updated_at = now()
     returning id`,
    [BENCH_POLICY.name, JSON.stringify({ firstResponse: BENCH_POLICY.firstResponseSec, resolution: BENCH_POLICY.resolutionSec })],
  );
  return rows[0]!.id;
}

export interface TimerSeedResult {
  tickets: number;
  clocks: number;
  ticketsSeconds: number;
  clocksSeconds: number;
}

/**
 * Minimal tickets (one customer, open, normal priority, the four channels in turn) tagged
 * `tag`, for the timers benchmark; their clocks come separately (seedTimerClocks) so the
 * due times can be fixed as late as possible.
 */
export async function seedTimerTickets(pool: pg.Pool, options: { n: number; tag: string }): Promise<number> {
  const client = await pool.connect();
  try {
    await prepareSession(client);
    const t0 = performance.now();
    const { rows } = await client.query<{ id: string }>(
      `insert into customers (name, language) values ($1, 'en') returning id`,
      [`Bench timers ${options.tag}`],
    );
    await client.query(
      `insert into tickets (status, priority, channel, subject, customer_id, language, tags)
       select 'open', 'normal', (array['email', 'phone', 'facebook', 'twitter'])[1 + g % 4],
              'Bench timer ' || $2 || ' ' || g, $1::uuid, 'en', array[$2]
         from generate_series(1, $3::int) g`,
      [rows[0]!.id, options.tag, options.n],
    );
    await client.query(`analyze tickets`);
    return (performance.now() - t0) / 1000;
  } finally {
    await resetSession(client);
    client.release();
  }
}

/**
 * One running first_response clock per ticket tagged `tag`: target 1 h on the 24/7 bench
 * policy, started exactly one target before its due time, no warning (warn_due_at null: the
 * benchmark measures breaches), generation 1. Due times are uniform over
 * [windowStart, windowStart + windowMs), like the BullMQ baseline's.
 */
export async function seedTimerClocks(pool: pg.Pool, options: { tag: string; policyId: string; windowStart: number; windowMs: number }): Promise<{ clocks: number; seconds: number }> {
  const client = await pool.connect();
  try {
    await prepareSession(client);
    const t0 = performance.now();
    const result = await client.query(
      `insert into sla_clocks (ticket_id, policy_id, metric, state, target_sec, started_at, resumed_at, used_sec, due_at, warn_due_at, generation, updated_at)
       select d.id, $2::uuid, 'first_response', 'running', $5::int, d.due - make_interval(secs => $5::int), d.due - make_interval(secs => $5::int),
              0, d.due, null, 1, now()
         from (select t.id, date_trunc('milliseconds', to_timestamp($3::float8 / 1000) + make_interval(secs => random() * $4::float8 / 1000)) as due
                 from tickets t where t.tags = array[$1]) d`,
      [options.tag, options.policyId, options.windowStart, options.windowMs, BENCH_POLICY.firstResponseSec],
    );
    await client.query(`analyze sla_clocks`);
    return { clocks: result.rowCount ?? 0, seconds: (performance.now() - t0) / 1000 };
  } finally {
    await resetSession(client);
    client.release();
  }
}

export interface MonthSlaSeedResult {
  policyId: string;
  clocks: number;
  runningClocks: number;
  openBreaches: number;
  breaches: number;
  surveys: number;
  seconds: number;
  phases: Record<string, number>;
}

const SLA_TABLES = ['sla_clocks', 'breaches', 'csat_surveys'];

/**
 * SLA and CSAT rows over a seeded month of tickets (lib/seed.ts):
 * - two clocks per ticket on the bench policy (first response 1 h, resolution 72 h, 24/7):
 *   first_response stopped 'met' at the first reply for answered tickets; resolution stopped
 *   'met' at solving for solved tickets; every ticket still open has a running resolution clock
 *   due within the next `runningWithinHours` hours (the at-risk list reads these);
 * - `openBreaches` open breaches on as many tickets spread evenly over the month (ticket
 *   number order): their first_response clock is 'breached' (1 h after creation, a few seconds
 *   late), stopped at the first reply if there was one; severity, channel and team from the
 *   ticket; plus one resolved breach for every second open one (an older, settled part of the
 *   queue table the state filter must skip);
 * - a CSAT survey for 40% of solved tickets, offered at solving, 60% of them answered.
 * Secondary indexes of these tables are dropped for the load and rebuilt after it.
 */
export async function seedMonthSla(pool: pg.Pool, options: { openBreaches: number; now: Date; runningWithinHours?: number; log?: (message: string) => void }): Promise<MonthSlaSeedResult> {
  const log = options.log ?? (() => undefined);
  const now = options.now.toISOString();
  const within = options.runningWithinHours ?? 8;
  const phases: Record<string, number> = {};
  const started = performance.now();
  const policyId = await ensureBenchPolicy(pool);
  const clients = [await pool.connect(), await pool.connect()];
  const a = clients[0]!;
  const phase = async (name: string, lanes: string[][]) => {
    const t0 = performance.now();
    await Promise.all(lanes.map(async (statements, i) => {
      for (const statement of statements) await clients[i]!.query(statement);
    }));
    phases[name] = (performance.now() - t0) / 1000;
    log(`seed: ${name} ${phases[name]!.toFixed(1)} s`);
  };
  try {
    for (const client of clients) await prepareSession(client);
    const { rows: indexes } = await a.query<{ name: string; definition: string }>(
      `select i.relname as name, pg_get_indexdef(i.oid) as definition
         from pg_index x join pg_class i on i.oid = x.indexrelid join pg_class t on t.oid = x.indrelid
        where t.relname = any($1) and t.relnamespace = 'public'::regnamespace and not x.indisprimary
          and not exists (select 1 from pg_constraint c where c.conindid = x.indexrelid)`,
      [SLA_TABLES],
    );
    await phase('drop SLA secondary indexes', [indexes.map((index) => `drop index "${index.name}"`)]);

    // The breached set: every k-th ticket old enough to have breached a 1 h first response.
    await a.query(`create temporary table bench_breached on commit preserve rows as
      select id from (
        select id, row_number() over (order by number) as rn, count(*) over () as total
          from tickets where created_at < $$${now}$$::timestamptz - interval '2 hours'
      ) s where (rn - 1) % greatest(1, total / ${Math.max(1, options.openBreaches)}) = 0
      order by rn limit ${Math.max(0, options.openBreaches)}`);
    await a.query(`create unique index on bench_breached (id)`);
    await a.query(`analyze bench_breached`);

    const policy = `'${policyId}'::uuid`;
    const fr = BENCH_POLICY.firstResponseSec;
    const res = BENCH_POLICY.resolutionSec;
    await phase('clocks', [
      [
        // first_response: met at the first reply, or breached for the breached set.
        `insert into sla_clocks (ticket_id, policy_id, metric, state, target_sec, started_at, resumed_at, used_sec, due_at, warn_due_at,
                                 warned_at, breached_at, stopped_at, generation, updated_at)
         select t.id, ${policy}, 'first_response', case when x.id is null then 'met' else 'breached' end, ${fr}, t.created_at,
                null, extract(epoch from coalesce(t.first_response_at, $$${now}$$::timestamptz) - t.created_at),
                t.created_at + interval '${fr} seconds', null, t.created_at + interval '${0.75 * fr} seconds',
                case when x.id is not null then t.created_at + interval '${fr} seconds' + interval '1 second' * (0.05 + 3 * random()) end,
                t.first_response_at, 1, coalesce(t.first_response_at, t.created_at)
           from tickets t left join bench_breached x on x.id = t.id
          where t.first_response_at is not null or x.id is not null`,
      ],
      [
        // resolution: met at solving; running (due within the next hours) while the ticket is open.
        `insert into sla_clocks (ticket_id, policy_id, metric, state, target_sec, started_at, resumed_at, used_sec, due_at, warn_due_at,
                                 warned_at, stopped_at, generation, updated_at)
         select t.id, ${policy}, 'resolution', case when t.solved_at is null then 'running' else 'met' end, ${res}, t.created_at,
                case when t.solved_at is null then t.due - interval '${res} seconds' end,
                case when t.solved_at is null then 0 else extract(epoch from t.solved_at - t.created_at) end,
                case when t.solved_at is null then t.due else t.created_at + interval '${res} seconds' end,
                null, case when t.solved_at is null then t.due - interval '${0.25 * res} seconds' end,
                t.solved_at, 1, coalesce(t.solved_at, t.created_at)
           from (select id, created_at, solved_at,
                        date_trunc('milliseconds', $$${now}$$::timestamptz + interval '1 minute' + interval '1 second' * random() * ${within * 3600}) as due
                   from tickets) t`,
      ],
    ]);

    await phase('breaches and surveys', [
      [
        `insert into breaches (ticket_id, clock_id, clock_started_at, policy_id, metric, channel, team_id, severity, due_at, breached_at, state, resolved_at)
         select c.ticket_id, c.id, c.started_at, ${policy}, 'first_response', t.channel, t.team_id,
                case t.priority when 'urgent' then 3 when 'high' then 2 when 'normal' then 1 else 0 end,
                c.due_at, c.breached_at, 'open', null
           from sla_clocks c join tickets t on t.id = c.ticket_id
          where c.metric = 'first_response' and c.state = 'breached'`,
        // Settled breaches: resolution overran on every second breached ticket that was solved late.
        `insert into breaches (ticket_id, clock_id, clock_started_at, policy_id, metric, channel, team_id, severity, due_at, breached_at, state, resolved_at)
         select t.id, null, t.created_at, ${policy}, 'resolution', t.channel, t.team_id,
                case t.priority when 'urgent' then 3 when 'high' then 2 when 'normal' then 1 else 0 end,
                t.created_at + interval '${fr} seconds', t.created_at + interval '${fr} seconds' + interval '2 seconds', 'resolved',
                coalesce(t.first_response_at, t.created_at + interval '${fr + 600} seconds')
           from (select x.id, row_number() over (order by x.id) as rn from bench_breached x) s join tickets t on t.id = s.id
          where s.rn % 2 = 0`,
      ],
      [
        `insert into csat_surveys (ticket_id, token_hash, agent_id, team_id, channel, language, offered_at, expires_at, responded_at, score, created_at)
         select t.id, md5('survey:' || t.id::text), t.assignee_id, t.team_id, t.channel, t.language, t.solved_at, t.solved_at + interval '14 days',
                case when t.x < 0.6 then t.solved_at + interval '1 hour' * (1 + 47 * t.y) end,
                case when t.x < 0.6 then least(5, 1 + floor(t.y * 5))::int end,
                t.solved_at
           from (select id, assignee_id, team_id, channel, language, solved_at, random() as x, random() as y, random() as z
                   from tickets where solved_at is not null) t
          where t.z < 0.4`,
      ],
    ]);
    const { rows: sizes } = await a.query<{ table: string; bytes: string }>(
      `select relname as table, pg_relation_size(oid)::text as bytes from pg_class where relname = any($1) and relnamespace = 'public'::regnamespace`,
      [SLA_TABLES],
    );
    const bytesOf = new Map(sizes.map((row) => [row.table, Number(row.bytes)]));
    const byTable = indexes.map((index) => ({ statement: index.definition, weight: bytesOf.get(/ on public\.(\w+)/.exec(index.definition)?.[1] ?? '') ?? 1 }));
    const lanes: string[][] = [[], []];
    const load = [0, 0];
    for (const item of byTable.sort((x, y) => y.weight - x.weight)) {
      const k = load[0]! <= load[1]! ? 0 : 1;
      lanes[k]!.push(item.statement);
      load[k]! += item.weight;
    }
    await phase('rebuild SLA indexes', lanes);
    for (const client of clients) await client.query(`reset session_replication_role`);
    await phase('vacuum analyze SLA tables', [[`vacuum (analyze) sla_clocks`], [`vacuum (analyze) breaches`, `vacuum (analyze) csat_surveys`, `vacuum (analyze) sla_policies`]]);
    await a.query(`drop table if exists bench_breached`);

    const { rows } = await a.query<{ clocks: number; running: number; open: number; breaches: number; surveys: number }>(
      `select (select count(*) from sla_clocks)::int as clocks,
              (select count(*) from sla_clocks where state = 'running')::int as running,
              (select count(*) from breaches where state = 'open')::int as open,
              (select count(*) from breaches)::int as breaches,
              (select count(*) from csat_surveys)::int as surveys`,
    );
    const counts = rows[0]!;
    return {
      policyId,
      clocks: counts.clocks,
      runningClocks: counts.running,
      openBreaches: counts.open,
      breaches: counts.breaches,
      surveys: counts.surveys,
      seconds: (performance.now() - started) / 1000,
      phases,
    };
  } finally {
    for (const client of clients) {
      await resetSession(client);
      client.release();
    }
  }
}
