import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../../src/app.js';
import type { App } from '../../../src/http/types.js';
import { publishStreamEvent } from '../../../src/modules/sla/breaches/stream-events.repository.js';
import { unique } from '../../helpers/api.js';
import { bearer, createTestContext, type TestContext } from '../../helpers/context.js';
import { openSse, startSecondProcess, until } from '../../helpers/sla.js';
import { startTcpProxy, within } from './support.js';

/**
 * Postgres unreachable for a while (every connection dropped, new ones refused: a restart, a
 * failover, a network cut), seen by an API process that reaches it through a proxy the test
 * controls: /readyz answers 503 meanwhile and 200 after, requests answer a 503 problem at once
 * instead of hanging, and the event stream reconnects by itself with backoff and delivers what
 * was committed while it was away.
 */
let ctx: TestContext;
let proxy: Awaited<ReturnType<typeof startTcpProxy>>;
let api: Awaited<ReturnType<typeof startSecondProcess>>;
let app: App;
let base: string;

beforeAll(async () => {
  ctx = await createTestContext();
  const direct = new URL(ctx.config.DATABASE_URL);
  proxy = await startTcpProxy({ host: direct.hostname, port: Number(direct.port || 5432) });
  const proxied = new URL(ctx.config.DATABASE_URL);
  proxied.host = `127.0.0.1:${proxy.port}`;
  api = await startSecondProcess(ctx, { workers: false, env: { DATABASE_URL: proxied.toString(), DATABASE_ACQUIRE_TIMEOUT_MS: '3000' } });
  app = await buildApp(api.deps);
  await app.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await proxy?.restore().catch(() => undefined);
  app?.server.on('connection', (socket) => socket.destroy());
  app?.server.closeAllConnections();
  await app?.close();
  await api?.close();
  await proxy?.close();
  await ctx?.close();
});

const readyz = () => within(app.inject({ method: 'GET', url: '/readyz' }), 10_000, 'GET /readyz');

describe('Postgres unreachable for a while', () => {
  it('readiness, requests and the event stream tell the truth meanwhile and recover after', async () => {
    await until(async () => ((await readyz()).statusCode === 200 ? true : undefined), { what: '/readyz answering 200 at start' });
    const stream = await openSse(`${base}/v1/sla/stream`, ctx.adminToken);
    try {
      expect(stream.response.status).toBe(200);

      await proxy.cut();
      const notReady = await until(async () => {
        const res = await readyz();
        return res.statusCode === 503 ? res : undefined;
      });
      expect(notReady.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(notReady.json<{ postgres: string; redis: string }>()).toMatchObject({ redis: 'ok' });
      // A request answers at once with a problem to retry, never hangs and never a 500.
      const refused = await within(
        app.inject({ method: 'POST', url: '/v1/tickets', headers: bearer(ctx.adminToken), payload: { channel: 'email', customer: { email: `${unique('pg')}@example.com` }, subject: 'Kettle', body: 'It leaks' } }),
        10_000,
        'POST /v1/tickets while Postgres is away',
      );
      expect(refused.statusCode, refused.body).toBe(503);
      expect(refused.json()).toMatchObject({ code: 'dependency-unavailable' });
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
      expect(api.deps.links.postgres.up).toBe(false);
      // Committed (by another process, straight to Postgres) while this one cannot listen.
      await ctx.deps.db.transaction((tx) => publishStreamEvent(tx, 'breach', { ticketId: 'during-the-outage' }, new Date()));

      await proxy.restore();
      await until(async () => ((await readyz()).statusCode === 200 ? true : undefined), { timeoutMs: 15_000, what: '/readyz answering 200 again' });
      await stream.waitFor((e) => e.data.ticketId === 'during-the-outage', 15_000);
      const created = await app.inject({ method: 'POST', url: '/v1/tickets', headers: bearer(ctx.adminToken), payload: { channel: 'email', customer: { email: `${unique('pg')}@example.com` }, subject: 'Kettle', body: 'It leaks' } });
      expect(created.statusCode, created.body).toBe(201);
      expect(api.deps.links.postgres.up).toBe(true);
    } finally {
      await stream.close();
    }
  });
});
