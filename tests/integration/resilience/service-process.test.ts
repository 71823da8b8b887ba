import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIsolatedEnvironment } from '../../helpers/context.js';
import { openSse, until } from '../../helpers/sla.js';
import { exitWithin, freePort, killHard, spawnService, startPrivateRedis, untilStatus, within, type ServiceProcess } from './support.js';

/**
 * The service as it runs in production (src/main.ts in a child process), started while its
 * Redis is unreachable: it takes tickets anyway (Postgres is the source of truth; timers are
 * repaired once Redis is back), says so on /readyz, logs the outage once, not once per retry,
 * and only as JSON. Then, with an event stream open, SIGTERM ends it promptly with exit code 0
 * and the stream's client is told to reconnect.
 */
const ADMIN_KEY = 'resilience-admin-key-0123456789';
let environment: Awaited<ReturnType<typeof createIsolatedEnvironment>>;
let service: ServiceProcess;
let redis: Awaited<ReturnType<typeof startPrivateRedis>> | undefined;
let base: string;
let redisPort: number;

beforeAll(async () => {
  environment = await createIsolatedEnvironment();
  redisPort = await freePort();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  service = spawnService({
    PORT: String(port),
    DATABASE_URL: environment.databaseUrl,
    // Nothing listens there yet.
    REDIS_URL: `redis://127.0.0.1:${redisPort}`,
    QUEUE_PREFIX: environment.queuePrefix,
    ADMIN_API_KEY: ADMIN_KEY,
    ROLE: 'all',
    SHUTDOWN_GRACE_SEC: '20',
  });
  await untilStatus(`${base}/healthz`, 200, 60_000);
});
afterAll(async () => {
  await killHard(service?.child);
  await redis?.stop();
  await environment?.drop();
});

const auth = { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' };

describe('the service started while Redis is unreachable', () => {
  it('answers requests, reports not ready, and logs the outage once, as JSON', async () => {
    const readyz = await fetch(`${base}/readyz`);
    expect(readyz.status).toBe(503);
    expect(readyz.headers.get('content-type')).toMatch(/^application\/problem\+json/);

    // Committed in Postgres and answered; the SLA timers are the reconciler's once Redis is back.
    for (let i = 0; i < 3; i++) {
      const res = await within(
        fetch(`${base}/v1/tickets`, { method: 'POST', headers: auth, body: JSON.stringify({ channel: 'email', customer: { email: `early${i}@example.com` }, subject: 'Kettle', body: 'It leaks' }) }),
        10_000,
        'POST /v1/tickets without Redis',
      );
      expect(res.status, await res.clone().text()).toBe(201);
    }
    expect(service.logged(/^redis unreachable/)).toHaveLength(1);

    redis = await startPrivateRedis(redisPort);
    await untilStatus(`${base}/readyz`, 200, 20_000);
    await until(() => (service.logged(/^redis reachable again/).length > 0 ? true : undefined), { what: 'the restored line' });
    // However many times the clients retried meanwhile: one line down, one line up.
    expect(service.logged(/^redis unreachable/)).toHaveLength(1);
    expect(service.logged(/^redis reachable again/)).toHaveLength(1);
    expect(service.logged(/worker error|queue error/)).toHaveLength(0);
    // The tickets' timers were left to the reconciler without an error per request: the only
    // error line of the outage is the outage's own.
    expect(service.logged(/./).filter((l) => Number(l.level) >= 50).map((l) => l.msg)).toEqual(['redis unreachable: retrying with backoff']);
    expect(service.nonJsonLines()).toEqual([]);
  });

  it('on SIGTERM, ends open event streams with a reconnect hint and exits 0 well within the grace period', async () => {
    const stream = await openSse(`${base}/v1/sla/stream`, ADMIN_KEY);
    expect(stream.response.status).toBe(200);
    // A connection opened and not used yet (a load balancer's, a client pool's spare): Node's
    // close does not count it idle and would wait for it.
    const spare = connect(Number(new URL(base).port), '127.0.0.1');
    await new Promise((resolve) => spare.once('connect', resolve));
    try {
      service.child.kill('SIGTERM');
      // SHUTDOWN_GRACE_SEC is 20: an open stream holding the shutdown would exit 1 after it.
      const exit = await exitWithin(service.child, 15_000);
      expect(exit, service.lines.filter((l) => !/incoming request|request completed/.test(l)).join('\n')).toEqual({ code: 0, signal: null });
      await stream.waitFor((e) => e.event === 'shutdown', 5_000);
    } finally {
      spare.destroy();
      await stream.close();
    }
    expect(service.nonJsonLines()).toEqual([]);
    expect(service.logged(/^redis unreachable/)).toHaveLength(1);
  });
});
