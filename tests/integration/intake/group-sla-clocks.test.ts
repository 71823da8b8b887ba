import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NormalizedInbound } from '../../../src/channels/channel.types.js';
import { createAttachmentStore } from '../../../src/modules/intake/attachment-store.js';
import { createIntakeService, type Delivery } from '../../../src/modules/intake/intake.service.js';
import { createSlaHook } from '../../../src/modules/sla/clocks/sla.hook.js';
import { timerJobId } from '../../../src/modules/sla/clocks/sla.timers.js';
import { TicketHooks, type TicketChange, type TicketHook } from '../../../src/modules/tickets/tickets.hooks.js';
import { createTeam, manualClock } from '../../helpers/api.js';
import { createTestContext, type TestContext } from '../../helpers/context.js';
import { clockRows, createPolicy } from '../../helpers/sla.js';

/**
 * Intake's group commit writes the SLA clocks of a group's new tickets in one statement (the
 * SLA hook's inTransactionBatch, issue 18). A group must get exactly the clocks the one-change
 * path (inTransaction per ticket) gives the same messages at the same instant, every ticket its
 * own and no more, and their timers must be in Redis after the commit.
 */
let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext({ env: { INTAKE_FLOOD_MAX_PER_HOUR: '0' } });
});
afterAll(async () => ctx?.close());

interface Shape {
  channel: 'email' | 'phone';
  kind: NormalizedInbound['kind'];
  teamId: string | null;
  priority: string;
}

const message = (run: string, i: number, shape: Shape, at: Date): NormalizedInbound => ({
  channel: shape.channel,
  providerMessageId: `${run}-${i}`,
  kind: shape.kind,
  sender: shape.channel === 'email' ? { kind: 'email', address: `${run}-${i}@group-clocks.example` } : { kind: 'phone', address: `+4860${String(Date.now() % 1e5).padStart(5, '0')}${i}${run.length}` },
  thread: {},
  subject: shape.channel === 'email' ? `Complaint ${i}` : undefined,
  text: 'My parcel arrived damaged and nobody answers',
  attachments: [],
  sentAt: at,
  ...(shape.kind === 'call_completed' ? { call: { durationSec: 0 } } : {}),
});

/** One group transaction over the deliveries (commitInOrder: the whole run in one group when it commits). */
async function commitAsOneGroup(intake: ReturnType<typeof createIntakeService>, deliveries: Delivery[]): Promise<number[][]> {
  const groups: number[][] = [];
  await intake.commitInOrder(deliveries, {
    progress: async () => {},
    committed: (indexes) => groups.push(indexes),
    failed: async (_index, error) => {
      throw error;
    },
  });
  return groups;
}

async function prepared(intake: ReturnType<typeof createIntakeService>, run: string, shapes: Shape[], at: Date): Promise<Delivery[]> {
  return Promise.all(
    shapes.map((shape, i) =>
      intake.prepare(
        { channel: shape.channel, body: Buffer.from(`${run} ${i}`), contentType: 'application/json' },
        { messages: [message(run, i, shape, at)], skipped: [] },
        { ticketDefaults: { teamId: shape.teamId, priority: shape.priority } },
      ),
    ),
  );
}

/** The clocks of the ticket a delivery opened, as the comparison needs them (no ids). */
async function clocksOfRun(run: string, count: number) {
  const out: Record<string, unknown>[][] = [];
  for (let i = 0; i < count; i++) {
    const { rows } = await ctx.deps.pool.query<{ ticket_id: string; sla_policy_id: string | null }>(
      `select m.ticket_id, t.sla_policy_id from messages m join tickets t on t.id = m.ticket_id where m.provider_message_id = $1`,
      [`${run}-${i}`],
    );
    expect(rows, `the ticket of message ${i}`).toHaveLength(1);
    const clocks = await clockRows(ctx, rows[0]!.ticket_id);
    out.push(
      clocks
        .map((c) => ({
          ticketPolicy: rows[0]!.sla_policy_id,
          policyId: c.policyId,
          metric: c.metric,
          state: c.state,
          targetSec: c.targetSec,
          startedAt: c.startedAt.toISOString(),
          dueAt: c.dueAt?.toISOString() ?? null,
          warnDueAt: c.warnDueAt?.toISOString() ?? null,
          stoppedAt: c.stoppedAt?.toISOString() ?? null,
          breachedAt: c.breachedAt?.toISOString() ?? null,
          usedSec: c.usedSec,
          generation: c.generation,
          id: c.id,
        }))
        .sort((a, b) => a.metric.localeCompare(b.metric)),
    );
  }
  return out;
}

describe('SLA clocks of a group commit', () => {
  it("gives a group's new tickets, in one statement, exactly the clocks and timers the one-change path gives", async () => {
    const clock = manualClock(ctx);
    clock.set('2026-03-02T10:00:00Z');
    const teamA = await createTeam(ctx);
    const teamB = await createTeam(ctx);
    const policyA = await createPolicy(ctx, { match: { teamIds: [teamA.id] }, targets: { firstResponse: 3600, nextResponse: 7200, resolution: 86_400 } });
    const policyB = await createPolicy(ctx, { match: { teamIds: [teamB.id] }, warnAt: 0.5, targets: { firstResponse: 600, resolution: 14_400 } });
    const shapes: Shape[] = [
      { channel: 'email', kind: 'message', teamId: teamA.id, priority: 'normal' },
      { channel: 'email', kind: 'message', teamId: teamB.id, priority: 'urgent' },
      { channel: 'email', kind: 'message', teamId: null, priority: 'low' },
      { channel: 'phone', kind: 'call_completed', teamId: teamA.id, priority: 'high' },
      { channel: 'email', kind: 'message', teamId: teamA.id, priority: 'high' },
      { channel: 'phone', kind: 'voicemail', teamId: teamB.id, priority: 'normal' },
      { channel: 'email', kind: 'message', teamId: teamB.id, priority: 'normal' },
    ];

    // The one-change path: the same SLA hook without its batch form (TicketHooks then runs
    // inTransaction for each change), in an intake service of its own over the same database.
    const sla = createSlaHook({ policies: ctx.deps.policies, timers: ctx.deps.timers });
    const oneByOne = new TicketHooks();
    oneByOne.register({ inTransaction: sla.inTransaction!, afterCommitBatch: sla.afterCommitBatch! });
    // The batch path: the real hooks, with the SLA hook's batch calls counted.
    const batches: number[] = [];
    const counting: TicketHook = {
      async inTransactionBatch(_tx, changes: readonly TicketChange[]) {
        batches.push(changes.length);
      },
    };
    ctx.deps.hooks.register(counting);
    const intakeOf = (hooks: TicketHooks) =>
      createIntakeService({
        db: ctx.deps.db,
        clock: ctx.clock,
        logger: ctx.deps.logger,
        hooks,
        attachments: createAttachmentStore({ dir: ctx.config.ATTACHMENTS_DIR }),
        crossChannelMergeHours: 0,
        floodMaxPerHour: 0,
        policies: ctx.deps.policies,
      });

    const reference = await prepared(ctx.deps.intake, 'one', shapes, clock.now());
    expect(await commitAsOneGroup(intakeOf(oneByOne), reference)).toEqual([[0, 1, 2, 3, 4, 5, 6]]);
    const grouped = await prepared(ctx.deps.intake, 'group', shapes, clock.now());
    expect(await commitAsOneGroup(ctx.deps.intake, grouped)).toEqual([[0, 1, 2, 3, 4, 5, 6]]);
    // The group's new tickets went through the hooks' batch form once, all seven together.
    expect(batches).toEqual([shapes.length]);

    const expected = await clocksOfRun('one', shapes.length);
    const actual = await clocksOfRun('group', shapes.length);
    const withoutIds = (tickets: Record<string, unknown>[][]) => tickets.map((clocks) => clocks.map(({ id: _id, ...rest }) => rest));
    expect(withoutIds(actual)).toEqual(withoutIds(expected));
    // The comparison is not vacuous: both policies, a ticket without one, a clock stopped at creation (the answered call).
    expect(actual.map((clocks) => clocks.length)).toEqual([2, 2, 0, 2, 2, 2, 2]);
    expect(actual[0]![0]).toMatchObject({ policyId: policyA.id, ticketPolicy: policyA.id });
    expect(actual[1]![0]).toMatchObject({ policyId: policyB.id, ticketPolicy: policyB.id });
    expect(actual[3]!.find((c) => c.metric === 'first_response')).toMatchObject({ state: 'met' });
    // Every running clock of the group has its timers in Redis, as the one-change path's have.
    const queue = ctx.deps.queues.slaTimers.queue;
    for (const [runName, tickets] of [
      ['group', actual],
      ['one', expected],
    ] as const) {
      for (const c of tickets.flat()) {
        if (c.state !== 'running') continue;
        expect(await queue.getJob(timerJobId('breach', c.id as string, c.generation as number)), `${runName} breach job of ${String(c.metric)}`).toBeDefined();
        expect(await queue.getJob(timerJobId('warning', c.id as string, c.generation as number)), `${runName} warning job of ${String(c.metric)}`).toBeDefined();
      }
    }
  });
});
