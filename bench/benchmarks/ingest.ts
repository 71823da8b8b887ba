import pg from 'pg';
import { CHANNELS, type Channel } from '../../src/channels/channel.types.js';
import type { Benchmark, BenchContext } from '../lib/bench.js';
import { runConcurrent, runLoad } from '../lib/load.js';
import { measured, unmeasured, type Row } from '../lib/report.js';
import { ensureBenchPolicy, BENCH_POLICY } from '../lib/sla-seed.js';
import { describeSessions } from '../lib/sql.js';
import { BENCH_SECRETS, createWebhookFactory } from '../lib/webhooks.js';

/** HTTP connections on the product side, concurrent transactions on the baseline side. */
const CONCURRENCY = 50;
/**
 * Postgres connections on both sides: the service's DATABASE_POOL_MAX (its default, passed
 * explicitly) and the baseline's pool. Fifty transactions over fifty backends on two cores
 * would measure lock and scheduler contention, not the cost of the rows.
 */
const POOL_MAX = 20;
const P99_TARGET_MS = 50;

const BASELINE_LANGUAGES = ['en', 'he', 'pl', 'en', 'de'];

interface Tally {
  /** Messages the writer was told were stored (a 2xx, or a committed transaction). */
  acknowledged: number;
  rows: number;
  distinctIds: number;
}

/** A problem answer in one line: problem+json's title and detail when it is one. */
function describeAnswer(status: number, text: string): string {
  try {
    const problem = JSON.parse(text) as { title?: string; detail?: string };
    return `${status} ${problem.title ?? ''}${problem.detail ? `: ${problem.detail}` : ''}`.slice(0, 160);
  } catch {
    return `${status} ${text.slice(0, 120)}`;
  }
}

function lossRows(benchmark: string, product: Tally | 'not built yet' | 'ERROR', baseline: Tally, note?: string): Row[] {
  const lost = (t: Tally) => Math.max(0, t.acknowledged - t.distinctIds);
  const duplicated = (t: Tally) => t.rows - t.distinctIds;
  if (typeof product === 'string') {
    return [
      unmeasured({ benchmark, metric: 'messages lost', baseline: lost(baseline), target: { kind: 'equals', value: 0 } }, product),
      unmeasured({ benchmark, metric: 'messages duplicated', baseline: duplicated(baseline), target: { kind: 'equals', value: 0 } }, product),
    ];
  }
  return [
    measured({ benchmark, metric: 'messages lost', product: lost(product), baseline: lost(baseline), target: { kind: 'equals', value: 0 }, note }),
    measured({ benchmark, metric: 'messages duplicated', product: duplicated(product), baseline: duplicated(baseline), target: { kind: 'equals', value: 0 } }),
  ];
}

async function countMessages(pool: pg.Pool): Promise<{ rows: number; distinctIds: number; byChannel: Record<string, number>; tickets: number }> {
  const { rows } = await pool.query<{ channel: string; rows: number; ids: number }>(
    `select channel, count(*)::int as rows, count(distinct provider_message_id)::int as ids
       from messages where direction = 'inbound' group by channel`,
  );
  const { rows: tickets } = await pool.query<{ n: number }>(`select count(*)::int as n from tickets`);
  return {
    rows: rows.reduce((sum, r) => sum + r.rows, 0),
    distinctIds: rows.reduce((sum, r) => sum + r.ids, 0),
    byChannel: Object.fromEntries(rows.map((r) => [r.channel, r.rows])),
    tickets: tickets[0]!.n,
  };
}

/**
 * The floor of what intake must write per message, with nothing else: find-or-create the
 * customer by identity, insert the ticket (under the SLA policy), the message, its two
 * timeline events and the ticket's two running SLA clocks, commit.
 */
async function runBaseline(context: BenchContext) {
  const database = await context.env.createDatabase('ingest_baseline');
  const pool = new pg.Pool({ connectionString: database.url, max: POOL_MAX });
  pool.on('error', () => undefined);
  try {
    const policyId = await ensureBenchPolicy(pool);
    context.log(`baseline: ${context.size} pg transactions, ${CONCURRENCY} concurrent over ${POOL_MAX} connections`);
    const run = await runConcurrent({
      total: context.size,
      concurrency: CONCURRENCY,
      maxSeconds: context.mode === 'quick' ? 60 : 300,
      signal: context.signal,
      onProgress: (done) => context.log(`baseline: ${done}/${context.size}`),
      task: async (i) => {
        const channel = CHANNELS[i % CHANNELS.length]!;
        const language = BASELINE_LANGUAGES[i % BASELINE_LANGUAGES.length]!;
        const text = `Complaint ${i}: my order arrived damaged and nobody answers`;
        const client = await pool.connect();
        try {
          await client.query('begin');
          const found = await client.query<{ customer_id: string }>(`select customer_id from customer_identities where kind = $1 and address = $2 and status = 'verified'`, [channel, `bench-${i}`]);
          let customerId = found.rows[0]?.customer_id;
          if (!customerId) {
            const created = await client.query<{ id: string }>(`insert into customers (name, language) values ($1, $2) returning id`, [`Customer ${i}`, language]);
            customerId = created.rows[0]!.id;
            await client.query(`insert into customer_identities (customer_id, kind, address, display_name) values ($1, $2, $3, $4) on conflict (kind, address) where status = 'verified' do nothing`, [
              customerId,
              channel,
              `bench-${i}`,
              `Customer ${i}`,
            ]);
          }
          const ticket = await client.query<{ id: string }>(
            `insert into tickets (status, priority, channel, subject, description, customer_id, language, sla_policy_id) values ('new', 'normal', $1, $2, $3, $4, $5, $6) returning id`,
            [channel, text.slice(0, 120), text, customerId, language, policyId],
          );
          const ticketId = ticket.rows[0]!.id;
          const message = await client.query<{ id: string }>(
            `insert into messages (ticket_id, direction, kind, public, author_kind, channel, provider_message_id, body_text, language, sent_at)
             values ($1, 'inbound', 'message', true, 'customer', $2, $3, $4, $5, now()) returning id`,
            [ticketId, channel, `bench:${i}`, text, language],
          );
          await client.query(
            `insert into ticket_events (ticket_id, type, actor_kind, data) values ($1, 'created', 'customer', $2), ($1, 'customer_message', 'customer', $3)`,
            [ticketId, JSON.stringify({ channel, source: 'webhook' }), JSON.stringify({ messageId: message.rows[0]!.id, channel })],
          );
          await client.query(
            `insert into sla_clocks (ticket_id, policy_id, metric, state, target_sec, started_at, resumed_at, used_sec, due_at, warn_due_at, generation, updated_at)
             select $1, $2, m.metric, 'running', m.target, now(), now(), 0, now() + make_interval(secs => m.target), now() + make_interval(secs => m.target * 0.75), 1, now()
               from (values ('first_response', $3::int), ('resolution', $4::int)) as m(metric, target)`,
            [ticketId, policyId, BENCH_POLICY.firstResponseSec, BENCH_POLICY.resolutionSec],
          );
          await client.query('commit');
        } catch (error) {
          await client.query('rollback').catch(() => undefined);
          throw error;
        } finally {
          client.release();
        }
      },
    });
    // A baseline that fails its statements would compare the product with nothing: stop here.
    if (run.failed > 0) throw new Error(`baseline: ${run.failed} of ${context.size} transactions failed: ${run.firstError ?? 'unknown error'}`);
    const counts = await countMessages(pool);
    context.log(`baseline: ${run.perSec.toFixed(0)} tx/s, p50 ${run.latency.p50.toFixed(1)} ms, p99 ${run.latency.p99.toFixed(1)} ms`);
    return { run, tally: { acknowledged: run.completed, rows: counts.rows, distinctIds: counts.distinctIds }, counts };
  } finally {
    await pool.end();
  }
}

async function createIntegrationKey(baseUrl: string, adminKey: string): Promise<string> {
  const response = await fetch(`${baseUrl}/v1/api-keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'bench e-mail integration', role: 'integration' }),
  });
  if (response.status !== 201) throw new Error(`POST /v1/api-keys answered ${response.status}: ${await response.text()}`);
  return ((await response.json()) as { token: string }).token;
}

export const ingest: Benchmark = {
  name: 'ingest',
  description: 'signed webhooks of the four channels over HTTP (50 connections) vs. a plain pg transaction per message (50 concurrent)',
  sizeUnit: 'messages',
  sizes: { quick: 500, full: 30_000 },

  async run(context) {
    const name = 'ingest';
    const baseline = await runBaseline(context);
    context.details.baseline = { ...baseline.run, counts: baseline.counts };
    if (context.signal.aborted) return [];

    const database = await context.env.createDatabase('ingest_product');
    // The same catch-all policy as the baseline's: every new ticket gets its two clocks (and their timer jobs), as in production.
    const seed = new pg.Pool({ connectionString: database.url, max: 1 });
    await ensureBenchPolicy(seed).finally(() => seed.end());
    const service = await context.startService({ label: 'ingest', databaseUrl: database.url, env: { ...BENCH_SECRETS, DATABASE_POOL_MAX: String(POOL_MAX) } });
    const pool = new pg.Pool({ connectionString: database.url, max: 2 });
    pool.on('error', () => undefined);
    try {
      const factory = createWebhookFactory({ emailApiKey: await createIntegrationKey(service.url, context.adminApiKey) });
      let seq = 0;

      // One signed delivery per channel first: a 404 means the route is not built yet.
      const built: Channel[] = [];
      const missing: Channel[] = [];
      const refused: string[] = [];
      for (const channel of CHANNELS) {
        const request = factory[channel](seq++);
        const response = await fetch(service.url + request.path, { method: 'POST', headers: request.headers, body: request.body });
        const text = await response.text();
        if (response.ok) built.push(channel);
        else if (response.status === 404) missing.push(channel);
        else refused.push(`${channel} answered ${describeAnswer(response.status, text)}`);
      }
      context.log(`product: webhooks built for [${built.join(', ')}]${missing.length ? `, 404 for [${missing.join(', ')}]` : ''}${refused.length ? `, refused: ${refused.length}` : ''}`);
      context.details.channels = { built, missing, refused };

      const baselineRun = baseline.run;
      const memoryTarget = { kind: 'below', value: 300, unit: 'MB' } as const;
      if (built.length === 0) {
        // All 404: the routes are not there yet. Anything else: they are there and refuse.
        const verdict = refused.length > 0 ? ('ERROR' as const) : ('not built yet' as const);
        const memory = await service.stop();
        const note =
          refused.length > 0
            ? `signed deliveries refused: ${refused.join('; ')} (see ${service.logFile})`
            : `webhook routes answer 404 (${missing.join(', ')})`;
        return [
          unmeasured({ benchmark: name, metric: 'throughput', unit: 'msg/s', baseline: baselineRun.perSec, target: { kind: 'ratio-at-least', value: 0.6 }, note }, verdict),
          unmeasured({ benchmark: name, metric: 'latency p50', unit: 'ms', baseline: baselineRun.latency.p50 }, verdict),
          unmeasured({ benchmark: name, metric: 'latency p99', unit: 'ms', baseline: baselineRun.latency.p99, target: { kind: 'below', value: P99_TARGET_MS, unit: 'ms' } }, verdict),
          ...lossRows(name, verdict, baseline.tally),
          unmeasured(
            {
              benchmark: 'memory',
              metric: 'service peak RSS, ingest',
              unit: 'MB',
              baseline: memory.idleRssMb,
              target: memoryTarget,
              note: `idle service after /readyz: ${memory.idleRssMb.toFixed(0)} MB; peak (VmHWM) without load: ${memory.peakRssMb.toFixed(0)} MB`,
            },
            verdict,
          ),
        ];
      }

      context.log(`product: ${context.size} signed webhooks over ${CONCURRENCY} connections`);
      const load = await runLoad({
        url: service.url,
        connections: CONCURRENCY,
        amount: context.size,
        maxSeconds: context.mode === 'quick' ? 60 : 600,
        signal: context.signal,
        onProgress: (done) => context.log(`product: ${done}/${context.size} (RSS ${service.rssMb().toFixed(0)} MB)`),
        next: () => factory[built[seq % built.length]!](seq++),
      });
      // A stalled service is diagnosed before it is stopped: what are its connections doing?
      const sessions = load.stalled ? await describeSessions(pool) : null;
      if (sessions) context.log(`product: stalled; the service's Postgres sessions: ${sessions}`);
      const counts = await countMessages(pool);
      const memory = await service.stop();
      context.log(`product: ${load.okPerSec.toFixed(0)} msg/s, p50 ${load.latency.p50.toFixed(1)} ms, p99 ${load.latency.p99.toFixed(1)} ms, peak RSS ${memory.peakRssMb.toFixed(0)} MB`);
      context.details.product = { ...load, counts, memory, sessions };

      const problems = [
        ...load.problems.map((p) => (load.stalled && p.startsWith('stalled') && sessions ? `${p}; service sessions: ${sessions}` : p)),
        ...refused.map((r) => `${r} (see ${service.logFile})`),
      ];
      // The probes stored one message per built channel, acknowledged like the load's.
      const productTally = { acknowledged: built.length + load.ok, rows: counts.rows, distinctIds: counts.distinctIds };
      const unacknowledged = counts.distinctIds - productTally.acknowledged;
      return [
        measured({
          benchmark: name,
          metric: 'throughput',
          unit: 'msg/s',
          product: load.okPerSec,
          baseline: baselineRun.perSec,
          target: { kind: 'ratio-at-least', value: 0.6 },
          problems,
          note: missing.length ? `not built yet: ${missing.join(', ')} (measured: ${built.join(', ')})` : undefined,
        }),
        measured({ benchmark: name, metric: 'latency p50', unit: 'ms', product: load.latency.p50, baseline: baselineRun.latency.p50 }),
        measured({ benchmark: name, metric: 'latency p99', unit: 'ms', product: load.latency.p99, baseline: baselineRun.latency.p99, target: { kind: 'below', value: P99_TARGET_MS, unit: 'ms' } }),
        ...lossRows(name, productTally, baseline.tally, unacknowledged > 0 ? `${unacknowledged} messages stored without a 2xx answer` : undefined),
        measured({
          benchmark: 'memory',
          metric: 'service peak RSS, ingest',
          unit: 'MB',
          product: memory.peakRssMb,
          baseline: memory.idleRssMb,
          target: memoryTarget,
          note: 'product: VmHWM of the service process at the end of the ingest load; baseline: its VmRSS when idle after start',
        }),
      ];
    } finally {
      await service.stop().catch(() => undefined);
      await pool.end();
    }
  },
};
