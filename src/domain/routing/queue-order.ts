import { PRIORITIES, type Priority } from '../ticket-lifecycle.js';
import type { RoutingOrder } from './routing.types.js';

export interface QueuedTicket {
  id: string;
  priority: Priority;
  createdAt: Date;
  /** The soonest due time among its running SLA clocks; null when none runs. */
  slaDueAt: Date | null;
}

const rank = (p: Priority) => PRIORITIES.indexOf(p);
const age = (a: QueuedTicket, b: QueuedTicket) => a.createdAt.getTime() - b.createdAt.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
const priorityFirst = (a: QueuedTicket, b: QueuedTicket) => rank(b.priority) - rank(a.priority);
/** A ticket with a running clock comes before one without (its deadline is real). */
const dueFirst = (a: QueuedTicket, b: QueuedTicket) => (a.slaDueAt?.getTime() ?? Number.POSITIVE_INFINITY) - (b.slaDueAt?.getTime() ?? Number.POSITIVE_INFINITY) || 0;

/** The order a team's waiting tickets are offered in: sla (soonest due, then priority, then age), priority (then age), fifo. */
export function compareQueued(order: RoutingOrder): (a: QueuedTicket, b: QueuedTicket) => number {
  if (order === 'fifo') return age;
  if (order === 'priority') return (a, b) => priorityFirst(a, b) || age(a, b);
  return (a, b) => dueFirst(a, b) || priorityFirst(a, b) || age(a, b);
}
