/**
 * The ticket lifecycle as pure functions: given a ticket's state and a command, return the
 * fields to change and the timeline events to record, or refuse. No I/O here; the service
 * applies the result in one transaction.
 *
 *   new ─► open ◄─► pending (waiting on the customer)
 *    │      ▲  ◄─► on_hold (waiting on a third party)
 *    │      │           │
 *    └──────┴─► solved ◄┘ ─► closed (final; a customer writing again gets a follow-up ticket)
 *               │  ▲
 *               └──┘ reopen (customer writes, or an agent reopens): counts in reopenCount
 */
export const TICKET_STATUSES = ['new', 'open', 'pending', 'on_hold', 'solved', 'closed'] as const;
export type TicketStatus = (typeof TICKET_STATUSES)[number];

export const PRIORITIES = ['low', 'normal', 'high', 'urgent'] as const;
export type Priority = (typeof PRIORITIES)[number];

const ALLOWED: Record<TicketStatus, readonly TicketStatus[]> = {
  new: ['open', 'pending', 'on_hold', 'solved'],
  open: ['pending', 'on_hold', 'solved'],
  pending: ['open', 'on_hold', 'solved'],
  on_hold: ['open', 'pending', 'solved'],
  solved: ['open', 'closed'],
  closed: [],
};

export interface LifecycleState {
  status: TicketStatus;
  priority: Priority;
  assigneeId: string | null;
  teamId: string | null;
  firstResponseAt: Date | null;
  solvedAt: Date | null;
  closedAt: Date | null;
  reopenCount: number;
  handoffCount: number;
  /** Whether the ticket has ever had an assignee: the first assignment is not a handoff. */
  everAssigned: boolean;
}

/** The stored columns of a ticket the lifecycle reads (a tickets row satisfies it). */
export type StoredTicketLifecycle = Omit<LifecycleState, 'status' | 'priority' | 'everAssigned'> & { status: string; priority: string; firstAssignedAt: Date | null };

/** A stored ticket as the lifecycle sees it. */
export function lifecycleStateOf(row: StoredTicketLifecycle): LifecycleState {
  return {
    status: row.status as TicketStatus,
    priority: row.priority as Priority,
    assigneeId: row.assigneeId,
    teamId: row.teamId,
    firstResponseAt: row.firstResponseAt,
    solvedAt: row.solvedAt,
    closedAt: row.closedAt,
    reopenCount: row.reopenCount,
    handoffCount: row.handoffCount,
    everAssigned: row.firstAssignedAt !== null,
  };
}

export interface DomainEvent {
  type: string;
  data: Record<string, unknown>;
}

export interface Transition {
  patch: Partial<Omit<LifecycleState, 'everAssigned'>>;
  events: DomainEvent[];
}

export class LifecycleError extends Error {
  constructor(
    readonly code: 'invalid-transition' | 'ticket-closed',
    message: string,
    readonly from: TicketStatus,
    readonly to?: TicketStatus,
  ) {
    super(message);
    this.name = 'LifecycleError';
  }
}

export function allowedTransitions(from: TicketStatus): readonly TicketStatus[] {
  return ALLOWED[from];
}

export function canTransition(from: TicketStatus, to: TicketStatus): boolean {
  return ALLOWED[from].includes(to);
}

/** An explicit status change asked for by an agent or a rule. */
export function changeStatus(state: LifecycleState, to: TicketStatus, now: Date): Transition {
  if (state.status === to) return { patch: {}, events: [] };
  if (!canTransition(state.status, to)) {
    throw new LifecycleError(
      'invalid-transition',
      `A ${state.status} ticket cannot become ${to}; allowed: ${ALLOWED[state.status].join(', ') || 'none'}`,
      state.status,
      to,
    );
  }
  const patch: Transition['patch'] = { status: to };
  const events: DomainEvent[] = [];
  if (state.status === 'solved' && to === 'open') {
    patch.solvedAt = null;
    patch.reopenCount = state.reopenCount + 1;
    events.push({ type: 'reopened', data: { from: state.status, by: 'agent' } });
  }
  if (to === 'solved') patch.solvedAt = now;
  if (to === 'closed') patch.closedAt = now;
  events.push({ type: 'status_changed', data: { from: state.status, to } });
  return { patch, events };
}

/**
 * A customer wrote on this ticket. Waiting states wake up; a solved ticket reopens; a closed
 * ticket is final, so the caller must open a follow-up ticket instead.
 */
export function customerMessage(state: LifecycleState): Transition | { followUp: true } {
  switch (state.status) {
    case 'closed':
      return { followUp: true };
    case 'solved':
      return {
        patch: { status: 'open', solvedAt: null, reopenCount: state.reopenCount + 1 },
        events: [
          { type: 'reopened', data: { from: 'solved', by: 'customer' } },
          { type: 'status_changed', data: { from: 'solved', to: 'open' } },
        ],
      };
    case 'pending':
    case 'on_hold':
      return { patch: { status: 'open' }, events: [{ type: 'status_changed', data: { from: state.status, to: 'open' } }] };
    default:
      return { patch: {}, events: [] };
  }
}

/**
 * An agent answered the customer in public (a reply or an answered call). The first one is
 * the first response; a new ticket becomes open unless the agent set another status.
 */
export function agentPublicReply(state: LifecycleState, now: Date): Transition {
  if (state.status === 'closed') {
    throw new LifecycleError('ticket-closed', 'A closed ticket takes no more replies; open a follow-up ticket', 'closed');
  }
  const patch: Transition['patch'] = {};
  const events: DomainEvent[] = [];
  if (state.firstResponseAt === null) {
    patch.firstResponseAt = now;
    events.push({ type: 'first_response', data: {} });
  }
  if (state.status === 'new') {
    patch.status = 'open';
    events.push({ type: 'status_changed', data: { from: 'new', to: 'open' } });
  }
  return { patch, events };
}

/**
 * Assign to an agent (or unassign with null). Every change to a new agent after the ticket's
 * first assignment is a handoff: fewer hands per customer is a KPI.
 */
export function assign(state: LifecycleState, assigneeId: string | null): Transition {
  if (state.assigneeId === assigneeId) return { patch: {}, events: [] };
  if (state.status === 'closed') {
    throw new LifecycleError('ticket-closed', 'A closed ticket cannot be reassigned', 'closed');
  }
  const isHandoff = assigneeId !== null && state.everAssigned;
  return {
    patch: isHandoff ? { assigneeId, handoffCount: state.handoffCount + 1 } : { assigneeId },
    events: [{ type: 'assigned', data: { from: state.assigneeId, to: assigneeId, handoff: isHandoff } }],
  };
}

export function merge(state: LifecycleState, now: Date): Transition {
  if (state.status === 'closed') {
    throw new LifecycleError('ticket-closed', 'A closed ticket cannot be merged', 'closed');
  }
  return {
    patch: { status: 'closed', closedAt: now },
    events: [{ type: 'status_changed', data: { from: state.status, to: 'closed', reason: 'merged' } }],
  };
}

const PRIORITY_ORDER: readonly Priority[] = PRIORITIES;

/** One step up the priority ladder, used by escalation; urgent stays urgent. */
export function raisePriority(priority: Priority): Priority {
  const index = PRIORITY_ORDER.indexOf(priority);
  return PRIORITY_ORDER[Math.min(index + 1, PRIORITY_ORDER.length - 1)] ?? priority;
}

export function isOpenStatus(status: TicketStatus): boolean {
  return status !== 'solved' && status !== 'closed';
}
