/**
 * First-contact resolution, as pure rules. A ticket is resolved on first contact when it is
 * solved after exactly one agent interaction (one public reply, or one answered call), by
 * one agent, with no handoff, and is not reopened within the reopen window. Until that
 * window closes the answer is not known: the state stays pending, then settles.
 */
export type FcrState = 'pending' | 'yes' | 'no';

export interface FcrFacts {
  /** Public agent replies and answered calls on the ticket. */
  interactions: number;
  /** Distinct agents among those interactions. */
  interactingAgents: number;
  handoffCount: number;
  reopenCount: number;
}

export type FcrDecision = { state: 'pending'; settlesAt: Date } | { state: 'no'; reason: string };

/** At the ticket's first solve. A later solve (after a reopen) never makes it first-contact again. */
export function fcrOnSolve(facts: FcrFacts, solvedAt: Date, windowMs: number): FcrDecision {
  if (facts.reopenCount > 0) return { state: 'no', reason: 'reopened before it was solved' };
  if (facts.interactions === 0) return { state: 'no', reason: 'solved without any interaction with the customer' };
  if (facts.interactions > 1) return { state: 'no', reason: `${facts.interactions} interactions` };
  if (facts.interactingAgents > 1) return { state: 'no', reason: 'more than one agent' };
  if (facts.handoffCount > 0) return { state: 'no', reason: 'handed off' };
  return { state: 'pending', settlesAt: new Date(solvedAt.getTime() + windowMs) };
}

/** A reopen inside the window decides it at once; after the window it changes nothing. */
export function fcrOnReopen(state: FcrState, settlesAt: Date | null, at: Date): FcrState {
  if (state === 'pending' && settlesAt && at < settlesAt) return 'no';
  return state;
}

/** When the window has closed on a still-solved ticket, it was resolved on first contact. */
export function fcrSettle(state: FcrState, settlesAt: Date | null, now: Date, stillSolved: boolean): FcrState {
  if (state !== 'pending' || !settlesAt || now < settlesAt) return state;
  return stillSolved ? 'yes' : 'no';
}
