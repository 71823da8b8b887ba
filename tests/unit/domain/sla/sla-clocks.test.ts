import { describe, expect, it } from 'vitest';
import { ALWAYS_OPEN } from '../../../../src/domain/calendar.js';
import {
  applySlaEvent,
  clockView,
  isDue,
  markBreached,
  markWarned,
  remainingSec,
  startClocks,
} from '../../../../src/domain/sla/sla-clocks.js';
import type { SlaClock, SlaEvent, SlaMetric, SlaPolicy, SlaTicket } from '../../../../src/domain/sla/sla.types.js';
import type { TicketStatus } from '../../../../src/domain/ticket-lifecycle.js';
import { DAY, HOUR, MINUTE, OFFICE, T0, after, clockOf, policy, ticket, wa } from './sla-fixtures.js';

const twentyFourSeven = policy({ targets: { firstResponse: HOUR, resolution: DAY } });
const withPeriodic = policy({ targets: { firstResponse: HOUR, resolution: DAY, periodicUpdate: 2 * HOUR } });
const withNext = policy({ targets: { firstResponse: HOUR, nextResponse: 30 * MINUTE, resolution: DAY } });
const office = policy({ calendar: OFFICE, targets: { firstResponse: 8 * HOUR, resolution: 16 * HOUR } });

const apply = (clocks: SlaClock[], event: SlaEvent, p: SlaPolicy | null, t: SlaTicket = ticket()): SlaClock[] =>
  applySlaEvent(clocks, event, p, t);
const reply = (at: Date): SlaEvent => ({ type: 'agent_response', at });
const message = (at: Date): SlaEvent => ({ type: 'customer_message', at });
const status = (from: TicketStatus, to: TicketStatus, at: Date): SlaEvent => ({ type: 'status_changed', from, to, at });
const policyChanged = (at: Date): SlaEvent => ({ type: 'policy_changed', at });

/** Applies `event` to the clock of `metric` in place in the list (a timer firing). */
const mark = (clocks: SlaClock[], metric: SlaMetric, fn: (c: SlaClock) => SlaClock): SlaClock[] =>
  clocks.map((c) => (c.metric === metric ? fn(c) : c));

describe('startClocks', () => {
  it('starts first response, resolution and periodic update, running, with due and warning times', () => {
    const clocks = startClocks(withPeriodic, T0);
    expect(clocks.map((c) => c.metric)).toEqual(['first_response', 'resolution', 'periodic_update']);
    expect(clockOf(clocks, 'first_response')).toEqual({
      metric: 'first_response',
      state: 'running',
      targetSec: HOUR,
      startedAt: T0,
      resumedAt: T0,
      usedSec: 0,
      dueAt: after(HOUR),
      warnDueAt: after(45 * MINUTE),
      pausedAt: null,
      warnedAt: null,
      breachedAt: null,
      stoppedAt: null,
      generation: 1,
    });
    expect(clockOf(clocks, 'resolution')).toMatchObject({ dueAt: after(DAY), warnDueAt: after(18 * HOUR) });
    expect(clockOf(clocks, 'periodic_update')).toMatchObject({ dueAt: after(2 * HOUR), warnDueAt: after(90 * MINUTE) });
  });

  it('starts only the metrics the policy has targets for (never next_response)', () => {
    expect(startClocks(withNext, T0).map((c) => c.metric)).toEqual(['first_response', 'resolution']);
    expect(startClocks(policy({ targets: { resolution: HOUR } }), T0).map((c) => c.metric)).toEqual(['resolution']);
  });

  it('puts the warning at the policy warnAt fraction of the target (75 % by default)', () => {
    const [half] = startClocks(policy({ targets: { resolution: 10 * HOUR }, warnAt: 0.5 }), T0);
    expect(half?.warnDueAt).toEqual(after(5 * HOUR));
    const [quarters] = startClocks(policy({ targets: { resolution: 10 * HOUR } }), T0);
    expect(quarters?.warnDueAt).toEqual(after(7.5 * HOUR));
  });

  it('counts business time: due over a weekend lands on Monday', () => {
    const friday = startClocks(office, wa('2025-06-06T15:00'));
    // Friday 15:00-17:00 is 2 h; the remaining 6 h of 8 run Monday 09:00-15:00.
    expect(clockOf(friday, 'first_response').dueAt).toEqual(wa('2025-06-09T15:00'));
    expect(clockOf(friday, 'first_response').warnDueAt).toEqual(wa('2025-06-09T13:00'));
    // 16 h: Friday 2 h + Monday 8 h + Tuesday 6 h.
    expect(clockOf(friday, 'resolution').dueAt).toEqual(wa('2025-06-10T15:00'));
    // Created on Saturday: counting starts at Monday's opening.
    const saturday = startClocks(office, wa('2025-06-07T11:00'));
    expect(clockOf(saturday, 'first_response').dueAt).toEqual(wa('2025-06-09T17:00'));
  });
});

describe('applySlaEvent: ticket_created', () => {
  it('starts the same clocks as startClocks, once, and none without a policy', () => {
    const created: SlaEvent = { type: 'ticket_created', at: T0 };
    const clocks = apply([], created, withPeriodic);
    expect(clocks).toEqual(startClocks(withPeriodic, T0));
    const again = apply(clocks, { type: 'ticket_created', at: after(HOUR) }, withPeriodic);
    expect(again).toEqual(clocks);
    again.forEach((c, i) => expect(c).toBe(clocks[i]));
    expect(apply([], created, null)).toEqual([]);
  });
});

describe('applySlaEvent: first response', () => {
  it('is met by a reply before it is due; other clocks stay the same objects', () => {
    const clocks = startClocks(twentyFourSeven, T0);
    const next = apply(clocks, reply(after(30 * MINUTE)), twentyFourSeven);
    expect(clockOf(next, 'first_response')).toMatchObject({
      state: 'met',
      stoppedAt: after(30 * MINUTE),
      usedSec: 30 * MINUTE,
      resumedAt: null,
      dueAt: null,
      warnDueAt: null,
      generation: 2,
    });
    expect(clockOf(next, 'resolution')).toBe(clockOf(clocks, 'resolution'));
    expect(next).not.toBe(clocks);
  });

  it('stays breached after a late reply, keeping its breach and due time', () => {
    const clocks = mark(startClocks(twentyFourSeven, T0), 'first_response', (c) => markBreached(c, after(HOUR)));
    const next = apply(clocks, reply(after(2 * HOUR)), twentyFourSeven);
    expect(clockOf(next, 'first_response')).toMatchObject({
      state: 'breached',
      breachedAt: after(HOUR),
      stoppedAt: after(2 * HOUR),
      dueAt: after(HOUR),
      usedSec: 2 * HOUR,
      resumedAt: null,
      generation: 1,
    });
  });

  it('is breached (at its due time) by a late reply even when the breach timer has not run yet', () => {
    const next = apply(startClocks(twentyFourSeven, T0), reply(after(90 * MINUTE)), twentyFourSeven);
    expect(clockOf(next, 'first_response')).toMatchObject({
      state: 'breached',
      breachedAt: after(HOUR),
      stoppedAt: after(90 * MINUTE),
      dueAt: after(HOUR),
      generation: 1,
    });
  });

  it('is met by a reply exactly at the due instant', () => {
    const next = apply(startClocks(twentyFourSeven, T0), reply(after(HOUR)), twentyFourSeven);
    expect(clockOf(next, 'first_response').state).toBe('met');
  });

  it('does not restart on later replies', () => {
    const answered = apply(startClocks(twentyFourSeven, T0), reply(after(MINUTE)), twentyFourSeven);
    const again = apply(answered, reply(after(2 * MINUTE)), twentyFourSeven);
    expect(clockOf(again, 'first_response')).toBe(clockOf(answered, 'first_response'));
  });
});

describe('applySlaEvent: next response', () => {
  it('starts at a customer message after the first response and stops at the reply', () => {
    let clocks = startClocks(withNext, T0);
    // While the first response is owed, it covers the customer's follow-ups.
    const early = apply(clocks, message(after(10 * MINUTE)), withNext);
    expect(early.map((c) => c.metric)).toEqual(['first_response', 'resolution']);
    early.forEach((c, i) => expect(c).toBe(clocks[i]));

    clocks = apply(clocks, reply(after(20 * MINUTE)), withNext);
    clocks = apply(clocks, message(after(HOUR)), withNext);
    expect(clockOf(clocks, 'next_response')).toMatchObject({
      state: 'running',
      startedAt: after(HOUR),
      resumedAt: after(HOUR),
      dueAt: after(90 * MINUTE),
      warnDueAt: after(HOUR + 22.5 * MINUTE),
      generation: 1,
    });

    // A second message while it runs changes nothing.
    const running = clockOf(clocks, 'next_response');
    clocks = apply(clocks, message(after(70 * MINUTE)), withNext);
    expect(clockOf(clocks, 'next_response')).toBe(running);

    clocks = apply(clocks, reply(after(80 * MINUTE)), withNext);
    expect(clockOf(clocks, 'next_response')).toMatchObject({ state: 'met', usedSec: 20 * MINUTE, generation: 2 });

    // The next message replaces the met clock; its generation continues so timer ids never repeat.
    clocks = apply(clocks, message(after(2 * HOUR)), withNext);
    expect(clocks.filter((c) => c.metric === 'next_response')).toHaveLength(1);
    expect(clockOf(clocks, 'next_response')).toMatchObject({
      state: 'running',
      startedAt: after(2 * HOUR),
      usedSec: 0,
      dueAt: after(150 * MINUTE),
      generation: 3,
    });
  });

  it('starts at the first customer message when the policy has no first-response target', () => {
    const p = policy({ targets: { nextResponse: HOUR } });
    const clocks = apply(startClocks(p, T0), message(T0), p);
    expect(clockOf(clocks, 'next_response')).toMatchObject({ state: 'running', dueAt: after(HOUR) });
  });

  it('does not start on a closed ticket or without a target', () => {
    const answered = apply(startClocks(withNext, T0), reply(after(MINUTE)), withNext);
    expect(apply(answered, message(after(HOUR)), withNext, ticket('closed'))).toEqual(answered);
    expect(apply(answered, message(after(HOUR)), twentyFourSeven)).toEqual(answered);
  });

  it('starts after a breached and answered first response', () => {
    let clocks = mark(startClocks(withNext, T0), 'first_response', (c) => markBreached(c, after(HOUR)));
    clocks = apply(clocks, message(after(70 * MINUTE)), withNext);
    expect(clocks.some((c) => c.metric === 'next_response')).toBe(false);
    clocks = apply(clocks, reply(after(80 * MINUTE)), withNext);
    clocks = apply(clocks, message(after(90 * MINUTE)), withNext);
    expect(clockOf(clocks, 'next_response').state).toBe('running');
  });
});

describe('applySlaEvent: periodic update', () => {
  it('restarts at every agent response, clearing the warning and breach', () => {
    let clocks = startClocks(withPeriodic, T0);
    clocks = mark(clocks, 'periodic_update', (c) => markBreached(markWarned(c, after(90 * MINUTE)), after(2 * HOUR)));
    clocks = apply(clocks, reply(after(150 * MINUTE)), withPeriodic);
    expect(clockOf(clocks, 'periodic_update')).toEqual({
      metric: 'periodic_update',
      state: 'running',
      targetSec: 2 * HOUR,
      startedAt: after(150 * MINUTE),
      resumedAt: after(150 * MINUTE),
      usedSec: 0,
      dueAt: after(270 * MINUTE),
      warnDueAt: after(240 * MINUTE),
      pausedAt: null,
      warnedAt: null,
      breachedAt: null,
      stoppedAt: null,
      generation: 2,
    });
  });

  it('does not restart on a solved ticket', () => {
    const solved = apply(startClocks(withPeriodic, T0), status('open', 'solved', after(HOUR)), withPeriodic);
    const next = apply(solved, reply(after(2 * HOUR)), withPeriodic, ticket('solved'));
    expect(clockOf(next, 'periodic_update')).toBe(clockOf(solved, 'periodic_update'));
    expect(clockOf(next, 'periodic_update').state).toBe('met');
  });

  it('keeps running while the ticket is pending or on hold', () => {
    const clocks = startClocks(withPeriodic, T0);
    for (const to of ['pending', 'on_hold'] as const) {
      const next = apply(clocks, status('open', to, after(HOUR)), withPeriodic);
      expect(clockOf(next, 'periodic_update')).toBe(clockOf(clocks, 'periodic_update'));
    }
  });
});

describe('applySlaEvent: pending pauses', () => {
  it('pauses resolution and moves its due time by exactly the paused time (24/7)', () => {
    const clocks = startClocks(twentyFourSeven, T0);
    const paused = apply(clocks, status('open', 'pending', after(2 * HOUR)), twentyFourSeven);
    expect(clockOf(paused, 'resolution')).toMatchObject({
      state: 'paused',
      usedSec: 2 * HOUR,
      resumedAt: null,
      pausedAt: after(2 * HOUR),
      dueAt: null,
      warnDueAt: null,
      generation: 2,
    });
    // The first response is owed whatever the status.
    expect(clockOf(paused, 'first_response')).toBe(clockOf(clocks, 'first_response'));

    const resumed = apply(paused, status('pending', 'open', after(5 * HOUR)), twentyFourSeven);
    expect(clockOf(resumed, 'resolution')).toMatchObject({
      state: 'running',
      usedSec: 2 * HOUR,
      resumedAt: after(5 * HOUR),
      pausedAt: null,
      dueAt: after(DAY + 3 * HOUR),
      warnDueAt: after(18 * HOUR + 3 * HOUR),
      startedAt: T0,
      generation: 3,
    });
  });

  it('moves a business-hours due time by the paused business time only', () => {
    // Monday 10:00, 16 business hours: due Wednesday 10:00.
    const clocks = startClocks(office, wa('2025-06-02T10:00'));
    expect(clockOf(clocks, 'resolution').dueAt).toEqual(wa('2025-06-04T10:00'));
    const paused = apply(clocks, status('open', 'pending', wa('2025-06-02T15:00')), office);
    expect(clockOf(paused, 'resolution').usedSec).toBe(5 * HOUR);
    // Paused Monday 15:00 to Tuesday 11:00: 4 business hours, so due 4 business hours later.
    const resumed = apply(paused, status('pending', 'on_hold', wa('2025-06-03T11:00')), office);
    expect(clockOf(resumed, 'resolution')).toMatchObject({
      state: 'running',
      dueAt: wa('2025-06-04T14:00'),
      warnDueAt: wa('2025-06-04T10:00'),
    });
  });

  it('keeps the first response and the periodic update running', () => {
    const clocks = startClocks(withPeriodic, T0);
    const pending = apply(clocks, status('new', 'pending', after(10 * MINUTE)), withPeriodic, ticket('pending'));
    expect(pending.map((c) => [c.metric, c.state])).toEqual([
      ['first_response', 'running'],
      ['resolution', 'paused'],
      ['periodic_update', 'running'],
    ]);
    expect(clockOf(pending, 'first_response')).toBe(clockOf(clocks, 'first_response'));
  });

  it('pauses next response too, and nothing for on_hold', () => {
    let clocks = apply(startClocks(withNext, T0), reply(after(MINUTE)), withNext);
    clocks = apply(clocks, message(after(HOUR)), withNext);
    const pending = apply(clocks, status('open', 'pending', after(70 * MINUTE)), withNext);
    expect(clockOf(pending, 'next_response')).toMatchObject({ state: 'paused', usedSec: 10 * MINUTE });
    const onHold = apply(clocks, status('open', 'on_hold', after(70 * MINUTE)), withNext);
    onHold.forEach((c, i) => expect(c).toBe(clocks[i]));
  });

  it('does not pause a breached clock, nor one already past due', () => {
    const p = policy({ targets: { resolution: HOUR } });
    const breached = mark(startClocks(p, T0), 'resolution', (c) => markBreached(c, after(HOUR)));
    const stillBreached = apply(breached, status('open', 'pending', after(2 * HOUR)), p);
    expect(clockOf(stillBreached, 'resolution')).toBe(clockOf(breached, 'resolution'));

    const overdue = startClocks(p, T0);
    const notPaused = apply(overdue, status('open', 'pending', after(2 * HOUR)), p);
    expect(clockOf(notPaused, 'resolution')).toBe(clockOf(overdue, 'resolution'));
    expect(isDue(clockOf(notPaused, 'resolution'), 'breach', after(2 * HOUR), 1)).toBe(true);
  });

  it('is due at the resume instant when the time used already exceeds the target', () => {
    const long = policy({ targets: { resolution: 4 * HOUR } });
    const short = policy({ targets: { resolution: HOUR } });
    let clocks = apply(startClocks(long, T0), status('open', 'pending', after(2 * HOUR)), long);
    clocks = apply(clocks, policyChanged(after(3 * HOUR)), short);
    expect(clockOf(clocks, 'resolution')).toMatchObject({ state: 'paused', targetSec: HOUR, dueAt: null });
    clocks = apply(clocks, status('pending', 'open', after(5 * HOUR)), short);
    expect(clockOf(clocks, 'resolution')).toMatchObject({ dueAt: after(5 * HOUR), warnDueAt: after(5 * HOUR) });
    expect(remainingSec(clockOf(clocks, 'resolution'), after(5 * HOUR), ALWAYS_OPEN)).toBe(-HOUR);
  });
});

describe('applySlaEvent: solve and reopen', () => {
  it('stops every clock at solve: met unless breached', () => {
    let clocks = startClocks(withPeriodic, T0);
    clocks = mark(clocks, 'first_response', (c) => markBreached(c, after(HOUR)));
    clocks = apply(clocks, status('open', 'solved', after(4 * HOUR)), withPeriodic);
    expect(clocks.map((c) => [c.metric, c.state, c.stoppedAt])).toEqual([
      ['first_response', 'breached', after(4 * HOUR)],
      ['resolution', 'met', after(4 * HOUR)],
      // The periodic update was 2 h overdue (no timer ran): it breached at its due time.
      ['periodic_update', 'breached', after(4 * HOUR)],
    ]);
    expect(clockOf(clocks, 'periodic_update').breachedAt).toEqual(after(2 * HOUR));
    expect(clockOf(clocks, 'resolution').usedSec).toBe(4 * HOUR);
  });

  it('stops a paused clock when a pending ticket is solved', () => {
    let clocks = apply(startClocks(twentyFourSeven, T0), status('open', 'pending', after(HOUR)), twentyFourSeven);
    clocks = apply(clocks, status('pending', 'solved', after(3 * HOUR)), twentyFourSeven);
    expect(clockOf(clocks, 'resolution')).toMatchObject({ state: 'met', usedSec: HOUR, pausedAt: null });
  });

  it('resumes resolution on reopen keeping the time used, and restarts the periodic update', () => {
    let clocks = apply(startClocks(withPeriodic, T0), reply(after(30 * MINUTE)), withPeriodic);
    clocks = apply(clocks, status('open', 'solved', after(4 * HOUR)), withPeriodic);
    const solved = clocks;
    clocks = apply(clocks, status('solved', 'open', after(10 * HOUR)), withPeriodic);
    expect(clockOf(clocks, 'resolution')).toMatchObject({
      state: 'running',
      startedAt: T0,
      resumedAt: after(10 * HOUR),
      usedSec: 4 * HOUR,
      stoppedAt: null,
      // 20 h left of 24, counted from the reopen.
      dueAt: after(30 * HOUR),
      warnDueAt: after(24 * HOUR),
    });
    expect(clockOf(clocks, 'first_response')).toBe(clockOf(solved, 'first_response'));
    expect(clockOf(clocks, 'periodic_update')).toMatchObject({
      state: 'running',
      startedAt: after(10 * HOUR),
      dueAt: after(12 * HOUR),
    });
  });

  it('keeps a breached resolution breached across a reopen, running towards the next solve', () => {
    const p = policy({ targets: { resolution: 2 * HOUR } });
    let clocks = mark(startClocks(p, T0), 'resolution', (c) => markBreached(c, after(2 * HOUR)));
    clocks = apply(clocks, status('open', 'solved', after(3 * HOUR)), p);
    clocks = apply(clocks, status('solved', 'open', after(5 * HOUR)), p);
    const resolution = clockOf(clocks, 'resolution');
    expect(resolution).toMatchObject({
      state: 'breached',
      breachedAt: after(2 * HOUR),
      dueAt: after(2 * HOUR),
      resumedAt: after(5 * HOUR),
      usedSec: 3 * HOUR,
      stoppedAt: null,
    });
    expect(remainingSec(resolution, after(6 * HOUR), ALWAYS_OPEN)).toBe(-2 * HOUR);
  });

  it('stops breached, with a due time, a paused clock whose lowered target is already used up', () => {
    // The property test's counterexample (seed 1054060833): paused with 61 s used, the policy
    // drops the target to 60 s, and the pending ticket is solved.
    const a = policy({ id: 'a', calendar: OFFICE, targets: { resolution: 62 }, warnAt: 0.05 });
    const b = policy({ id: 'b', calendar: OFFICE, targets: { resolution: 60 }, warnAt: 0.05 });
    let clocks = apply(startClocks(a, T0), reply(T0), a);
    clocks = apply(clocks, status('open', 'pending', after(61)), a, ticket('pending'));
    clocks = apply(clocks, policyChanged(after(61)), b, ticket('pending'));
    const paused = clockOf(clocks, 'resolution');
    expect(paused).toMatchObject({ state: 'paused', targetSec: 60, usedSec: 61, dueAt: null });
    clocks = apply(clocks, status('pending', 'solved', after(61)), b, ticket('solved'));
    expect(clockOf(clocks, 'resolution')).toEqual({
      ...paused,
      state: 'breached',
      usedSec: 61,
      pausedAt: null,
      resumedAt: null,
      stoppedAt: after(61),
      // Breached clocks keep a due time: the budget comes due where it is found spent, as on a resume.
      dueAt: after(61),
      breachedAt: after(61),
      warnDueAt: null,
      generation: paused.generation + 1,
    });
    expect(remainingSec(clockOf(clocks, 'resolution'), after(2 * HOUR), OFFICE)).toBe(-1);

    // The same when no policy applies any more: nothing is owed from now on, but the breach stands.
    const dropped = apply(startClocks(b, T0), status('open', 'pending', after(30)), b, ticket('pending'));
    const short = policy({ calendar: OFFICE, targets: { resolution: 20 } });
    const lowered = apply(dropped, policyChanged(after(40)), short, ticket('pending'));
    const unmatched = apply(lowered, policyChanged(after(50)), null, ticket('pending'));
    expect(clockOf(unmatched, 'resolution')).toMatchObject({
      state: 'breached',
      usedSec: 30,
      dueAt: after(50),
      breachedAt: after(50),
      stoppedAt: after(50),
    });
  });

  it('does nothing on closing an already solved ticket', () => {
    const solved = apply(startClocks(twentyFourSeven, T0), status('open', 'solved', after(HOUR)), twentyFourSeven);
    const closed = apply(solved, status('solved', 'closed', after(2 * HOUR)), twentyFourSeven);
    closed.forEach((c, i) => expect(c).toBe(solved[i]));
  });
});

describe('applySlaEvent: policy_changed', () => {
  const urgent = policy({ targets: { firstResponse: HOUR, resolution: 4 * HOUR } });

  it('recomputes due times from the time used so far with the new target', () => {
    const clocks = startClocks(twentyFourSeven, T0);
    const next = apply(clocks, policyChanged(after(HOUR / 2)), urgent);
    expect(clockOf(next, 'resolution')).toMatchObject({
      targetSec: 4 * HOUR,
      usedSec: 0,
      resumedAt: T0,
      dueAt: after(4 * HOUR),
      warnDueAt: after(3 * HOUR),
      generation: 2,
    });
    expect(clockOf(next, 'first_response')).toBe(clockOf(clocks, 'first_response'));
  });

  it('keeps every clock (same objects, same generation) when nothing changes', () => {
    let clocks = apply(startClocks(withNext, T0), reply(after(MINUTE)), withNext);
    clocks = apply(clocks, message(after(HOUR)), withNext);
    const next = apply(clocks, policyChanged(after(2 * HOUR)), withNext);
    next.forEach((c, i) => expect(c).toBe(clocks[i]));
  });

  it('makes a clock whose new target is already used up due at once', () => {
    const clocks = apply(startClocks(twentyFourSeven, T0), policyChanged(after(5 * HOUR)), urgent);
    const resolution = clockOf(clocks, 'resolution');
    expect(isDue(resolution, 'breach', after(5 * HOUR), resolution.generation)).toBe(true);
    expect(remainingSec(resolution, after(5 * HOUR), ALWAYS_OPEN)).toBe(-HOUR);
  });

  it('re-measures the running stretch on a new calendar', () => {
    // 24/7 -> office hours at Monday 12:00: 2 business hours used, 14 left, due Wednesday 10:00.
    const clocks = startClocks(policy({ targets: { resolution: 16 * HOUR } }), wa('2025-06-02T10:00'));
    const next = apply(clocks, policyChanged(wa('2025-06-02T12:00')), office);
    expect(clockOf(next, 'resolution')).toMatchObject({ dueAt: wa('2025-06-04T10:00'), generation: 2 });
    expect(remainingSec(clockOf(next, 'resolution'), wa('2025-06-02T12:00'), OFFICE)).toBe(14 * HOUR);
  });

  it('gives paused clocks the new target without a due time', () => {
    const paused = apply(startClocks(twentyFourSeven, T0), status('open', 'pending', after(HOUR)), twentyFourSeven);
    const next = apply(paused, policyChanged(after(2 * HOUR)), urgent, ticket('pending'));
    expect(clockOf(next, 'resolution')).toMatchObject({
      state: 'paused',
      targetSec: 4 * HOUR,
      dueAt: null,
      generation: clockOf(paused, 'resolution').generation,
    });
  });

  it('stops, as met, a clock whose metric the new policy no longer has', () => {
    const resolutionOnly = policy({ targets: { resolution: DAY } });
    const next = apply(startClocks(twentyFourSeven, T0), policyChanged(after(HOUR / 2)), resolutionOnly);
    expect(clockOf(next, 'first_response')).toMatchObject({
      state: 'met',
      stoppedAt: after(HOUR / 2),
      usedSec: HOUR / 2,
    });
  });

  it('starts resolution and periodic update the new policy adds, but never a first response', () => {
    const only = policy({ targets: { nextResponse: HOUR } });
    const clocks = startClocks(only, T0);
    expect(clocks).toEqual([]);
    const next = apply(clocks, policyChanged(after(HOUR)), withPeriodic);
    expect(next.map((c) => [c.metric, c.state, c.startedAt])).toEqual([
      ['resolution', 'running', after(HOUR)],
      ['periodic_update', 'running', after(HOUR)],
    ]);
    // A waiting ticket's resolution clock starts paused; a solved ticket gets none.
    const pending = apply(clocks, policyChanged(after(HOUR)), withPeriodic, ticket('pending'));
    expect(clockOf(pending, 'resolution')).toMatchObject({ state: 'paused', pausedAt: after(HOUR), dueAt: null });
    expect(apply(clocks, policyChanged(after(HOUR)), withPeriodic, ticket('solved'))).toEqual([]);
  });

  it('stops every open clock when no policy applies any more; breached ones stay breached', () => {
    let clocks = startClocks(withPeriodic, T0);
    clocks = mark(clocks, 'first_response', (c) => markBreached(c, after(HOUR)));
    clocks = apply(clocks, policyChanged(after(90 * MINUTE)), null);
    expect(clocks.map((c) => [c.metric, c.state, c.stoppedAt])).toEqual([
      ['first_response', 'breached', after(90 * MINUTE)],
      ['resolution', 'met', after(90 * MINUTE)],
      ['periodic_update', 'met', after(90 * MINUTE)],
    ]);
  });

  it('leaves a breached clock\'s target and due time alone', () => {
    const clocks = mark(startClocks(twentyFourSeven, T0), 'first_response', (c) => markBreached(c, after(HOUR)));
    const next = apply(clocks, policyChanged(after(2 * HOUR)), policy({ targets: { firstResponse: 2 * HOUR } }));
    expect(clockOf(next, 'first_response')).toBe(clockOf(clocks, 'first_response'));
  });
});

describe('generation', () => {
  it('bumps exactly when a due or warning time changes', () => {
    const steps: [string, (c: SlaClock[]) => SlaClock[], number][] = [
      ['on hold', (c) => apply(c, status('open', 'on_hold', after(HOUR)), twentyFourSeven), 1],
      ['same policy', (c) => apply(c, policyChanged(after(HOUR)), twentyFourSeven), 1],
      ['customer message', (c) => apply(c, message(after(HOUR)), twentyFourSeven), 1],
      ['warned', (c) => mark(c, 'resolution', (r) => markWarned(r, after(18 * HOUR))), 1],
      ['back to open', (c) => apply(c, status('on_hold', 'open', after(19 * HOUR)), twentyFourSeven), 1],
      ['pending', (c) => apply(c, status('open', 'pending', after(20 * HOUR)), twentyFourSeven), 2],
      ['resumed', (c) => apply(c, status('pending', 'open', after(21 * HOUR)), twentyFourSeven), 3],
      ['breached', (c) => mark(c, 'resolution', (r) => markBreached(r, after(25 * HOUR))), 3],
      ['solved while breached', (c) => apply(c, status('open', 'solved', after(26 * HOUR)), twentyFourSeven), 3],
    ];
    let clocks = startClocks(twentyFourSeven, T0);
    for (const [name, step, generation] of steps) {
      clocks = step(clocks);
      expect({ name, generation: clockOf(clocks, 'resolution').generation }).toEqual({ name, generation });
    }
  });

  it('a resumed clock that was already warned gets no new warning time', () => {
    let clocks = mark(startClocks(twentyFourSeven, T0), 'resolution', (r) => markWarned(r, after(18 * HOUR)));
    clocks = apply(clocks, status('open', 'pending', after(19 * HOUR)), twentyFourSeven);
    clocks = apply(clocks, status('pending', 'open', after(20 * HOUR)), twentyFourSeven);
    expect(clockOf(clocks, 'resolution')).toMatchObject({ warnDueAt: null, dueAt: after(DAY + HOUR) });
  });
});

describe('timer helpers', () => {
  const [clock] = startClocks(policy({ targets: { resolution: HOUR } }), T0) as [SlaClock];

  it('isDue only for the current generation of a running clock, not yet warned/breached, at or after due', () => {
    expect(isDue(clock, 'breach', new Date(after(HOUR).getTime() - 1), 1)).toBe(false);
    expect(isDue(clock, 'breach', after(HOUR), 1)).toBe(true);
    expect(isDue(clock, 'breach', after(2 * HOUR), 1)).toBe(true);
    expect(isDue(clock, 'warning', after(45 * MINUTE), 1)).toBe(true);
    expect(isDue(clock, 'breach', after(HOUR), 2)).toBe(false);
    expect(isDue(clock, 'breach', after(HOUR), 0)).toBe(false);
    expect(isDue(markWarned(clock, after(45 * MINUTE)), 'warning', after(HOUR), 1)).toBe(false);
    expect(isDue(markWarned(clock, after(45 * MINUTE)), 'breach', after(HOUR), 1)).toBe(true);
    const breached = markBreached(clock, after(HOUR));
    expect(isDue(breached, 'breach', after(2 * HOUR), 1)).toBe(false);
    expect(isDue(breached, 'warning', after(2 * HOUR), 1)).toBe(false);
  });

  it('isDue is false for paused and met clocks', () => {
    const p = policy({ targets: { resolution: HOUR } });
    const [paused] = apply([clock], status('open', 'pending', after(MINUTE)), p) as [SlaClock];
    expect(isDue(paused, 'breach', after(DAY), paused.generation)).toBe(false);
    expect(isDue(paused, 'breach', after(DAY), 1)).toBe(false);
    const [met] = apply([clock], status('open', 'solved', after(MINUTE)), p) as [SlaClock];
    expect(isDue(met, 'breach', after(DAY), met.generation)).toBe(false);
    expect(isDue(met, 'warning', after(DAY), met.generation)).toBe(false);
  });

  it('markWarned and markBreached return new objects and keep due times and generation', () => {
    const warned = markWarned(clock, after(45 * MINUTE));
    expect(warned).not.toBe(clock);
    expect(warned).toEqual({ ...clock, warnedAt: after(45 * MINUTE) });
    const breached = markBreached(warned, after(HOUR));
    expect(breached).toEqual({ ...warned, state: 'breached', breachedAt: after(HOUR) });
    expect(clock.warnedAt).toBeNull();
  });
});

describe('remainingSec and clockView', () => {
  it('counts down while running, goes negative when overdue, freezes while paused, is null when met', () => {
    const p = twentyFourSeven;
    const clocks = startClocks(p, T0);
    const first = clockOf(clocks, 'first_response');
    expect(remainingSec(first, after(20 * MINUTE), ALWAYS_OPEN)).toBe(40 * MINUTE);
    expect(remainingSec(first, after(2 * HOUR), ALWAYS_OPEN)).toBe(-HOUR);
    const paused = clockOf(apply(clocks, status('open', 'pending', after(2 * HOUR)), p), 'resolution');
    expect(remainingSec(paused, after(10 * HOUR), ALWAYS_OPEN)).toBe(22 * HOUR);
    const met = clockOf(apply(clocks, reply(after(MINUTE)), p), 'first_response');
    expect(remainingSec(met, after(10 * HOUR), ALWAYS_OPEN)).toBeNull();
  });

  it('counts business seconds: nothing runs down over the weekend', () => {
    const first = clockOf(startClocks(office, wa('2025-06-06T15:00')), 'first_response');
    expect(remainingSec(first, wa('2025-06-07T12:00'), OFFICE)).toBe(6 * HOUR);
    expect(remainingSec(first, wa('2025-06-09T16:00'), OFFICE)).toBe(-HOUR);
  });

  it('shows what the API exposes', () => {
    const first = clockOf(startClocks(twentyFourSeven, T0), 'first_response');
    expect(clockView(first, after(30 * MINUTE), ALWAYS_OPEN)).toEqual({
      metric: 'first_response',
      state: 'running',
      startedAt: T0,
      dueAt: after(HOUR),
      warnedAt: null,
      breachedAt: null,
      remainingSec: 30 * MINUTE,
    });
  });
});
