import { describe, expect, it } from 'vitest';
import {
  agentPublicReply,
  allowedTransitions,
  assign,
  canTransition,
  changeStatus,
  customerMessage,
  isOpenStatus,
  LifecycleError,
  merge,
  PRIORITIES,
  raisePriority,
  TICKET_STATUSES,
  type LifecycleState,
  type TicketStatus,
} from '../../../src/domain/ticket-lifecycle.js';

const NOW = new Date('2026-01-05T09:00:00Z');
const EARLIER = new Date('2026-01-04T09:00:00Z');

const state = (overrides: Partial<LifecycleState> = {}): LifecycleState => ({
  status: 'open',
  priority: 'normal',
  assigneeId: null,
  teamId: null,
  firstResponseAt: null,
  solvedAt: null,
  closedAt: null,
  reopenCount: 0,
  handoffCount: 0,
  everAssigned: false,
  ...overrides,
});

/** The specification, written out independently of the ALLOWED table it checks. */
const EXPECTED: Record<TicketStatus, TicketStatus[]> = {
  new: ['open', 'pending', 'on_hold', 'solved'],
  open: ['pending', 'on_hold', 'solved'],
  pending: ['open', 'on_hold', 'solved'],
  on_hold: ['open', 'pending', 'solved'],
  solved: ['open', 'closed'],
  closed: [],
};

const pairs = TICKET_STATUSES.flatMap((from) => TICKET_STATUSES.filter((to) => to !== from).map((to) => [from, to] as const));
const allowed = pairs.filter(([from, to]) => EXPECTED[from].includes(to));
const forbidden = pairs.filter(([from, to]) => !EXPECTED[from].includes(to));

const thrown = (fn: () => unknown): LifecycleError => {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(LifecycleError);
    return error as LifecycleError;
  }
  throw new Error('expected a LifecycleError');
};

describe('the transition table', () => {
  it('is the documented one', () => {
    for (const from of TICKET_STATUSES) expect([...allowedTransitions(from)].sort(), from).toEqual([...EXPECTED[from]].sort());
    expect(allowed).toHaveLength(15);
    expect(forbidden).toHaveLength(15);
  });

  it.each(allowed)('%s → %s is allowed', (from, to) => {
    expect(canTransition(from, to)).toBe(true);
    const t = changeStatus(state({ status: from, reopenCount: 2 }), to, NOW);
    expect(t.patch.status).toBe(to);
    expect(t.events.at(-1)).toEqual({ type: 'status_changed', data: { from, to } });
  });

  it.each(forbidden)('%s → %s is refused with invalid-transition', (from, to) => {
    expect(canTransition(from, to)).toBe(false);
    const error = thrown(() => changeStatus(state({ status: from }), to, NOW));
    expect(error).toMatchObject({ code: 'invalid-transition', from, to });
    expect(error.message).toContain(`A ${from} ticket cannot become ${to}`);
    expect(error.message).toContain(EXPECTED[from].join(', ') || 'none');
  });

  it.each(TICKET_STATUSES)('%s → %s (the same status) changes nothing', (status) => {
    expect(changeStatus(state({ status }), status, NOW)).toEqual({ patch: {}, events: [] });
  });
});

describe('changeStatus side effects', () => {
  it.each(['new', 'open', 'pending', 'on_hold'] as const)('%s → solved stamps solvedAt', (from) => {
    expect(changeStatus(state({ status: from }), 'solved', NOW).patch).toEqual({ status: 'solved', solvedAt: NOW });
  });

  it('solved → closed stamps closedAt and keeps solvedAt', () => {
    expect(changeStatus(state({ status: 'solved', solvedAt: EARLIER }), 'closed', NOW).patch).toEqual({ status: 'closed', closedAt: NOW });
  });

  it('solved → open is a reopen: counted, solvedAt cleared, recorded as by an agent', () => {
    const t = changeStatus(state({ status: 'solved', solvedAt: EARLIER, reopenCount: 1 }), 'open', NOW);
    expect(t.patch).toEqual({ status: 'open', solvedAt: null, reopenCount: 2 });
    expect(t.events).toEqual([
      { type: 'reopened', data: { from: 'solved', by: 'agent' } },
      { type: 'status_changed', data: { from: 'solved', to: 'open' } },
    ]);
  });

  it('moves between waiting states without touching counters or stamps', () => {
    expect(changeStatus(state({ status: 'pending', reopenCount: 3 }), 'on_hold', NOW).patch).toEqual({ status: 'on_hold' });
    expect(changeStatus(state({ status: 'on_hold' }), 'open', NOW).patch).toEqual({ status: 'open' });
  });
});

describe('customerMessage', () => {
  it('new and open: nothing changes', () => {
    expect(customerMessage(state({ status: 'new' }))).toEqual({ patch: {}, events: [] });
    expect(customerMessage(state({ status: 'open' }))).toEqual({ patch: {}, events: [] });
  });

  it.each(['pending', 'on_hold'] as const)('%s wakes up to open', (status) => {
    expect(customerMessage(state({ status }))).toEqual({ patch: { status: 'open' }, events: [{ type: 'status_changed', data: { from: status, to: 'open' } }] });
  });

  it('solved reopens: counted, solvedAt cleared, recorded as by the customer', () => {
    expect(customerMessage(state({ status: 'solved', solvedAt: EARLIER, reopenCount: 4 }))).toEqual({
      patch: { status: 'open', solvedAt: null, reopenCount: 5 },
      events: [
        { type: 'reopened', data: { from: 'solved', by: 'customer' } },
        { type: 'status_changed', data: { from: 'solved', to: 'open' } },
      ],
    });
  });

  it('closed asks for a follow-up ticket instead', () => {
    expect(customerMessage(state({ status: 'closed', closedAt: EARLIER }))).toEqual({ followUp: true });
  });

  it('covers every status', () => {
    for (const status of TICKET_STATUSES) expect(() => customerMessage(state({ status }))).not.toThrow();
  });
});

describe('agentPublicReply', () => {
  it('the first reply on a new ticket is the first response and opens it', () => {
    expect(agentPublicReply(state({ status: 'new' }), NOW)).toEqual({
      patch: { firstResponseAt: NOW, status: 'open' },
      events: [
        { type: 'first_response', data: {} },
        { type: 'status_changed', data: { from: 'new', to: 'open' } },
      ],
    });
  });

  it('counts the first response only once', () => {
    const t = agentPublicReply(state({ status: 'open', firstResponseAt: EARLIER }), NOW);
    expect(t).toEqual({ patch: {}, events: [] });
  });

  it.each(['open', 'pending', 'on_hold', 'solved'] as const)('on a %s ticket it responds without changing the status', (status) => {
    const t = agentPublicReply(state({ status }), NOW);
    expect(t.patch).toEqual({ firstResponseAt: NOW });
    expect(t.events.map((e) => e.type)).toEqual(['first_response']);
  });

  it('refuses a closed ticket', () => {
    expect(thrown(() => agentPublicReply(state({ status: 'closed' }), NOW))).toMatchObject({ code: 'ticket-closed', from: 'closed' });
  });
});

describe('assign', () => {
  it('the first assignment is not a handoff', () => {
    expect(assign(state(), 'a')).toEqual({ patch: { assigneeId: 'a' }, events: [{ type: 'assigned', data: { from: null, to: 'a', handoff: false } }] });
  });

  it('a change of agent after the first assignment is a handoff', () => {
    expect(assign(state({ assigneeId: 'a', everAssigned: true, handoffCount: 2 }), 'b')).toEqual({
      patch: { assigneeId: 'b', handoffCount: 3 },
      events: [{ type: 'assigned', data: { from: 'a', to: 'b', handoff: true } }],
    });
  });

  it('unassigning is no handoff; the next agent after it is one', () => {
    const unassigned = assign(state({ assigneeId: 'a', everAssigned: true, handoffCount: 1 }), null);
    expect(unassigned).toEqual({ patch: { assigneeId: null }, events: [{ type: 'assigned', data: { from: 'a', to: null, handoff: false } }] });
    expect(assign(state({ assigneeId: null, everAssigned: true, handoffCount: 1 }), 'c').patch).toEqual({ assigneeId: 'c', handoffCount: 2 });
  });

  it('the same agent again changes nothing', () => {
    expect(assign(state({ assigneeId: 'a', everAssigned: true }), 'a')).toEqual({ patch: {}, events: [] });
    expect(assign(state(), null)).toEqual({ patch: {}, events: [] });
  });

  it('a whole chain counts every change of hands after the first', () => {
    let s = state();
    for (const next of ['a', 'b', null, 'c', 'c', 'a']) {
      const t = assign(s, next);
      s = { ...s, ...t.patch, everAssigned: s.everAssigned || next !== null };
    }
    expect(s).toMatchObject({ assigneeId: 'a', handoffCount: 3 });
  });

  it('refuses a closed ticket, but not other statuses', () => {
    expect(thrown(() => assign(state({ status: 'closed' }), 'a'))).toMatchObject({ code: 'ticket-closed' });
    for (const status of TICKET_STATUSES.filter((s) => s !== 'closed')) expect(() => assign(state({ status }), 'a')).not.toThrow();
  });
});

describe('merge', () => {
  it.each(['new', 'open', 'pending', 'on_hold', 'solved'] as const)('closes a %s ticket, recording why', (status) => {
    expect(merge(state({ status }), NOW)).toEqual({
      patch: { status: 'closed', closedAt: NOW },
      events: [{ type: 'status_changed', data: { from: status, to: 'closed', reason: 'merged' } }],
    });
  });

  it('refuses a closed ticket', () => {
    expect(thrown(() => merge(state({ status: 'closed' }), NOW))).toMatchObject({ code: 'ticket-closed' });
  });
});

describe('raisePriority and isOpenStatus', () => {
  it('raises one step at a time, and urgent stays urgent', () => {
    expect(PRIORITIES.map(raisePriority)).toEqual(['normal', 'high', 'urgent', 'urgent']);
  });

  it('open means anything before solved', () => {
    expect(TICKET_STATUSES.filter(isOpenStatus)).toEqual(['new', 'open', 'pending', 'on_hold']);
  });
});
