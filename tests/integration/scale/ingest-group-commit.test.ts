import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NormalizedInbound } from '../../../src/channels/channel.types.js';
import { systemClock } from '../../../src/shared/clock.js';
import { timerJobId } from '../../../src/modules/sla/clocks/sla.timers.js';
import { createTestContext, type TestContext } from '../../helpers/context.js';
import { createPolicy } from '../../helpers/sla.js';

/**
 * Ingest group commit (issue 18): deliveries that arrive together share one transaction, a
 * delivery whose work fails is retried alone and fails alone, and every other one commits;
 * ingest() resolves (the webhook's 2xx) only after its commit.
 */
let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext({ clock: systemClock });
});
afterAll(async () => {
  await ctx?.close();
});

const message = (id: string): NormalizedInbound => ({
  channel: 'email',
  providerMessageId: `<${id}@group.example>`,
  kind: 'message',
  sender: { kind: 'email', address: `${id}@group.example` },
  thread: {},
  subject: `Complaint ${id}`,
  text: 'My parcel never arrived',
  attachments: [],
  sentAt: new Date(),
});

const ingest = (id: string, withinTransaction?: () => Promise<void>) =>
  ctx.deps.intake.ingest({ channel: 'email', body: Buffer.from(`raw ${id}`), contentType: 'message/rfc822' }, { messages: [message(id)], skipped: [] }, { withinTransaction });

describe('ingest group commit', () => {
  it('commits concurrent deliveries in shared transactions, each answered after its commit', async () => {
    await createPolicy(ctx, { targets: { firstResponse: 3600, resolution: 86_400 } });
    const ids = Array.from({ length: 30 }, (_, i) => `g${i}`);
    const results = await Promise.all(ids.map((id) => ingest(id)));
    expect(results.every((r) => r.messages[0]?.result === 'created' && r.payloadId !== null)).toBe(true);
    // Committed by the time ingest() resolved: every message is visible from another connection.
    const { rows } = await ctx.deps.pool.query<{ n: number; transactions: number }>(
      `select count(*)::int as n, count(distinct xmin::text)::int as transactions from messages where provider_message_id like '%@group.example>' and provider_message_id like '<g%'`,
    );
    expect(rows[0]!.n).toBe(ids.length);
    // Rows written by one transaction carry its id (xmin): fewer transactions than deliveries.
    expect(rows[0]!.transactions).toBeLessThan(ids.length);
    // /metrics shows the sharing: complaint_desk_intake_group_deliveries counts groups (_count)
    // and the deliveries in them (_sum).
    const figures = (await ctx.deps.metrics.intakeGroupSize.get()).values;
    const of = (suffix: string) => figures.find((v) => v.metricName?.endsWith(suffix))?.value ?? 0;
    expect(of('_sum')).toBeGreaterThanOrEqual(ids.length);
    expect(of('_count')).toBeLessThan(of('_sum'));
    // Each running clock's deadline is in Redis once its delivery is answered: the SLA hook
    // schedules a group's timers together (afterCommitBatch), none is left out.
    const clocks = await ctx.deps.pool.query<{ id: string; generation: number }>(
      `select c.id, c.generation from sla_clocks c join messages m on m.ticket_id = c.ticket_id
        where m.provider_message_id like '<g%@group.example>' and c.due_at is not null and c.breached_at is null and c.stopped_at is null`,
    );
    expect(clocks.rows.length).toBeGreaterThanOrEqual(ids.length);
    const jobs = await Promise.all(clocks.rows.map((c) => ctx.deps.queues.slaTimers.queue.getJob(timerJobId('breach', c.id, c.generation))));
    expect(jobs.filter((job) => !job)).toHaveLength(0);
  });

  it('fails a bad delivery alone: its neighbours in the group commit', async () => {
    const ids = Array.from({ length: 12 }, (_, i) => `b${i}`);
    const outcomes = await Promise.allSettled(
      ids.map((id) =>
        ingest(
          id,
          id === 'b5'
            ? async () => {
                throw new Error('poisonous delivery');
              }
            : undefined,
        ),
      ),
    );
    expect(outcomes.filter((o) => o.status === 'rejected')).toHaveLength(1);
    expect((outcomes[5] as PromiseRejectedResult).reason).toMatchObject({ message: 'poisonous delivery' });
    const { rows } = await ctx.deps.pool.query<{ id: string }>(`select provider_message_id as id from messages where provider_message_id like '<b%@group.example>' order by 1`);
    expect(rows.map((r) => r.id).sort()).toEqual(ids.filter((id) => id !== 'b5').map((id) => `<${id}@group.example>`).sort());
  });

  it('stores a message delivered twice at once (a retry racing its original) once', async () => {
    const [first, second] = await Promise.all([ingest('dup'), ingest('dup')]);
    expect([first!.messages[0]!.result, second!.messages[0]!.result].sort()).toEqual(['created', 'duplicate']);
    expect([first!.duplicatePayload, second!.duplicatePayload].sort()).toEqual([false, true]);
    const { rows } = await ctx.deps.pool.query<{ n: number }>(`select count(*)::int as n from messages where provider_message_id = '<dup@group.example>'`);
    expect(rows[0]!.n).toBe(1);
  });
});
