import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NormalizedInbound } from '../../../src/channels/channel.types.js';
import { systemClock } from '../../../src/shared/clock.js';
import { createTestContext, type TestContext } from '../../helpers/context.js';

/**
 * Intake writes a group's plain messages (a new ticket of a new customer) set-based (issue 18).
 * Without flood control nothing serializes two first messages of one new person in different
 * group transactions: the second one's customer must not be kept when the first one's identity
 * commits while it waits on the unique index. It joins the first one's customer, as a message
 * ingested alone does (createCustomer).
 */
let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext({ clock: systemClock, env: { INTAKE_FLOOD_MAX_PER_HOUR: '0' } });
});
afterAll(async () => {
  await ctx?.close();
});

const message = (id: string, sender: string): NormalizedInbound => ({
  channel: 'email',
  providerMessageId: `<${id}@race.example>`,
  kind: 'message',
  sender: { kind: 'email', address: sender, displayName: 'Racing Person' },
  thread: {},
  subject: `Complaint ${id}`,
  text: 'My parcel never arrived',
  attachments: [],
  sentAt: new Date(),
});

describe('plain messages racing on a new customer', () => {
  it('a first message whose sender another transaction created meanwhile joins that customer, and leaves no customer behind', async () => {
    const sender = `racer-${Date.now()}@race.example`;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let holding!: () => void;
    const held = new Promise<void>((resolve) => (holding = resolve));
    // The first delivery stores the sender's customer and identity, then waits inside its transaction.
    const first = ctx.deps.intake.ingest(
      { channel: 'email', body: Buffer.from(`raw first ${sender}`), contentType: 'message/rfc822' },
      { messages: [message('first', sender)], skipped: [] },
      {
        withinTransaction: async () => {
          holding();
          await gate;
        },
      },
    );
    await held;
    // The second, in a group of its own, finds the sender unknown (not committed yet) and waits on the identity's unique index.
    const second = ctx.deps.intake.ingest({ channel: 'email', body: Buffer.from(`raw second ${sender}`), contentType: 'message/rfc822' }, { messages: [message('second', sender)], skipped: [] });
    for (;;) {
      const { rows } = await ctx.deps.pool.query<{ n: number }>(
        `select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and query like '%customer_identities%'`,
      );
      if (rows[0]!.n > 0) break;
      await new Promise((resolve) => setImmediate(resolve));
    }
    release();
    const [a, b] = await Promise.all([first, second]);
    expect(a.messages[0]).toMatchObject({ result: 'created', newTicket: true });
    expect(b.messages[0]).toMatchObject({ result: 'created' });
    const { rows } = await ctx.deps.pool.query<{ customer_id: string }>(
      `select t.customer_id from messages m join tickets t on t.id = m.ticket_id where m.provider_message_id in ('<first@race.example>', '<second@race.example>')`,
    );
    expect(rows).toHaveLength(2);
    expect(new Set(rows.map((r) => r.customer_id)).size).toBe(1);
    const { rows: customers } = await ctx.deps.pool.query<{ n: number }>(`select count(*)::int as n from customers where name = 'Racing Person'`);
    expect(customers[0]!.n).toBe(1);
  });
});
