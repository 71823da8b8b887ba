import { raisePriority, type Priority } from '../ticket-lifecycle.js';
import type { EscalationAction, SlaPolicy } from './sla.types.js';

/**
 * Escalation after a breach, as pure planning: when each level fires, and what a level's actions
 * concretely do to one ticket. The worker carries the plan out (notifications, ticket patch).
 */

export interface ScheduledEscalation {
  /** 1 for the first level. */
  level: number;
  dueAt: Date;
  actions: EscalationAction[];
}

/**
 * When each level fires. Offsets are wall-clock seconds after the breach, not business time: once
 * a customer is already let down, waiting for office hours to escalate would make it worse.
 */
export function escalationSchedule(policy: SlaPolicy, breachedAt: Date): ScheduledEscalation[] {
  return [...policy.escalation]
    .sort((a, b) => a.afterSec - b.afterSec)
    .map((level, i) => ({
      level: i + 1,
      dueAt: new Date(breachedAt.getTime() + level.afterSec * 1000),
      actions: level.actions,
    }));
}

export interface EscalationContext {
  assigneeId: string | null;
  teamId: string | null;
  /** The lead of the ticket's team, if it has a team with a lead. */
  teamLeadId: string | null;
  priority: Priority;
}

export type PlannedNotification =
  | { channel: 'agent'; agentId: string; role: 'assignee' | 'team_lead' }
  | { channel: 'webhook'; url: string }
  | { channel: 'email'; address: string };

export interface EscalationPlan {
  notifications: PlannedNotification[];
  /** Fields to change on the ticket, or null when no reassignment changes anything. */
  reassignment: { teamId?: string; assigneeId?: string | null } | null;
  /** The new priority, or null when it stays. */
  priority: Priority | null;
  /** Actions that would change nothing, each with the reason. */
  skipped: { action: EscalationAction; reason: string }[];
}

/** The ticket's owners as the actions of a level leave them (later actions see earlier ones). */
interface Working {
  teamId: string | null;
  assigneeId: string | null;
  priority: Priority;
}

type Step = { notify: PlannedNotification } | { skip: string } | { set: Partial<Working> };

function notifyStep(action: Extract<EscalationAction, { type: 'notify' }>, ctx: EscalationContext): Step {
  const { target } = action;
  switch (target.kind) {
    case 'assignee':
      return ctx.assigneeId === null
        ? { skip: 'the ticket has no assignee' }
        : { notify: { channel: 'agent', agentId: ctx.assigneeId, role: 'assignee' } };
    case 'team_lead':
      if (ctx.teamId === null) return { skip: 'the ticket has no team, so no team lead' };
      return ctx.teamLeadId === null
        ? { skip: 'the ticket\'s team has no lead' }
        : { notify: { channel: 'agent', agentId: ctx.teamLeadId, role: 'team_lead' } };
    case 'webhook':
      return { notify: { channel: 'webhook', url: target.url } };
    case 'email':
      return { notify: { channel: 'email', address: target.address } };
  }
}

/**
 * A move to another team without a named agent leaves the ticket unassigned: the current assignee
 * belongs to the old team, and the new team picks the ticket up from its queue.
 */
function reassignStep(action: Extract<EscalationAction, { type: 'reassign' }>, now: Working): Step {
  if (action.teamId === undefined && action.agentId === undefined) return { skip: 'names no team and no agent' };
  const teamId = action.teamId ?? now.teamId;
  const assigneeId = action.agentId ?? (teamId !== now.teamId ? null : now.assigneeId);
  if (teamId === now.teamId && assigneeId === now.assigneeId) {
    return { skip: 'the ticket is already with that team and agent' };
  }
  return { set: { teamId, assigneeId } };
}

function priorityStep(action: Extract<EscalationAction, { type: 'priority' }>, now: Working): Step {
  if (action.set === undefined && !action.raise) return { skip: 'neither sets nor raises the priority' };
  const priority = action.set ?? raisePriority(now.priority);
  if (priority === now.priority) {
    return { skip: action.set === undefined ? `already ${priority}, the highest priority` : `already ${priority}` };
  }
  return { set: { priority } };
}

/**
 * What one level's actions do to a ticket. Notifications go to the people who owned the ticket when
 * the level fired (the context), whatever the same level reassigns: they are being told about their
 * breach, and a new assignee learns of the ticket through the assignment itself. Reassignments and
 * priority changes apply in order, so two raises climb two steps; the same agent is notified once.
 */
export function planActions(actions: readonly EscalationAction[], ctx: EscalationContext): EscalationPlan {
  const start: Working = { teamId: ctx.teamId, assigneeId: ctx.assigneeId, priority: ctx.priority };
  let now = start;
  const plan: EscalationPlan = { notifications: [], reassignment: null, priority: null, skipped: [] };
  for (const action of actions) {
    const step =
      action.type === 'notify'
        ? notifyStep(action, ctx)
        : action.type === 'reassign'
          ? reassignStep(action, now)
          : priorityStep(action, now);
    if ('skip' in step) plan.skipped.push({ action, reason: step.skip });
    else if ('set' in step) now = { ...now, ...step.set };
    else if (plan.notifications.some((n) => sameRecipient(n, step.notify))) {
      plan.skipped.push({ action, reason: 'the same recipient is already notified at this level' });
    } else plan.notifications.push(step.notify);
  }
  if (now.teamId !== start.teamId || now.assigneeId !== start.assigneeId) {
    plan.reassignment = {
      ...(now.teamId !== start.teamId && now.teamId !== null ? { teamId: now.teamId } : {}),
      ...(now.assigneeId !== start.assigneeId ? { assigneeId: now.assigneeId } : {}),
    };
  }
  if (now.priority !== start.priority) plan.priority = now.priority;
  return plan;
}

function sameRecipient(a: PlannedNotification, b: PlannedNotification): boolean {
  if (a.channel === 'agent' && b.channel === 'agent') return a.agentId === b.agentId;
  if (a.channel === 'webhook' && b.channel === 'webhook') return a.url === b.url;
  if (a.channel === 'email' && b.channel === 'email') return a.address.toLowerCase() === b.address.toLowerCase();
  return false;
}
