import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createIsolatedEnvironment } from '../../helpers/context.js';
import { startWebhookReceiver, until } from '../../helpers/sla.js';
import { freePort, killHard, spawnService, untilStatus, type ServiceProcess } from '../resilience/support.js';

/**
 * Scale-out on the real engines: two API processes and two worker processes (real child
 * processes, ROLE=api and ROLE=worker) on one Postgres database and one Redis prefix. Tickets
 * go in through both APIs; the SLA timers and the escalation webhooks are shared out between
 * the two workers (each worker's own /metrics on METRICS_PORT shows its part) and nothing
 * happens twice: every clock is breached once, every ticket's webhook arrives once. The API
 * processes read the KPI report through DATABASE_READ_URL (pointed at the same database).
 */
const ADMIN_KEY = 'scale-out-test-admin-key-0001';
const TICKETS = 40;
const auth = { authorization: `Bearer ${ADMIN_KEY}` };

let environment: Awaited<ReturnType<typeof createIsolatedEnvironment>>;
let receiver: Awaited<ReturnType<typeof startWebhookReceiver>>;
const apis: { process: ServiceProcess; url: string }[] = [];
const workers: { process: ServiceProcess; metricsUrl: string }[] = [];

beforeAll(async () => {
  environment = await createIsolatedEnvironment();
  receiver = await startWebhookReceiver();
  const common = {
    DATABASE_URL: environment.databaseUrl,
    DATABASE_READ_URL: environment.databaseUrl,
    REDIS_URL: environment.redisUrl,
    QUEUE_PREFIX: environment.queuePrefix,
    ADMIN_API_KEY: ADMIN_KEY,
    INSTALL_DEFAULT_POLICIES: 'false',
    SLA_RECONCILE_INTERVAL_MS: '1000',
    SLA_WORKER_CONCURRENCY: '20',
    DATABASE_POOL_MAX: '8',
    OUTBOUND_ALLOW_PRIVATE: 'true',
    OUTBOUND_ALLOW_HTTP: 'true',
    LOG_LEVEL: 'warn',
  };
  for (let i = 0; i < 2; i++) {
    const port = await freePort();
    apis.push({ process: spawnService({ ...common, ROLE: 'api', PORT: String(port) }), url: `http://127.0.0.1:${port}` });
    const metricsPort = await freePort();
    workers.push({ process: spawnService({ ...common, ROLE: 'worker', METRICS_PORT: String(metricsPort) }), metricsUrl: `http://127.0.0.1:${metricsPort}` });
  }
  await Promise.all([...apis.map((a) => untilStatus(`${a.url}/readyz`, 200, 90_000)), ...workers.map((w) => untilStatus(`${w.metricsUrl}/healthz`, 200, 90_000))]);
}, 120_000);

afterAll(async () => {
  await Promise.all([...apis, ...workers].map((p) => killHard(p.process.child)));
  await receiver?.close();
  await environment?.drop();
});

async function call(url: string, init: { method?: string; body?: unknown } = {}) {
  const response = await fetch(url, {
    method: init.method ?? 'GET',
    headers: { ...auth, ...(init.body ? { 'content-type': 'application/json' } : {}) },
    body: init.body ? JSON.stringify(init.body) : undefined,
  });
  return { status: response.status, text: await response.text() };
}

/** The sum of a counter's samples in a Prometheus text exposition. */
function counterTotal(text: string, name: string): number {
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

describe('2 API + 2 worker processes on one Postgres and one Redis', () => {
  it('share the timers and the webhooks, and do nothing twice', async () => {
    const policy = await call(`${apis[0]!.url}/v1/sla/policies`, {
      method: 'POST',
      body: { name: 'scale', position: 0, match: {}, targets: { firstResponse: 2 }, escalation: [{ afterSec: 0, actions: [{ type: 'notify', target: { kind: 'webhook', url: `${receiver.url}/hooks/sla` } }] }] },
    });
    expect(policy.status, policy.text).toBe(201);

    // Both APIs take tickets, a few at a time (two shared cores), so the deadlines spread over a second or two.
    const ids: string[] = [];
    for (let i = 0; i < TICKETS; i += 4) {
      const created = await Promise.all(
        [0, 1, 2, 3].map((k) => call(`${apis[(i + k) % 2]!.url}/v1/tickets`, { method: 'POST', body: { channel: 'email', customer: { email: `scale${i + k}@example.com` }, subject: 'Scale', body: 'Out' } })),
      );
      for (const c of created) {
        expect(c.status, c.text).toBe(201);
        ids.push((JSON.parse(c.text) as { id: string }).id);
      }
    }

    const db = new pg.Client({ connectionString: environment.databaseUrl });
    await db.connect();
    try {
      await until(
        async () => ((await db.query<{ n: number }>('select count(*)::int as n from breaches')).rows[0]!.n >= TICKETS ? true : undefined),
        { timeoutMs: 60_000, what: `${TICKETS} breaches` },
      );
      await until(() => (ids.every((id) => receiver.requests.some((r) => r.body.includes(id))) ? true : undefined), { timeoutMs: 60_000, what: 'a webhook per ticket' });

      // Every worker fired some of the timers; between them, each breach once.
      const scrapes = await Promise.all(workers.map(async (w) => (await call(`${w.metricsUrl}/metrics`)).text));
      const perWorker = scrapes.map((text) => counterTotal(text, 'complaint_desk_sla_breaches_total'));
      expect(perWorker.reduce((a, b) => a + b, 0)).toBe(TICKETS);
      expect(perWorker.every((n) => n > 0), `breaches per worker: ${perWorker.join(' / ')}`).toBe(true);
      // A worker's /metrics is behind a manager key, like the API's.
      expect((await fetch(`${workers[0]!.metricsUrl}/metrics`)).status).toBe(401);

      const perClock = await db.query<{ n: number }>('select count(*)::int as n from breaches group by clock_id');
      expect(perClock.rows).toHaveLength(TICKETS);
      expect(perClock.rows.every((r) => r.n === 1)).toBe(true);
      const timeline = await db.query<{ n: number }>(`select count(*)::int as n from ticket_events where type = 'sla_breached' group by ticket_id`);
      expect(timeline.rows).toHaveLength(TICKETS);
      expect(timeline.rows.every((r) => r.n === 1)).toBe(true);
      for (const id of ids) expect(receiver.requests.filter((r) => r.body.includes(id)), `webhooks for ${id}`).toHaveLength(1);

      // Both APIs answered requests, and read the KPI report through the read pool.
      const from = new Date(Date.now() - 86_400_000).toISOString();
      const to = new Date(Date.now() + 3_600_000).toISOString();
      for (const api of apis) {
        const report = await call(`${api.url}/v1/reports/kpis?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}&groupBy=channel`);
        expect(report.status, report.text).toBe(200);
        expect(counterTotal((await call(`${api.url}/metrics`)).text, 'complaint_desk_http_request_duration_seconds_count')).toBeGreaterThan(0);
      }
    } finally {
      await db.end();
    }
    for (const p of [...apis, ...workers]) expect(p.process.nonJsonLines()).toEqual([]);
  }, 180_000);
});
