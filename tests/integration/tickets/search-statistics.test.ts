import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../../helpers/context.js';

/**
 * Issue 18: a rare word ('chargeback', 0.1% of a million tickets) fell out of the search
 * vector's most-common-elements statistics at the default target, and the planner walked the
 * date index instead of the GIN index (150-212 ms p99). Migration 0016 raises the target.
 */
let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(async () => ctx?.close());

describe('tickets.search statistics', () => {
  it('keep ten times the default number of most common words', async () => {
    const { rows } = await ctx.deps.db.execute(sql`select attstattarget from pg_attribute where attrelid = 'tickets'::regclass and attname = 'search'`);
    expect(rows[0]!.attstattarget).toBe(1000);
  });
});
