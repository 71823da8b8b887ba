import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../../src/shared/clock.js';
import { client, expectProblem } from '../../helpers/api.js';
import { createTestContext, type TestContext } from '../../helpers/context.js';
import { closeListening, listen } from '../../helpers/listen.js';
import { openSse } from '../../helpers/sla.js';

/**
 * An open event stream is not a credential of its own: when the key that opened it is revoked,
 * the stream ends (within STREAM_REAUTHORIZE_SEC) with an `unauthorized` event, and a stream
 * token issued to that key before it was revoked opens nothing.
 */
let ctx: TestContext;
let base: string;
beforeAll(async () => {
  ctx = await createTestContext({ clock: systemClock, env: { STREAM_REAUTHORIZE_SEC: '1' } });
  base = await listen(ctx.app);
});
afterAll(async () => {
  await closeListening(ctx?.app.server, async () => ctx?.close());
});

async function supervisorKey() {
  const res = await client(ctx).post('/v1/api-keys', { name: 'wall script', role: 'supervisor' });
  expect(res.statusCode, res.body).toBe(201);
  return res.json<{ id: string; token: string }>();
}

describe('event streams and revoked keys', () => {
  it('ends an open stream once its key is revoked', async () => {
    const key = await supervisorKey();
    for (const path of ['/v1/sla/stream', '/v1/events/stream']) {
      const stream = await openSse(`${base}${path}`, key.token);
      expect(stream.response.status, path).toBe(200);
      const other = await supervisorKey();
      const kept = await openSse(`${base}${path}`, other.token);
      // Revoked once both streams are open: the other key's stream keeps running.
      expect((await client(ctx).delete(`/v1/api-keys/${key.id}`)).statusCode).toBeLessThan(300);
      const ended = await stream.waitFor((e) => e.event === 'unauthorized', 15_000);
      expect(ended.data.reason).toMatch(/revoked|expired/);
      expect(kept.received.some((e) => e.event === 'unauthorized')).toBe(false);
      await stream.close();
      await kept.close();
      if (path === '/v1/sla/stream') {
        // A fresh key for the next stream.
        Object.assign(key, await supervisorKey());
      }
    }
  }, 60_000);

  it('refuses a stream token whose key was revoked after it was issued', async () => {
    const key = await supervisorKey();
    const issued = await client(ctx, key.token).post('/v1/stream-tokens', { stream: 'sla' });
    expect(issued.statusCode, issued.body).toBe(201);
    const token = issued.json<{ token: string }>().token;
    expect((await client(ctx).delete(`/v1/api-keys/${key.id}`)).statusCode).toBeLessThan(300);
    const res = await ctx.app.inject({ method: 'GET', url: `/v1/sla/stream?token=${encodeURIComponent(token)}` });
    expectProblem(res, 401);
  });
});
