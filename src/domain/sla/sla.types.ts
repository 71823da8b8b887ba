import type { Channel } from '../../channels/channel.types.js';
import type { BusinessCalendar } from '../calendar.js';
import type { Priority, TicketStatus } from '../ticket-lifecycle.js';

/**
 * The SLA model, pure data. A policy sets targets per metric; each running target is a clock
 * that accrues business time on the policy's calendar. The clock engine (sla-clocks.ts) is a
 * pure function from (clocks, event) to clocks; the workers only persist and schedule.
 */
export const SLA_METRICS = ['first_response', 'next_response', 'resolution', 'periodic_update'] as const;
export type SlaMetric = (typeof SLA_METRICS)[number];

export const CLOCK_STATES = ['running', 'paused', 'met', 'breached'] as const;
export type ClockStateName = (typeof CLOCK_STATES)[number];

/** Target durations in seconds of business time on the policy's calendar. */
export interface SlaTargets {
  firstResponse?: number | undefined;
  nextResponse?: number | undefined;
  resolution?: number | undefined;
  periodicUpdate?: number | undefined;
}

export type NotifyTarget =
  | { kind: 'assignee' }
  | { kind: 'team_lead' }
  | { kind: 'webhook'; url: string }
  | { kind: 'email'; address: string };

export type EscalationAction =
  | { type: 'notify'; target: NotifyTarget }
  | { type: 'reassign'; teamId?: string | undefined; agentId?: string | undefined }
  | { type: 'priority'; set?: Priority | undefined; raise?: boolean | undefined };

export interface EscalationLevel {
  /** Seconds after the breach (wall-clock, not business time: a breach is already late). */
  afterSec: number;
  actions: EscalationAction[];
}

export interface SlaPolicy {
  id: string;
  name: string;
  /** Lower comes first; the first policy whose match fits the ticket applies. */
  position: number;
  match: { channels?: Channel[] | undefined; priorities?: Priority[] | undefined; teamIds?: string[] | undefined };
  /** null: 24/7. */
  calendar: BusinessCalendar;
  targets: SlaTargets;
  /** Fraction of the target at which the warning fires (default 0.75). */
  warnAt: number;
  escalation: EscalationLevel[];
}

/** What the clock engine needs to know about a ticket. */
export interface SlaTicket {
  channel: Channel;
  priority: Priority;
  teamId: string | null;
  status: TicketStatus;
}

/**
 * One clock. Business time used is kept across pauses: while running, the time used so far
 * is `usedSec` plus business time since `resumedAt`.
 */
export interface SlaClock {
  metric: SlaMetric;
  state: ClockStateName;
  targetSec: number;
  startedAt: Date;
  /** When the current running stretch began (start or last resume); null unless running. */
  resumedAt: Date | null;
  /** Business seconds accrued before `resumedAt` (i.e. across earlier running stretches). */
  usedSec: number;
  /** null while paused, met, or when not yet computed. Breached clocks keep their due time. */
  dueAt: Date | null;
  /** When the warning is due (warnAt fraction of the target); null if not applicable. */
  warnDueAt: Date | null;
  pausedAt: Date | null;
  warnedAt: Date | null;
  breachedAt: Date | null;
  /** When it was met or stopped (answered, solved). */
  stoppedAt: Date | null;
  /**
   * Bumped at every change of dueAt/warnDueAt: timer jobs carry the generation they were
   * scheduled for, and a job whose generation is stale does nothing.
   */
  generation: number;
}

/** The ticket happenings the clock engine reacts to. */
export type SlaEvent =
  | { type: 'ticket_created'; at: Date }
  | { type: 'customer_message'; at: Date }
  /** A public agent reply or an answered call: a response to the customer. */
  | { type: 'agent_response'; at: Date }
  | { type: 'status_changed'; from: TicketStatus; to: TicketStatus; at: Date }
  /** The policy, the priority (hence the policy) or the calendar changed: recompute due times. */
  | { type: 'policy_changed'; at: Date };
