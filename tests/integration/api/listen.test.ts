import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../../helpers/context.js';

/** The same app on a real TCP port, spoken to with fetch: what inject cannot show (sockets, headers on the wire). */
let ctx: TestContext;
let base: string;
beforeAll(async () => {
  ctx = await createTestContext();
  await ctx.app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = ctx.app.server.address() as AddressInfo;
  base = `http://127.0.0.1:${port}`;
});
afterAll(async () => ctx?.close());

describe('over a real port', () => {
  it('answers the health probes', async () => {
    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${base}/readyz`);
    expect(await ready.json()).toEqual({ status: 'ok', postgres: 'ok', redis: 'ok' });
  });

  it('creates a ticket and reads it back by its Location, with its ETag', async () => {
    const headers = { authorization: `Bearer ${ctx.adminToken}`, 'content-type': 'application/json' };
    const created = await fetch(`${base}/v1/tickets`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ channel: 'email', customer: { email: 'wire@example.com' }, subject: 'Over the wire', body: 'שלום, zażółć gęślą jaźń' }),
    });
    expect(created.status).toBe(201);
    const location = created.headers.get('location')!;
    expect(location).toMatch(/^\/v1\/tickets\/[0-9a-f-]{36}$/);
    expect(created.headers.get('etag')).toBe('"1"');

    const read = await fetch(`${base}${location}`, { headers });
    expect(read.status).toBe(200);
    expect(read.headers.get('etag')).toBe('"1"');
    expect(await read.json()).toMatchObject({ subject: 'Over the wire', version: 1 });

    const search = await fetch(`${base}/v1/tickets?q=${encodeURIComponent('gęślą')}`, { headers });
    expect(((await search.json()) as { items: unknown[] }).items).toHaveLength(1);
  });

  it('answers problem+json on the wire: 401 without a key, 400 for malformed JSON', async () => {
    const unauthorized = await fetch(`${base}/v1/tickets`);
    expect(unauthorized.status).toBe(401);
    expect(unauthorized.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await unauthorized.json()).toMatchObject({ status: 401, code: 'unauthorized' });

    const malformed = await fetch(`${base}/v1/tickets`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ctx.adminToken}`, 'content-type': 'application/json' },
      body: '{"channel":',
    });
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toMatchObject({ code: 'malformed-json' });
  });
});
