import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordEvent } from '../../../src/modules/events/events.writer.js';
import { createTestContext, type TestContext } from '../../helpers/context.js';

describe('the transactional outbox', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext();
  });
  afterAll(() => ctx.close());

  const customerId = '0b6f4a52-2d3c-4b8e-9d37-7d1f4c1a0001';

  it('writes an event in the caller transaction, visible only once committed', async () => {
    await ctx.deps.db.transaction(async (tx) => {
      await recordEvent(tx, { type: 'customer.erased', resource: { type: 'customer', id: customerId }, data: { customerId } });
      const outside = await ctx.deps.pool.query(`select count(*)::int as n from domain_events`);
      expect(outside.rows[0].n).toBe(0);
    });
    const { rows } = await ctx.deps.pool.query(`select type, version, resource_type, resource_id, data, tx_id::text as tx from domain_events`);
    expect(rows).toEqual([{ type: 'customer.erased', version: 1, resource_type: 'customer', resource_id: customerId, data: { customerId }, tx: expect.stringMatching(/^\d+$/) }]);
  });

  it('writes nothing when the transaction rolls back', async () => {
    const before = await ctx.deps.pool.query(`select count(*)::int as n from domain_events`);
    await expect(
      ctx.deps.db.transaction(async (tx) => {
        await recordEvent(tx, { type: 'customer.merged', resource: { type: 'customer', id: customerId }, data: { customerId, mergedIntoId: customerId, ticketIds: [] } });
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    const after = await ctx.deps.pool.query(`select count(*)::int as n from domain_events`);
    expect(after.rows[0].n).toBe(before.rows[0].n);
  });

  it('refuses an event whose data does not match its schema (the writer fails, not a subscriber)', async () => {
    await expect(
      ctx.deps.db.transaction((tx) => recordEvent(tx, { type: 'customer.erased', resource: { type: 'customer', id: customerId }, data: { customerId: 'nope' } })),
    ).rejects.toThrow();
    await ctx.deps.db.execute(sql`select 1`);
  });
});
