import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ALWAYS_OPEN, businessSecondsBetween } from '../../../../src/domain/calendar.js';
import { applySlaEvent, isDue, markBreached, markWarned } from '../../../../src/domain/sla/sla-clocks.js';
import {
  SLA_METRICS,
  type SlaClock,
  type SlaEvent,
  type SlaPolicy,
  type SlaTargets,
} from '../../../../src/domain/sla/sla.types.js';
import { allowedTransitions, isOpenStatus, type TicketStatus } from '../../../../src/domain/ticket-lifecycle.js';
import { DAY, HOUR, OFFICE, T0, policy, ticket } from './sla-fixtures.js';

/**
 * Random ticket histories (messages, replies, status changes along the lifecycle's allowed
 * transitions, policy changes, timers firing, time passing) checked step by step against the
 * clock invariants.
 */

type Command =
  | { kind: 'advance'; sec: number }
  | { kind: 'timers' }
  | { kind: 'customer' }
  | { kind: 'agent' }
  | { kind: 'status'; pick: number }
  | { kind: 'policy'; which: 0 | 1 | 2 };

const seconds = fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 2 * DAY }));
const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('advance' as const), sec: seconds }) },
  { weight: 3, arbitrary: fc.constant({ kind: 'timers' as const }) },
  { weight: 3, arbitrary: fc.constant({ kind: 'customer' as const }) },
  { weight: 3, arbitrary: fc.constant({ kind: 'agent' as const }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('status' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('policy' as const), which: fc.constantFrom(0, 1, 2) as fc.Arbitrary<0 | 1 | 2> }) },
);

const target = fc.option(fc.integer({ min: 60, max: 3 * DAY }), { nil: undefined });
const targets: fc.Arbitrary<SlaTargets> = fc.record({
  firstResponse: target,
  nextResponse: target,
  resolution: target,
  periodicUpdate: target,
});
const warnAt = fc.integer({ min: 5, max: 95 }).map((p) => p / 100);

interface Step {
  before: SlaClock[];
  after: SlaClock[];
  event: SlaEvent | null;
  now: Date;
  /** The policy in force and the ticket's status after the step. */
  policy: SlaPolicy | null;
  status: TicketStatus;
}

/**
 * Plays the commands as the ticket service and its SLA hook do: one change records its events
 * in order, and each is applied with the ticket as it is after the change.
 */
function play(policies: [SlaPolicy, SlaPolicy], commands: Command[]): Step[] {
  const steps: Step[] = [];
  let current: SlaPolicy | null = policies[0];
  let status = 'new' as TicketStatus;
  let now = T0.getTime();
  let clocks: SlaClock[] = [];
  const record = (before: SlaClock[], event: SlaEvent | null) =>
    steps.push({ before, after: clocks, event, now: new Date(now), policy: current, status });
  const change = (to: TicketStatus, first: SlaEvent | null) => {
    const from = status;
    status = to;
    const events = [first, from === to ? null : ({ type: 'status_changed', from, to, at: new Date(now) } as const)];
    for (const event of events) {
      if (!event) continue;
      const before = clocks;
      clocks = applySlaEvent(clocks, event, current, ticket(status));
      record(before, event);
    }
  };
  change('new', { type: 'ticket_created', at: new Date(now) });
  for (const cmd of commands) {
    const at = new Date(now);
    switch (cmd.kind) {
      case 'advance':
        now += cmd.sec * 1000;
        break;
      case 'timers': {
        // The timer processor: re-check, then mark. Jobs carry the clock's current generation.
        const before = clocks;
        clocks = clocks.map((c) => {
          let next = c;
          if (isDue(next, 'warning', at, next.generation)) next = markWarned(next, at);
          if (isDue(next, 'breach', at, next.generation)) next = markBreached(next, at);
          return next;
        });
        record(before, null);
        break;
      }
      case 'customer':
        // As the lifecycle's customerMessage: waiting tickets wake up, solved ones reopen.
        if (status !== 'closed') change(status === 'new' ? 'new' : 'open', { type: 'customer_message', at });
        break;
      case 'agent':
        if (status !== 'closed') change(status === 'new' ? 'open' : status, { type: 'agent_response', at });
        break;
      case 'status': {
        const allowed = allowedTransitions(status);
        if (allowed.length > 0) change(allowed[cmd.pick % allowed.length]!, null);
        break;
      }
      case 'policy':
        current = cmd.which === 2 ? null : policies[cmd.which];
        change(status, { type: 'policy_changed', at });
        break;
    }
  }
  return steps;
}

const ms = (d: Date | null): number | null => (d === null ? null : d.getTime());
const stopped = (c: SlaClock): boolean => c.state === 'met' || c.stoppedAt !== null;

function checkShape(c: SlaClock, now: Date): void {
  const label = `${c.metric} ${c.state}`;
  expect(c.startedAt.getTime(), label).toBeLessThanOrEqual(now.getTime());
  expect(c.usedSec, label).toBeGreaterThanOrEqual(0);
  switch (c.state) {
    case 'running':
      expect([c.resumedAt, c.dueAt].every((d) => d !== null), label).toBe(true);
      expect([c.pausedAt, c.stoppedAt, c.breachedAt], label).toEqual([null, null, null]);
      expect(c.dueAt!.getTime(), label).toBeGreaterThanOrEqual(c.resumedAt!.getTime());
      break;
    case 'paused':
      // Only these wait for the customer; the first response and periodic updates are owed regardless.
      expect(['resolution', 'next_response'], label).toContain(c.metric);
      // Paused clocks have no due time: nothing can fire while the customer is awaited.
      expect([c.dueAt, c.warnDueAt, c.resumedAt, c.stoppedAt], label).toEqual([null, null, null, null]);
      expect(c.pausedAt, label).not.toBeNull();
      break;
    case 'met':
      expect([c.dueAt, c.warnDueAt, c.resumedAt, c.pausedAt, c.breachedAt], label).toEqual(Array(5).fill(null));
      expect(c.stoppedAt, label).not.toBeNull();
      break;
    case 'breached':
      expect([c.breachedAt, c.dueAt].every((d) => d !== null), label).toBe(true);
      expect(c.pausedAt, label).toBeNull();
      // Running until stopped: exactly one of resumedAt and stoppedAt.
      expect((c.resumedAt === null) !== (c.stoppedAt === null), label).toBe(true);
      break;
  }
}

/** For a running clock, the due (and warning) time is exactly the remaining budget away from resumedAt. */
function checkDue(c: SlaClock, p: SlaPolicy | null): void {
  if (c.state !== 'running') return;
  const calendar = p?.calendar ?? ALWAYS_OPEN;
  const warnAt = p?.warnAt ?? 0.75;
  const budget = (sec: number) => Math.round(Math.max(0, sec - c.usedSec) * 1000);
  const business = (d: Date) => Math.round(businessSecondsBetween(calendar, c.resumedAt!, d) * 1000);
  if (calendar === ALWAYS_OPEN) {
    expect(ms(c.dueAt), c.metric).toBe(c.resumedAt!.getTime() + budget(c.targetSec));
  } else {
    expect(business(c.dueAt!), c.metric).toBe(budget(c.targetSec));
  }
  // Once warned, the warning time is history (kept by markWarned, dropped at the next recompute).
  if (c.warnedAt === null) expect(business(c.warnDueAt!), c.metric).toBe(budget(warnAt * c.targetSec));
}

function checkTransition(before: SlaClock | undefined, after: SlaClock, event: SlaEvent | null): void {
  if (!before) {
    expect(after.generation).toBe(1);
    return;
  }
  const label = `${after.metric}: ${before.state} -> ${after.state} on ${event?.type ?? 'timer'}`;
  // Only periodic updates and next responses start over, as brand new clocks started by this event.
  const fresh = after.startedAt.getTime() === event?.at.getTime() && after.usedSec === 0;
  const restartable = after.metric === 'periodic_update' || after.metric === 'next_response';
  const restarted = after.startedAt.getTime() !== before.startedAt.getTime();
  if (restarted) expect(restartable && fresh, label).toBe(true);
  else expect(after.usedSec, label).toBeGreaterThanOrEqual(before.usedSec);
  // A next response still owed covers further messages; only the periodic update restarts while owed.
  if (restarted && !stopped(before)) expect(after.metric, label).toBe('periodic_update');
  if (stopped(before) && !stopped(after)) {
    const reopen = event?.type === 'status_changed' && !isOpenStatus(event.from) && isOpenStatus(event.to);
    expect((restartable && fresh) || (after.metric === 'resolution' && reopen), label).toBe(true);
  }
  if (before.state === 'breached' && !(restartable && fresh)) expect(after.state, label).toBe('breached');
  if (before.metric === 'first_response' && stopped(before)) expect(after, label).toBe(before);
  // Generations: +1 exactly when a due or warning time moved (always so for a restart).
  const moved = ms(before.dueAt) !== ms(after.dueAt) || ms(before.warnDueAt) !== ms(after.warnDueAt);
  expect(after.generation, label).toBe(before.generation + (moved ? 1 : 0));
  if (event && JSON.stringify(before) === JSON.stringify(after)) expect(after, label).toBe(before);
}

function checkHistory(policies: [SlaPolicy, SlaPolicy], commands: Command[]): void {
  for (const { before, after, event, now, policy: current, status } of play(policies, commands)) {
    const metrics = after.map((c) => c.metric);
    // Nothing is owed on a solved or closed ticket.
    if (!isOpenStatus(status)) expect(after.filter((c) => !stopped(c))).toEqual([]);
    expect(new Set(metrics).size).toBe(metrics.length);
    expect(metrics.every((m) => SLA_METRICS.includes(m))).toBe(true);
    for (const c of after) {
      checkShape(c, now);
      checkDue(c, current);
      checkTransition(before.find((b) => b.metric === c.metric), c, event);
    }
    // Clocks are never dropped, only stopped or replaced.
    for (const b of before) expect(metrics).toContain(b.metric);
  }
}

const history = (calendar: SlaPolicy['calendar']) =>
  fc.tuple(
    fc.tuple(targets, warnAt, targets, warnAt).map(
      ([t1, w1, t2, w2]) =>
        [
          policy({ id: 'a', calendar, targets: t1, warnAt: w1 }),
          policy({ id: 'b', calendar, targets: t2, warnAt: w2 }),
        ] as [SlaPolicy, SlaPolicy],
    ),
    fc.array(command, { maxLength: 60 }),
  );

describe('SLA clock invariants over random ticket histories', () => {
  it('on a 24/7 policy', () => {
    fc.assert(
      fc.property(history(ALWAYS_OPEN), ([policies, commands]) => {
        checkHistory(policies, commands);
      }),
      { numRuns: 400 },
    );
  });

  it('on a business-hours policy', () => {
    fc.assert(
      fc.property(history(OFFICE), ([policies, commands]) => {
        checkHistory(policies, commands);
      }),
      { numRuns: 150 },
    );
  });

  it('a full-featured 24/7 policy exercises every metric', () => {
    const full = policy({
      targets: { firstResponse: HOUR, nextResponse: HOUR, resolution: DAY, periodicUpdate: 4 * HOUR },
    });
    fc.assert(
      fc.property(fc.array(command, { maxLength: 80 }), (commands) => {
        checkHistory([full, full], commands);
      }),
      { numRuns: 300 },
    );
  });
});
