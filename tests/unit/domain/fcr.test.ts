import { describe, expect, it } from 'vitest';
import { fcrOnReopen, fcrOnSolve, fcrSettle } from '../../../src/domain/fcr.js';

const WEEK = 7 * 24 * 3_600_000;
const solvedAt = new Date('2026-03-02T10:00:00Z');
const one = { interactions: 1, interactingAgents: 1, handoffCount: 0, reopenCount: 0 };

describe('fcrOnSolve', () => {
  it('is pending until the reopen window closes after one interaction by one agent', () => {
    expect(fcrOnSolve(one, solvedAt, WEEK)).toEqual({ state: 'pending', settlesAt: new Date('2026-03-09T10:00:00Z') });
  });
  it.each([
    ['two interactions', { ...one, interactions: 2 }, '2 interactions'],
    ['no interaction', { ...one, interactions: 0 }, 'solved without any interaction with the customer'],
    ['two agents', { ...one, interactingAgents: 2 }, 'more than one agent'],
    ['a handoff', { ...one, handoffCount: 1 }, 'handed off'],
    ['a reopen before solving', { ...one, reopenCount: 1 }, 'reopened before it was solved'],
  ])('is no at once with %s', (_name, facts, reason) => {
    expect(fcrOnSolve(facts, solvedAt, WEEK)).toEqual({ state: 'no', reason });
  });
});

describe('fcrOnReopen and fcrSettle', () => {
  const settlesAt = new Date(solvedAt.getTime() + WEEK);
  it('a reopen inside the window makes it no; after the window it changes nothing', () => {
    expect(fcrOnReopen('pending', settlesAt, new Date(settlesAt.getTime() - 1))).toBe('no');
    expect(fcrOnReopen('pending', settlesAt, settlesAt)).toBe('pending');
    expect(fcrOnReopen('yes', settlesAt, new Date(settlesAt.getTime() + 1))).toBe('yes');
  });
  it('settles to yes when the window closes on a solved ticket, not before', () => {
    expect(fcrSettle('pending', settlesAt, new Date(settlesAt.getTime() - 1), true)).toBe('pending');
    expect(fcrSettle('pending', settlesAt, settlesAt, true)).toBe('yes');
    expect(fcrSettle('pending', settlesAt, settlesAt, false)).toBe('no');
    expect(fcrSettle('no', settlesAt, settlesAt, true)).toBe('no');
  });
});
