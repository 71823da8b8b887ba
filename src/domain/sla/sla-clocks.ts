import { ALWAYS_OPEN, addBusinessSeconds, businessSecondsBetween, type BusinessCalendar } from '../calendar.js';
import { isOpenStatus, type TicketStatus } from '../ticket-lifecycle.js';
import type { SlaClock, SlaEvent, SlaMetric, SlaPolicy, SlaTargets, SlaTicket } from './sla.types.js';

/**
 * The SLA clock engine: pure functions from (clocks, event) to clocks. No I/O; the caller
 * persists the result and (re)schedules a warning and a breach job per running clock, tagged
 * with the clock's generation so that a job scheduled for an older due time does nothing.
 *
 * Clock arithmetic, all in business seconds on the policy's calendar:
 *   used(now)  = usedSec + business time in [resumedAt, now)        (running clocks)
 *   dueAt      = resumedAt + max(0, targetSec - usedSec)             ("due now" once used up)
 *   warnDueAt  = resumedAt + max(0, warnAt * targetSec - usedSec)    (null once warned)
 * A clock is stopped when it is 'met', or 'breached' with a stoppedAt. A breached clock that
 * is not stopped keeps running (it never pauses) until the response or solve that stops it.
 */

const DEFAULT_WARN_AT = 0.75;

const TARGET_KEYS: Record<SlaMetric, keyof SlaTargets> = {
  first_response: 'firstResponse',
  next_response: 'nextResponse',
  resolution: 'resolution',
  periodic_update: 'periodicUpdate',
};

/** Waiting on the customer stops these from accruing; the others are not the customer's to hold. */
const PAUSED_WHILE_PENDING: ReadonlySet<SlaMetric> = new Set(['resolution', 'next_response']);

/** The calendar and warning fraction the arithmetic runs on; 24/7 when no policy applies. */
interface Rules {
  calendar: BusinessCalendar;
  warnAt: number;
}

function rulesOf(policy: SlaPolicy | null): Rules {
  if (!policy) return { calendar: ALWAYS_OPEN, warnAt: DEFAULT_WARN_AT };
  return { calendar: policy.calendar, warnAt: policy.warnAt };
}

export function targetFor(policy: SlaPolicy | null, metric: SlaMetric): number | undefined {
  return policy?.targets[TARGET_KEYS[metric]] ?? undefined;
}

export function isStopped(clock: SlaClock): boolean {
  return clock.state === 'met' || clock.stoppedAt !== null;
}

/** Business seconds used by `at`: the frozen total plus the current running stretch. */
function usedAt(clock: SlaClock, calendar: BusinessCalendar, at: Date): number {
  return clock.usedSec + (clock.resumedAt ? businessSecondsBetween(calendar, clock.resumedAt, at) : 0);
}

/** Due and warning instants for a stretch running from `from` with `usedSec` already spent. */
function dueTimes(
  rules: Rules,
  from: Date,
  targetSec: number,
  usedSec: number,
  warned: boolean,
): Pick<SlaClock, 'dueAt' | 'warnDueAt'> {
  // A budget already spent (a target lowered below the time used) is due at the stretch's start:
  // on a resume that is now; mid-stretch it is already past. Either way the timer fires at once.
  const dueAt = addBusinessSeconds(rules.calendar, from, Math.max(0, targetSec - usedSec));
  const warnDueAt = warned
    ? null
    : addBusinessSeconds(rules.calendar, from, Math.max(0, rules.warnAt * targetSec - usedSec));
  return { dueAt, warnDueAt };
}

const sameInstant = (a: Date | null, b: Date | null): boolean =>
  a === null || b === null ? a === b : a.getTime() === b.getTime();

/**
 * The clock with `patch` applied: the same object when nothing changes, otherwise a new one whose
 * generation is bumped iff a due time moved (that is what invalidates already scheduled timers).
 */
function revise(clock: SlaClock, patch: Partial<SlaClock>): SlaClock {
  const next: SlaClock = { ...clock, ...patch };
  const keys = Object.keys(patch) as (keyof SlaClock)[];
  const differs = (key: keyof SlaClock): boolean => {
    const a = clock[key];
    const b = next[key];
    return a instanceof Date || b instanceof Date ? !sameInstant(a as Date | null, b as Date | null) : a !== b;
  };
  if (!keys.some(differs)) return clock;
  const timersMoved = differs('dueAt') || differs('warnDueAt');
  return { ...next, generation: clock.generation + (timersMoved ? 1 : 0) };
}

type FreshClock = Omit<SlaClock, 'generation'>;

function freshClock(metric: SlaMetric, targetSec: number, rules: Rules, at: Date, paused = false): FreshClock {
  return {
    metric,
    state: paused ? 'paused' : 'running',
    targetSec,
    startedAt: at,
    resumedAt: paused ? null : at,
    usedSec: 0,
    ...(paused ? { dueAt: null, warnDueAt: null } : dueTimes(rules, at, targetSec, 0, false)),
    pausedAt: paused ? at : null,
    warnedAt: null,
    breachedAt: null,
    stoppedAt: null,
  };
}

/**
 * Stops a clock at `at`, folding the current stretch into usedSec. A clock still 'running' past its
 * due time has breached even if the breach timer has not run yet (a queue backlog must not turn a
 * late reply into a met SLA), so it stops as breached at its due time.
 *
 * A paused clock has no due time; it is late when its target was lowered below the time it had
 * already used (a policy change while waiting on the customer). Like a resume, which would make it
 * due at once, the stop is where that budget comes due: it stops breached with dueAt = breachedAt
 * = `at`, since breached clocks always keep a due time.
 */
function stop(clock: SlaClock, calendar: BusinessCalendar, at: Date): SlaClock {
  if (isStopped(clock)) return clock;
  const usedSec = usedAt(clock, calendar, at);
  const stopped = { usedSec, resumedAt: null, pausedAt: null, stoppedAt: at };
  if (clock.state === 'breached') return revise(clock, stopped);
  const late = clock.dueAt ? at.getTime() > clock.dueAt.getTime() : usedSec > clock.targetSec;
  if (late) {
    const dueAt = clock.dueAt ?? at;
    return revise(clock, { ...stopped, state: 'breached', dueAt, breachedAt: dueAt });
  }
  return revise(clock, { ...stopped, state: 'met', dueAt: null, warnDueAt: null });
}

/**
 * Freezes a running clock while the ticket waits on the customer. One that is already due is left
 * running: it has breached (its breach job is just not processed yet) and breached clocks do not pause.
 */
function pause(clock: SlaClock, calendar: BusinessCalendar, at: Date): SlaClock {
  if (clock.state !== 'running' || !clock.resumedAt) return clock;
  if (clock.dueAt && at.getTime() >= clock.dueAt.getTime()) return clock;
  return revise(clock, {
    state: 'paused',
    usedSec: usedAt(clock, calendar, at),
    resumedAt: null,
    pausedAt: at,
    dueAt: null,
    warnDueAt: null,
  });
}

/** Starts a new running stretch at `at`; the remaining budget is targetSec - usedSec. */
function resume(clock: SlaClock, rules: Rules, at: Date): SlaClock {
  if (clock.state !== 'paused') return clock;
  return revise(clock, {
    state: 'running',
    resumedAt: at,
    pausedAt: null,
    ...dueTimes(rules, at, clock.targetSec, clock.usedSec, clock.warnedAt !== null),
  });
}

function find(clocks: readonly SlaClock[], metric: SlaMetric): SlaClock | undefined {
  return clocks.find((c) => c.metric === metric);
}

/** The list holds one clock per metric, the current one: a new clock replaces its predecessor. */
function put(clocks: readonly SlaClock[], clock: SlaClock): SlaClock[] {
  const index = clocks.findIndex((c) => c.metric === clock.metric);
  return index < 0 ? [...clocks, clock] : clocks.map((c, i) => (i === index ? clock : c));
}

/**
 * A clock for `metric` from scratch, or none without a target. A replacement continues its
 * predecessor's generation (bumped, as its due times differ), so timer job ids built from
 * (ticket, metric, generation) never repeat for the same ticket and metric.
 */
function restart(
  clocks: readonly SlaClock[],
  metric: SlaMetric,
  policy: SlaPolicy | null,
  at: Date,
  paused = false,
): SlaClock[] {
  const targetSec = targetFor(policy, metric);
  if (targetSec === undefined) return [...clocks];
  const fresh = freshClock(metric, targetSec, rulesOf(policy), at, paused);
  const previous = find(clocks, metric);
  return put(clocks, previous ? revise(previous, fresh) : { ...fresh, generation: 1 });
}

// ---- events ------------------------------------------------------------------------------------

/** The clocks a new ticket starts: first response, resolution and periodic update, per the policy's targets. */
export function startClocks(policy: SlaPolicy, at: Date): SlaClock[] {
  const rules = rulesOf(policy);
  const metrics: SlaMetric[] = ['first_response', 'resolution', 'periodic_update'];
  return metrics.flatMap((metric) => {
    const targetSec = targetFor(policy, metric);
    return targetSec === undefined ? [] : [{ ...freshClock(metric, targetSec, rules, at), generation: 1 }];
  });
}

function onAgentResponse(clocks: SlaClock[], at: Date, policy: SlaPolicy | null, ticket: SlaTicket): SlaClock[] {
  const { calendar } = rulesOf(policy);
  const answered = clocks.map((c) =>
    c.metric === 'first_response' || c.metric === 'next_response' ? stop(c, calendar, at) : c,
  );
  // Any public response is the update the customer is owed: the periodic budget starts over.
  return isOpenStatus(ticket.status) ? restart(answered, 'periodic_update', policy, at) : answered;
}

function onCustomerMessage(clocks: SlaClock[], at: Date, policy: SlaPolicy | null, ticket: SlaTicket): SlaClock[] {
  // A closed ticket is final: the customer's message goes to a follow-up ticket with its own clocks.
  if (ticket.status === 'closed') return [...clocks];
  const first = find(clocks, 'first_response');
  const next = find(clocks, 'next_response');
  // While the first response (or a previous next response) is still owed, that clock covers this message.
  if ((first && !isStopped(first)) || (next && !isStopped(next))) return [...clocks];
  return restart(clocks, 'next_response', policy, at);
}

/**
 * Solved back to an open status: the resolution clock continues with the time it had used (the
 * customer's problem was not solved after all), the periodic update starts over; response clocks
 * wait for the customer's next message.
 */
function reopen(clocks: SlaClock[], policy: SlaPolicy | null, at: Date): SlaClock[] {
  const rules = rulesOf(policy);
  const targetSec = targetFor(policy, 'resolution');
  const resolution = find(clocks, 'resolution');
  let next = [...clocks];
  if (!resolution) {
    next = restart(next, 'resolution', policy, at);
  } else if (isStopped(resolution) && targetSec !== undefined) {
    const running = { resumedAt: at, stoppedAt: null, pausedAt: null, targetSec };
    next = put(
      next,
      resolution.state === 'breached'
        ? revise(resolution, running) // stays breached, keeps its due time, runs until solved again
        : revise(resolution, {
            ...running,
            state: 'running',
            ...dueTimes(rules, at, targetSec, resolution.usedSec, resolution.warnedAt !== null),
          }),
    );
  }
  return restart(next, 'periodic_update', policy, at);
}

function onStatusChanged(
  clocks: SlaClock[],
  from: TicketStatus,
  to: TicketStatus,
  at: Date,
  policy: SlaPolicy | null,
): SlaClock[] {
  const rules = rulesOf(policy);
  if (from === to) return [...clocks];
  if (!isOpenStatus(to)) return clocks.map((c) => stop(c, rules.calendar, at));
  let next = isOpenStatus(from) ? [...clocks] : reopen(clocks, policy, at);
  // on_hold waits on a third party, not on the customer: only pending stops the clocks.
  if (to === 'pending' && from !== 'pending') {
    next = next.map((c) => (PAUSED_WHILE_PENDING.has(c.metric) ? pause(c, rules.calendar, at) : c));
  } else if (from === 'pending') {
    next = next.map((c) => resume(c, rules, at));
  }
  return next;
}

/**
 * The new policy's target and calendar for a clock that is still owed. Time used so far is
 * re-measured on the new calendar from the current stretch's start (the old calendar is not known
 * here); a clock the new policy has no target for is stopped as 'met' (nothing is owed any more).
 */
function retarget(clock: SlaClock, policy: SlaPolicy, at: Date): SlaClock {
  if (isStopped(clock)) return clock;
  const targetSec = targetFor(policy, clock.metric);
  if (targetSec === undefined) return stop(clock, policy.calendar, at);
  // A breach already happened and is being escalated; a new target cannot undo it.
  if (clock.state === 'breached') return clock;
  if (clock.state === 'paused' || !clock.resumedAt) return revise(clock, { targetSec });
  const rules = rulesOf(policy);
  return revise(clock, {
    targetSec,
    ...dueTimes(rules, clock.resumedAt, targetSec, clock.usedSec, clock.warnedAt !== null),
  });
}

function onPolicyChanged(clocks: SlaClock[], at: Date, policy: SlaPolicy | null, ticket: SlaTicket): SlaClock[] {
  // No policy matches any more: nothing is owed. usedSec is folded on 24/7 time (the old calendar is gone).
  if (!policy) return clocks.map((c) => stop(c, ALWAYS_OPEN, at));
  let next = clocks.map((c) => retarget(c, policy, at));
  if (!isOpenStatus(ticket.status)) return next;
  // Whether the ticket has had its first response is not known here, so only the clocks that do not
  // depend on it are added; a waiting (pending) ticket's new resolution clock starts paused.
  for (const metric of ['resolution', 'periodic_update'] as const) {
    if (find(next, metric)) continue;
    const paused = PAUSED_WHILE_PENDING.has(metric) && ticket.status === 'pending';
    next = restart(next, metric, policy, at, paused);
  }
  return next;
}

/**
 * The clocks after `event`. `policy` is the policy that applies to the ticket now (after a
 * policy_changed, the new one; null when none matches) and `ticket` the ticket after the event.
 * Returns a new list; unchanged clocks are the same objects.
 */
export function applySlaEvent(
  clocks: SlaClock[],
  event: SlaEvent,
  policy: SlaPolicy | null,
  ticket: SlaTicket,
): SlaClock[] {
  switch (event.type) {
    case 'ticket_created':
      // Idempotent: a redelivered creation must not restart clocks that have been running.
      if (clocks.length > 0) return [...clocks];
      return policy ? startClocks(policy, event.at) : [];
    case 'agent_response':
      return onAgentResponse(clocks, event.at, policy, ticket);
    case 'customer_message':
      return onCustomerMessage(clocks, event.at, policy, ticket);
    case 'status_changed':
      return onStatusChanged(clocks, event.from, event.to, event.at, policy);
    case 'policy_changed':
      return onPolicyChanged(clocks, event.at, policy, ticket);
  }
}

// ---- timers and views --------------------------------------------------------------------------

/** The warning was sent. The due times stay, so the generation (and the breach job) stays too. */
export function markWarned(clock: SlaClock, at: Date): SlaClock {
  return { ...clock, warnedAt: at };
}

/** The clock breached at `at`. It keeps its due time and keeps running until stopped. */
export function markBreached(clock: SlaClock, at: Date): SlaClock {
  return { ...clock, state: 'breached', breachedAt: at };
}

/** The timer processor's re-check: is this job (scheduled for `generation`) still due? */
export function isDue(clock: SlaClock, kind: 'warning' | 'breach', now: Date, generation: number): boolean {
  if (clock.state !== 'running' || clock.generation !== generation) return false;
  const [done, dueAt] = kind === 'warning' ? [clock.warnedAt, clock.warnDueAt] : [clock.breachedAt, clock.dueAt];
  return done === null && dueAt !== null && now.getTime() >= dueAt.getTime();
}

/**
 * Whole business seconds left (negative once overdue) while the clock is owed; the frozen
 * remainder while paused or after a breached stop; null once met.
 */
export function remainingSec(clock: SlaClock, now: Date, calendar: BusinessCalendar): number | null {
  if (clock.state === 'met') return null;
  const used = isStopped(clock) ? clock.usedSec : usedAt(clock, calendar, now);
  // + 0 turns -0 into 0.
  return Math.floor(clock.targetSec - used) + 0;
}

export interface SlaClockView {
  metric: SlaMetric;
  state: SlaClock['state'];
  startedAt: Date;
  dueAt: Date | null;
  warnedAt: Date | null;
  breachedAt: Date | null;
  remainingSec: number | null;
}

/** What the API shows of a clock on a ticket. */
export function clockView(clock: SlaClock, now: Date, calendar: BusinessCalendar): SlaClockView {
  const { metric, state, startedAt, dueAt, warnedAt, breachedAt } = clock;
  return { metric, state, startedAt, dueAt, warnedAt, breachedAt, remainingSec: remainingSec(clock, now, calendar) };
}
