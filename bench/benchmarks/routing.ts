import http from 'node:http';
import pg from 'pg';
import type { Benchmark, BenchContext } from '../lib/bench.js';
import { measured, type Row } from '../lib/report.js';
import type { RunningService } from '../lib/service.js';
import { summarize, type Stats } from '../lib/stats.js';

const name = 'routing';
const TEAMS = 50;
/** Agents per waiting ticket: 1,000 for 100,000 (the issue's size), 100 for the quick 5,000. */
const TICKETS_PER_AGENT = { quick: 50, full: 100 } as const;
/** New tickets posted over HTTP after the backlog, and as many assigned tickets set pending (freed slots). */
const STREAM = { quick: 200, full: 2_000 } as const;
const STREAM_CONCURRENCY = 8;
/** How long a drain may take before it is cut short (the rest is reported as still waiting). */
const DRAIN_BUDGET_MS = { quick: 120_000, full: 600_000 } as const;
/** A drain that assigns nothing for this long has stopped (e.g. tickets waiting for a language). */
const STALL_MS = 30_000;
const LATENCY_TARGET_RATIO = 2;
/** The service's routing worker runs 4 drains at once (src/workers/index.ts): the baseline gets as many connections. */
const BASELINE_CONNECTIONS = 4;
const THROUGHPUT_TARGET = 500;

const uuidOf = (expr: string) => `overlay(overlay(md5(${expr}) placing '4' from 13) placing '8' from 17)::uuid`;
const teamId = (expr: string) => uuidOf(`'routing-team-' || (${expr})`);

export interface Shape {
  tickets: number;
  agents: number;
  /** E-mail slots per agent: its team's whole backlog and stream share, so no ticket waits for a slot whatever the spread between an English-only agent and a Hebrew speaker. */
  emailCapacity: number;
}

/**
 * Seeds, in set-based SQL: 50 routed teams (default order and method, e-mail capacity as in
 * the shape), the agents spread over them, all online and active now, in each team every
 * other agent speaking English only, the others English and Hebrew; and the waiting backlog: one customer each, e-mail,
 * new, unassigned, spread over the teams in turn, 60% English and 40% Hebrew within each team
 * (by the ticket's round over the teams: by its number alone whole teams would be Hebrew),
 * one millisecond apart.
 */
export async function seed(pool: pg.Pool, shape: Shape, now: Date): Promise<void> {
  const at = `'${now.toISOString()}'::timestamptz`;
  await pool.query(
    `insert into teams (id, name, capacity, routing)
     select ${teamId('g')}, 'Routing team ' || g, jsonb_build_object('email', ${shape.emailCapacity}, 'phone', 1, 'facebook', 5, 'twitter', 5), '{"enabled": true}'::jsonb
     from generate_series(0, ${TEAMS - 1}) g`,
  );
  await pool.query(
    `insert into agents (id, name, email, team_id, languages, presence, presence_changed_at, last_activity_at)
     select ${uuidOf(`'routing-agent-' || g`)}, 'Agent ' || g, 'agent' || g || '@bench.example', ${teamId(`g % ${TEAMS}`)},
            case when (g / ${TEAMS}) % 2 = 0 then '{en}'::text[] else '{en,he}'::text[] end, 'online', ${at}, ${at}
     from generate_series(0, ${shape.agents - 1}) g`,
  );
  await pool.query(`insert into customers (id) select ${uuidOf(`'routing-customer-' || g`)} from generate_series(0, ${shape.tickets - 1}) g`);
  await pool.query(
    `insert into tickets (id, status, priority, channel, subject, customer_id, team_id, language, created_at, updated_at)
     select ${uuidOf(`'routing-ticket-' || g`)}, 'new', 'normal', 'email', 'Order ' || g || ' arrived damaged',
            ${uuidOf(`'routing-customer-' || g`)}, ${teamId(`g % ${TEAMS}`)}, case when (g / ${TEAMS}) % 5 < 3 then 'en' else 'he' end,
            ${at} - make_interval(secs => (${shape.tickets} - g) / 1000.0), ${at}
     from generate_series(0, ${shape.tickets - 1}) g`,
  );
  await pool.query('vacuum analyze teams, agents, customers, tickets');
}

/** Waiting: new or open, unassigned (every seeded ticket has a routed team). */
const WAITING_SQL = `select count(*)::int as n from tickets where assignee_id is null and status in ('new', 'open')`;

/**
 * The baseline's whole selection in one statement: the oldest waiting ticket (skip locked),
 * the online agent of its team who speaks its language and has a free e-mail slot, least
 * loaded first and then the one routed longest ago (skip locked), and the assignment with its
 * timeline event. No SLA order, no sticky agents, no language fallback, no hooks or streams.
 */
const BASELINE_STATEMENT = `
with t as (
  select id, team_id, channel, language from tickets
  where assignee_id is null and status in ('new', 'open')
  order by created_at, id limit 1 for update skip locked
), a as (
  select ag.id from agents ag join t on ag.team_id = t.team_id join teams tm on tm.id = ag.team_id,
    lateral (select count(*) as load from tickets x where x.assignee_id = ag.id and x.channel = t.channel and x.status in ('new', 'open')) l
  where ag.active and ag.presence = 'online' and t.language = any(ag.languages)
    and l.load < coalesce((ag.capacity ->> t.channel)::int, (tm.capacity ->> t.channel)::int, 10)
  order by l.load, ag.last_routed_at nulls first, ag.id
  limit 1 for update of ag skip locked
), up as (
  update tickets set assignee_id = a.id, version = tickets.version + 1, updated_at = clock_timestamp(), first_assigned_at = coalesce(tickets.first_assigned_at, clock_timestamp())
  from a, t where tickets.id = t.id
  returning tickets.id, tickets.created_at, tickets.updated_at as assigned_at, a.id as agent_id
), ev as (
  insert into ticket_events (ticket_id, type, actor_kind, data, created_at)
  select id, 'assigned', 'system', jsonb_build_object('assigneeId', agent_id, 'by', 'baseline'), assigned_at from up
), routed as (
  update agents set last_routed_at = clock_timestamp() from a where agents.id = a.id
)
select id from up`;

interface Drain {
  assigned: number;
  waitingLeft: number;
  perSec: number;
  latency: Stats;
  seconds: number;
  stalled: boolean;
}

/** Latency per assignment (ms): the assigned event's time minus when the ticket could first be routed. */
async function drainFigures(pool: pg.Pool, startedAt: Date, waitingLeft: number, stalled: boolean): Promise<Drain> {
  const { rows } = await pool.query<{ ms: number; last: Date | null }>(
    `select extract(epoch from (e.created_at - greatest(t.created_at, $1::timestamptz))) * 1000 as ms, max(e.created_at) over () as last
     from ticket_events e join tickets t on t.id = e.ticket_id where e.type = 'assigned'`,
    [startedAt.toISOString()],
  );
  const last = rows[0]?.last ? new Date(rows[0].last).getTime() : startedAt.getTime();
  const seconds = Math.max(0.001, (last - startedAt.getTime()) / 1000);
  return { assigned: rows.length, waitingLeft, perSec: rows.length / seconds, latency: summarize(rows.map((r) => Number(r.ms))), seconds, stalled };
}

/** Polls the waiting count until it is 0, the budget ends, or nothing moved for STALL_MS. */
async function awaitDrain(context: BenchContext, pool: pg.Pool, label: string): Promise<{ waitingLeft: number; stalled: boolean }> {
  const end = performance.now() + DRAIN_BUDGET_MS[context.mode];
  let last = -1;
  let movedAt = performance.now();
  let reportedAt = performance.now();
  for (;;) {
    const waiting = (await pool.query<{ n: number }>(WAITING_SQL)).rows[0]!.n;
    if (waiting === 0 || context.signal.aborted) return { waitingLeft: waiting, stalled: false };
    if (waiting !== last) {
      last = waiting;
      movedAt = performance.now();
    }
    if (performance.now() - movedAt > STALL_MS || performance.now() > end) return { waitingLeft: waiting, stalled: true };
    if (performance.now() - reportedAt > 10_000) {
      context.log(`${label}: ${waiting.toLocaleString('en-US')} still waiting`);
      reportedAt = performance.now();
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** Tickets assigned more than once, and (agent, channel) pairs over their capacity. */
async function integrity(pool: pg.Pool): Promise<{ doubles: number; overCapacity: number }> {
  const doubles = (await pool.query<{ n: number }>(`select count(*)::int as n from (select ticket_id from ticket_events where type = 'assigned' group by ticket_id having count(*) > 1) d`)).rows[0]!.n;
  const overCapacity = (
    await pool.query<{ n: number }>(
      `select count(*)::int as n from (
         select t.assignee_id, t.channel, count(*) as load, coalesce((min(ag.capacity ->> t.channel))::int, (min(tm.capacity ->> t.channel))::int, 10) as cap
         from tickets t join agents ag on ag.id = t.assignee_id left join teams tm on tm.id = ag.team_id
         where t.status in ('new', 'open') group by t.assignee_id, t.channel) l
       where l.load > l.cap`,
    )
  ).rows[0]!.n;
  return { doubles, overCapacity };
}

function request(service: RunningService, apiKey: string, method: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      service.url + path,
      { method, timeout: 60_000, headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), ...headers } },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        response.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout: ${method} ${path}`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/**
 * The stream after the backlog: new tickets posted through the API (each triggers routing at
 * once), interleaved with as many assigned tickets set pending (each frees a slot, which
 * triggers routing for that agent). Latency per new ticket: its assigned event minus its
 * creation, both Postgres times.
 */
async function stream(context: BenchContext, service: RunningService, pool: pg.Pool, count: number) {
  const statusCounts: Record<string, number> = {};
  const problems: string[] = [];
  const freed = (await pool.query<{ id: string; version: number }>(`select id, version from tickets where assignee_id is not null order by random() limit $1`, [count])).rows;
  const created: string[] = [];
  const tally = (label: string, res: { status: number; body: string }, expected: number) => {
    statusCounts[`${label} ${res.status}`] = (statusCounts[`${label} ${res.status}`] ?? 0) + 1;
    if (res.status !== expected && problems.length < 3) problems.push(`${label} answered ${res.status}: ${res.body.slice(0, 160)}`);
  };
  let next = 0;
  await Promise.all(
    Array.from({ length: STREAM_CONCURRENCY }, async () => {
      while (next < count && !context.signal.aborted) {
        const i = next++;
        const res = await request(service, context.adminApiKey, 'POST', '/v1/tickets', {
          channel: 'email',
          customer: { email: `stream${i}@bench.example` },
          subject: `Stream complaint ${i}`,
          body: 'The parcel never came',
          teamId: await teamOf(pool, i),
          language: i % 5 < 3 ? 'en' : 'he',
        });
        tally('POST /v1/tickets', res, 201);
        if (res.status === 201) created.push((JSON.parse(res.body) as { id: string }).id);
        const slot = freed[i];
        if (slot) tally('PATCH pending', await request(service, context.adminApiKey, 'PATCH', `/v1/tickets/${slot.id}`, { status: 'pending' }, { 'if-match': `"${slot.version}"` }), 200);
      }
    }),
  );
  const deadline = performance.now() + 60_000;
  let unassigned = created.length;
  while (unassigned > 0 && performance.now() < deadline && !context.signal.aborted) {
    unassigned = (await pool.query<{ n: number }>(`select count(*)::int as n from tickets where id = any($1::uuid[]) and assignee_id is null`, [created])).rows[0]!.n;
    if (unassigned > 0) await new Promise((resolve) => setTimeout(resolve, 250));
  }
  let stuck: unknown[] = [];
  if (unassigned > 0) {
    problems.push(`${unassigned} streamed tickets not assigned within 60 s`);
    stuck = (
      await pool.query(
        `select t.id, t.status, t.language, t.team_id, t.created_at, (select json_agg(json_build_object('id', a.id, 'presence', a.presence, 'lastRoutedAt', a.last_routed_at, 'emailLoad', (select count(*) from tickets x where x.assignee_id = a.id and x.channel = 'email' and x.status in ('new', 'open'))))
                 from agents a where a.team_id = t.team_id and t.language = any(a.languages)) as speakers,
                (select json_agg(json_build_object('metric', c.metric, 'state', c.state, 'due', c.due_at)) from sla_clocks c where c.ticket_id = t.id) as clocks,
                (select json_agg(json_build_object('type', e.type, 'at', e.created_at, 'data', e.data)) from ticket_events e where e.ticket_id = t.id) as events
         from tickets t where t.id = any($1::uuid[]) and t.assignee_id is null`,
        [created],
      )
    ).rows;
    context.log(`unassigned streamed tickets: ${JSON.stringify(stuck).slice(0, 1500)}`);
  }
  const { rows } = await pool.query<{ ms: number }>(
    `select extract(epoch from (min(e.created_at) - t.created_at)) * 1000 as ms from tickets t join ticket_events e on e.ticket_id = t.id and e.type = 'assigned'
     where t.id = any($1::uuid[]) group by t.id, t.created_at`,
    [created],
  );
  return { latency: summarize(rows.map((r) => Number(r.ms))), stuck, created: created.length, freed: Math.min(freed.length, count), statusCounts, problems };
}

const teamIds = new Map<number, string>();
async function teamOf(pool: pg.Pool, i: number): Promise<string> {
  const k = i % TEAMS;
  if (!teamIds.has(k)) teamIds.set(k, (await pool.query<{ id: string }>(`select ${teamId(String(k))} as id`)).rows[0]!.id);
  return teamIds.get(k)!;
}

const fmt = (value: number) => Math.round(value);

/**
 * Routing (issue 13): a backlog of waiting tickets over 50 teams of online agents, drained by
 * the running service (ROLE=all: its routing sweep and triggers), then a stream of new tickets
 * and freed slots through the API. The baseline drains the same seeded backlog in a database
 * of its own with one SQL statement per assignment through plain pg, on as many connections
 * as the service runs routing drains at once (BASELINE_CONNECTIONS).
 */
export const routing: Benchmark = {
  name,
  description: 'routing a backlog of waiting tickets to online agents (service sweep) vs. one SQL statement per assignment through pg; then a stream of new tickets and freed slots',
  sizeUnit: 'waiting tickets',
  sizes: { quick: 5_000, full: 100_000 },

  async run(context) {
    const tickets = Math.max(TEAMS, context.size);
    // At least two per team: one of them speaks Hebrew.
    const agents = Math.max(2 * TEAMS, Math.round(tickets / TICKETS_PER_AGENT[context.mode]));
    const shape: Shape = { tickets, agents, emailCapacity: Math.ceil(tickets / TEAMS) + Math.ceil(STREAM[context.mode] / TEAMS) + 2 };
    context.log(`${tickets.toLocaleString('en-US')} waiting tickets, ${agents.toLocaleString('en-US')} agents in ${TEAMS} teams, e-mail capacity ${shape.emailCapacity} each`);

    // Baseline: its own database, the same seed, one statement per assignment.
    const baseDb = await context.env.createDatabase(`routing_base_${tickets}`);
    const basePool = new pg.Pool({ connectionString: baseDb.url, max: BASELINE_CONNECTIONS + 1, application_name: 'bench routing baseline' });
    basePool.on('error', () => undefined);
    let baseline: Drain;
    let baselineIntegrity: { doubles: number; overCapacity: number };
    try {
      await seed(basePool, shape, new Date());
      const startedAt = new Date();
      const end = performance.now() + DRAIN_BUDGET_MS[context.mode];
      let stalled = false;
      // As many connections as the service runs routing drains at once; the statement's
      // SKIP LOCKED on the ticket and the agent keeps them from double assignment.
      await Promise.all(
        Array.from({ length: BASELINE_CONNECTIONS }, async () => {
          const client = await basePool.connect();
          let empty = 0;
          try {
            for (;;) {
              if (context.signal.aborted) break;
              if (performance.now() > end) {
                stalled = true;
                break;
              }
              const { rowCount } = await client.query(BASELINE_STATEMENT);
              if (rowCount) {
                empty = 0;
                continue;
              }
              // Nothing assigned: the queue is empty, or the agent was another connection's (skip locked) a moment ago.
              if (++empty > 3 || (await client.query<{ n: number }>(WAITING_SQL)).rows[0]!.n === 0) break;
            }
          } finally {
            client.release();
          }
        }),
      );
      const left = (await basePool.query<{ n: number }>(WAITING_SQL)).rows[0]!.n;
      baseline = await drainFigures(basePool, startedAt, left, stalled || left > 0);
      baselineIntegrity = await integrity(basePool);
      context.log(`baseline: ${baseline.assigned.toLocaleString('en-US')} assigned in ${baseline.seconds.toFixed(1)} s (${fmt(baseline.perSec)}/s), p50 ${fmt(baseline.latency.p50)} / p99 ${fmt(baseline.latency.p99)} ms, ${left} left waiting`);
    } finally {
      await basePool.end();
    }

    // Product: the service routes the same backlog.
    const db = await context.env.createDatabase(`routing_${tickets}`);
    const pool = new pg.Pool({ connectionString: db.url, max: 3, application_name: 'bench routing' });
    pool.on('error', () => undefined);
    let service: RunningService | undefined;
    try {
      await seed(pool, shape, new Date());
      service = await context.startService({ label: 'routing', databaseUrl: db.url });
      const startedAt = new Date();
      const { waitingLeft, stalled } = await awaitDrain(context, pool, 'product');
      const product = await drainFigures(pool, startedAt, waitingLeft, stalled);
      context.log(`product: ${product.assigned.toLocaleString('en-US')} assigned in ${product.seconds.toFixed(1)} s (${fmt(product.perSec)}/s), p50 ${fmt(product.latency.p50)} / p99 ${fmt(product.latency.p99)} ms, ${waitingLeft} left waiting`);
      const streamed = await stream(context, service, pool, STREAM[context.mode]);
      context.log(`stream: ${streamed.created} new tickets, ${streamed.freed} slots freed; latency p50 ${fmt(streamed.latency.p50)} / p99 ${fmt(streamed.latency.p99)} ms`);
      const checks = await integrity(pool);
      // How evenly least_loaded spread each team's tickets: the largest gap between two agents of a team.
      const spread = (
        await pool.query<{ gap: number; max: number; min: number }>(
          `select max(hi - lo)::int as gap, max(hi)::int as max, min(lo)::int as min from (
             select ag.team_id, max(coalesce(l.n, 0)) as hi, min(coalesce(l.n, 0)) as lo
             from agents ag left join (select assignee_id, count(*) as n from tickets where status in ('new', 'open') group by assignee_id) l on l.assignee_id = ag.id
             group by ag.team_id) s`,
        )
      ).rows[0]!;
      context.log(`load per agent: ${spread.min}-${spread.max}, largest gap within a team ${spread.gap}`);
      context.details.loadSpread = spread;
      context.details.shape = shape;
      context.details.product = { drain: product, stream: streamed, integrity: checks };
      context.details.baseline = { drain: baseline, integrity: baselineIntegrity };

      const drainProblems = product.waitingLeft > 0 ? [`${product.waitingLeft.toLocaleString('en-US')} tickets still waiting when the drain ${product.stalled ? 'stopped moving or ran out of budget' : 'ended'}`] : [];
      const baselineNote = baseline.waitingLeft > 0 ? `baseline left ${baseline.waitingLeft} waiting` : undefined;
      const rows: Row[] = [
        measured({
          benchmark: name,
          metric: 'backlog latency p50',
          unit: 'ms',
          product: fmt(product.latency.p50),
          baseline: fmt(baseline.latency.p50),
          note: `waiting → assigned over ${product.assigned.toLocaleString('en-US')} tickets (baseline ${baseline.assigned.toLocaleString('en-US')}), counted from when routing could start`,
        }),
        measured({
          benchmark: name,
          metric: 'backlog latency p99',
          unit: 'ms',
          product: fmt(product.latency.p99),
          baseline: fmt(baseline.latency.p99),
          target: { kind: 'ratio-at-most', value: LATENCY_TARGET_RATIO },
          problems: drainProblems,
          note: baselineNote,
        }),
        measured({
          benchmark: name,
          metric: 'assignments/s',
          unit: '/s',
          product: fmt(product.perSec),
          baseline: fmt(baseline.perSec),
          target: { kind: 'at-least', value: THROUGHPUT_TARGET, unit: '/s' },
          problems: drainProblems,
        }),
        measured({
          benchmark: name,
          metric: 'stream latency p50',
          unit: 'ms',
          product: fmt(streamed.latency.p50),
          note: `${streamed.created} tickets posted (${STREAM_CONCURRENCY} at a time) while ${streamed.freed} slots were freed; created → assigned`,
          problems: streamed.problems,
        }),
        measured({ benchmark: name, metric: 'stream latency p99', unit: 'ms', product: fmt(streamed.latency.p99), problems: streamed.problems }),
        measured({ benchmark: name, metric: 'double assignments', product: checks.doubles, baseline: baselineIntegrity.doubles, target: { kind: 'equals', value: 0 } }),
        measured({ benchmark: name, metric: 'agents over capacity', product: checks.overCapacity, baseline: baselineIntegrity.overCapacity, target: { kind: 'equals', value: 0 } }),
      ];
      return rows;
    } finally {
      await service?.stop();
      await pool.end();
    }
  },
};
