import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestContext, type TestContext } from '../helpers/context.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(async () => ctx?.close());

describe('smoke', () => {
  it('creates and lists a ticket', async () => {
    const created = await ctx.app.inject({
      method: 'POST',
      url: '/v1/tickets',
      headers: bearer(ctx.adminToken),
      payload: { channel: 'email', customer: { email: 'a@example.com' }, subject: 'Broken kettle', body: 'It leaks', priority: 'high' },
    });
    expect(created.statusCode).toBe(201);
    const list = await ctx.app.inject({ method: 'GET', url: '/v1/tickets', headers: bearer(ctx.adminToken) });
    expect(list.json().items).toHaveLength(1);
  });
});
