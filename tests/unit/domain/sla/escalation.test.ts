import { describe, expect, it } from 'vitest';
import { escalationSchedule, planActions, type EscalationContext } from '../../../../src/domain/sla/escalation.js';
import type { EscalationAction } from '../../../../src/domain/sla/sla.types.js';
import { HOUR, MINUTE, T0, after, policy } from './sla-fixtures.js';

const ASSIGNEE = '00000000-0000-4000-8000-00000000000a';
const LEAD = '00000000-0000-4000-8000-00000000000b';
const TEAM = '00000000-0000-4000-8000-0000000000f1';
const OTHER_TEAM = '00000000-0000-4000-8000-0000000000f2';
const OTHER_AGENT = '00000000-0000-4000-8000-00000000000c';

const ctx = (overrides: Partial<EscalationContext> = {}): EscalationContext => ({
  assigneeId: ASSIGNEE,
  teamId: TEAM,
  teamLeadId: LEAD,
  priority: 'normal',
  ...overrides,
});

const notifyAssignee: EscalationAction = { type: 'notify', target: { kind: 'assignee' } };
const notifyLead: EscalationAction = { type: 'notify', target: { kind: 'team_lead' } };
const raise: EscalationAction = { type: 'priority', raise: true };

describe('escalationSchedule', () => {
  it('numbers levels from 1 in afterSec order, at wall-clock offsets from the breach', () => {
    const p = policy({
      escalation: [
        { afterSec: 2 * HOUR, actions: [{ type: 'reassign', teamId: OTHER_TEAM }] },
        { afterSec: 0, actions: [notifyAssignee, notifyLead] },
        { afterSec: 30 * MINUTE, actions: [raise, notifyLead] },
      ],
    });
    expect(escalationSchedule(p, T0)).toEqual([
      { level: 1, dueAt: T0, actions: [notifyAssignee, notifyLead] },
      { level: 2, dueAt: after(30 * MINUTE), actions: [raise, notifyLead] },
      { level: 3, dueAt: after(2 * HOUR), actions: [{ type: 'reassign', teamId: OTHER_TEAM }] },
    ]);
  });

  it('is empty for a policy without escalation', () => {
    expect(escalationSchedule(policy(), T0)).toEqual([]);
  });
});

describe('planActions', () => {
  it('resolves notifications to the assignee and the team lead', () => {
    expect(planActions([notifyAssignee, notifyLead], ctx())).toEqual({
      notifications: [
        { channel: 'agent', agentId: ASSIGNEE, role: 'assignee' },
        { channel: 'agent', agentId: LEAD, role: 'team_lead' },
      ],
      reassignment: null,
      priority: null,
      skipped: [],
    });
  });

  it('passes webhooks and e-mail addresses through', () => {
    const plan = planActions(
      [
        { type: 'notify', target: { kind: 'webhook', url: 'https://hooks.example.com/sla' } },
        { type: 'notify', target: { kind: 'email', address: 'duty@example.com' } },
      ],
      ctx(),
    );
    expect(plan.notifications).toEqual([
      { channel: 'webhook', url: 'https://hooks.example.com/sla' },
      { channel: 'email', address: 'duty@example.com' },
    ]);
  });

  it('skips notifying an assignee or team lead the ticket does not have, saying why', () => {
    const plan = planActions([notifyAssignee, notifyLead], ctx({ assigneeId: null, teamId: null, teamLeadId: null }));
    expect(plan.notifications).toEqual([]);
    expect(plan.skipped).toEqual([
      { action: notifyAssignee, reason: 'the ticket has no assignee' },
      { action: notifyLead, reason: 'the ticket has no team, so no team lead' },
    ]);
    expect(planActions([notifyLead], ctx({ teamLeadId: null })).skipped[0]?.reason).toBe("the ticket's team has no lead");
  });

  it('notifies an agent who is both assignee and team lead once', () => {
    const plan = planActions([notifyAssignee, notifyLead], ctx({ assigneeId: LEAD }));
    expect(plan.notifications).toEqual([{ channel: 'agent', agentId: LEAD, role: 'assignee' }]);
    expect(plan.skipped).toEqual([{ action: notifyLead, reason: 'the same recipient is already notified at this level' }]);
  });

  it('raises the priority one step, and skips the raise when already urgent', () => {
    expect(planActions([raise], ctx()).priority).toBe('high');
    expect(planActions([raise, raise], ctx()).priority).toBe('urgent');
    const urgent = planActions([raise, notifyLead], ctx({ priority: 'urgent' }));
    expect(urgent.priority).toBeNull();
    expect(urgent.skipped).toEqual([{ action: raise, reason: 'already urgent, the highest priority' }]);
    expect(urgent.notifications).toHaveLength(1);
  });

  it('sets a priority, and skips setting the one the ticket already has', () => {
    expect(planActions([{ type: 'priority', set: 'urgent' }], ctx()).priority).toBe('urgent');
    const same = planActions([{ type: 'priority', set: 'normal' }], ctx());
    expect(same.priority).toBeNull();
    expect(same.skipped[0]?.reason).toBe('already normal');
  });

  it('moves the ticket to another team, unassigning it unless an agent is named', () => {
    expect(planActions([{ type: 'reassign', teamId: OTHER_TEAM }], ctx()).reassignment).toEqual({
      teamId: OTHER_TEAM,
      assigneeId: null,
    });
    expect(planActions([{ type: 'reassign', teamId: OTHER_TEAM, agentId: OTHER_AGENT }], ctx()).reassignment).toEqual({
      teamId: OTHER_TEAM,
      assigneeId: OTHER_AGENT,
    });
    expect(planActions([{ type: 'reassign', agentId: OTHER_AGENT }], ctx()).reassignment).toEqual({
      assigneeId: OTHER_AGENT,
    });
    expect(planActions([{ type: 'reassign', teamId: OTHER_TEAM }], ctx({ assigneeId: null })).reassignment).toEqual({
      teamId: OTHER_TEAM,
    });
  });

  it('skips a reassignment that changes nothing', () => {
    const same: EscalationAction = { type: 'reassign', teamId: TEAM, agentId: ASSIGNEE };
    const plan = planActions([same], ctx());
    expect(plan.reassignment).toBeNull();
    expect(plan.skipped).toEqual([{ action: same, reason: 'the ticket is already with that team and agent' }]);
    expect(planActions([{ type: 'reassign' }], ctx()).skipped[0]?.reason).toBe('names no team and no agent');
  });

  it('notifies the owners at the time the level fired, even when the same level reassigns', () => {
    const plan = planActions([{ type: 'reassign', agentId: OTHER_AGENT }, notifyAssignee], ctx());
    expect(plan.notifications).toEqual([{ channel: 'agent', agentId: ASSIGNEE, role: 'assignee' }]);
    expect(plan.reassignment).toEqual({ assigneeId: OTHER_AGENT });
  });
});
