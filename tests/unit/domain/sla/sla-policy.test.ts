import { describe, expect, it } from 'vitest';
import { CHANNELS } from '../../../../src/channels/channel.types.js';
import { ALWAYS_OPEN, calendarDefinitionSchema } from '../../../../src/domain/calendar.js';
import { startClocks } from '../../../../src/domain/sla/sla-clocks.js';
import {
  DEFAULT_BUSINESS_CALENDAR,
  DEFAULT_POLICIES,
  defaultPolicyInput,
  matchPolicy,
  slaPolicyInputSchema,
} from '../../../../src/domain/sla/sla-policy.js';
import type { SlaPolicy } from '../../../../src/domain/sla/sla.types.js';
import { PRIORITIES } from '../../../../src/domain/ticket-lifecycle.js';
import { DAY, HOUR, clockOf, policy, ticket, wa } from './sla-fixtures.js';

const TEAM = '00000000-0000-4000-8000-0000000000f1';
const CALENDAR_ID = '00000000-0000-4000-8000-0000000000ca';

describe('matchPolicy', () => {
  const p = (id: string, position: number, match: SlaPolicy['match']) => policy({ id, position, match });

  it('returns the first policy by position whose every criterion fits', () => {
    const policies = [
      p('catch-all', 100, {}),
      p('urgent-social', 10, { channels: ['facebook', 'twitter'], priorities: ['urgent'] }),
      p('email', 20, { channels: ['email'] }),
      p('team-email', 15, { channels: ['email'], teamIds: [TEAM] }),
    ];
    const id = (t: Parameters<typeof matchPolicy>[1]) => matchPolicy(policies, t)?.id;
    expect(id(ticket('open', { channel: 'twitter', priority: 'urgent' }))).toBe('urgent-social');
    expect(id(ticket('open', { channel: 'twitter', priority: 'high' }))).toBe('catch-all');
    expect(id(ticket('open', { channel: 'email', teamId: TEAM }))).toBe('team-email');
    expect(id(ticket('open', { channel: 'email', teamId: null }))).toBe('email');
    expect(id(ticket('open', { channel: 'phone' }))).toBe('catch-all');
  });

  it('treats empty criteria as matching everything, and returns null when nothing fits', () => {
    const policies = [p('empty', 1, { channels: [], priorities: [], teamIds: [] })];
    expect(matchPolicy(policies, ticket('open', { channel: 'phone', teamId: TEAM }))?.id).toBe('empty');
    expect(matchPolicy([p('email', 1, { channels: ['email'] })], ticket('open', { channel: 'phone' }))).toBeNull();
    expect(matchPolicy([], ticket())).toBeNull();
  });

  it('does not reorder the caller\'s array', () => {
    const policies = [p('b', 2, {}), p('a', 1, {})];
    expect(matchPolicy(policies, ticket())?.id).toBe('a');
    expect(policies.map((x) => x.id)).toEqual(['b', 'a']);
  });
});

describe('slaPolicyInputSchema', () => {
  const valid = {
    name: 'E-mail',
    position: 0,
    match: { channels: ['email'], priorities: ['high'], teamIds: [TEAM] },
    calendarId: CALENDAR_ID,
    targets: { firstResponse: 8 * HOUR },
    escalation: [
      {
        afterSec: 0,
        actions: [
          { type: 'notify', target: { kind: 'assignee' } },
          { type: 'notify', target: { kind: 'webhook', url: 'https://example.com/hook' } },
          { type: 'notify', target: { kind: 'email', address: 'lead@example.com' } },
        ],
      },
      { afterSec: 1800, actions: [{ type: 'priority', raise: true }, { type: 'reassign', teamId: TEAM }] },
      { afterSec: 3600, actions: [{ type: 'priority', set: 'urgent' }] },
    ],
  };
  const issues = (patch: Record<string, unknown>) =>
    slaPolicyInputSchema.safeParse({ ...valid, ...patch }).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`) ??
    [];

  it('accepts a full policy and defaults warnAt, escalation and the calendar', () => {
    expect(slaPolicyInputSchema.parse(valid)).toMatchObject({ warnAt: 0.75, calendarId: CALENDAR_ID });
    const minimal = slaPolicyInputSchema.parse({ name: 'x', position: 3, match: {}, targets: { resolution: 60 } });
    expect(minimal).toEqual({ name: 'x', position: 3, match: {}, targets: { resolution: 60 }, warnAt: 0.75, escalation: [] });
    expect(issues({ calendarId: null })).toEqual([]);
  });

  it('needs at least one positive whole-second target', () => {
    expect(issues({ targets: {} })).toEqual(['targets: a policy needs at least one target']);
    expect(issues({ targets: { resolution: 0 } })).toHaveLength(1);
    expect(issues({ targets: { resolution: 1.5 } })).toHaveLength(1);
    expect(issues({ targets: { resolution: 60, breakfast: 60 } })).toHaveLength(1);
  });

  it('keeps warnAt strictly between 0 and 1 and position a non-negative integer', () => {
    expect(issues({ warnAt: 0 })).toHaveLength(1);
    expect(issues({ warnAt: 1 })).toHaveLength(1);
    expect(issues({ warnAt: 0.5 })).toEqual([]);
    expect(issues({ position: -1 })).toHaveLength(1);
    expect(issues({ position: 1.5 })).toHaveLength(1);
  });

  it('checks match criteria: known channels and priorities, uuid team ids', () => {
    expect(issues({ match: { channels: ['fax'] } })).toHaveLength(1);
    expect(issues({ match: { priorities: ['critical'] } })).toHaveLength(1);
    expect(issues({ match: { teamIds: ['team-1'] } })).toHaveLength(1);
    expect(issues({ calendarId: 'business-hours' })).toHaveLength(1);
  });

  it('wants escalation levels in strictly increasing afterSec order, at most 10, each with actions', () => {
    const level = (afterSec: number) => ({ afterSec, actions: [{ type: 'notify', target: { kind: 'team_lead' } }] });
    expect(issues({ escalation: [level(60), level(60)] })).toEqual([
      'escalation: escalation levels must be in strictly increasing afterSec order',
    ]);
    expect(issues({ escalation: [level(60), level(0)] })).toHaveLength(1);
    expect(issues({ escalation: Array.from({ length: 10 }, (_, i) => level(i)) })).toEqual([]);
    expect(issues({ escalation: Array.from({ length: 11 }, (_, i) => level(i)) })).toHaveLength(1);
    expect(issues({ escalation: [{ afterSec: 0, actions: [] }] })).toHaveLength(1);
    expect(issues({ escalation: [{ afterSec: -1, actions: level(0).actions }] })).toHaveLength(1);
  });

  it('checks each action', () => {
    const action = (a: unknown) => issues({ escalation: [{ afterSec: 0, actions: [a] }] });
    expect(action({ type: 'notify', target: { kind: 'webhook', url: 'ftp://example.com/x' } })).toHaveLength(1);
    expect(action({ type: 'notify', target: { kind: 'email', address: 'not-an-address' } })).toHaveLength(1);
    expect(action({ type: 'notify', target: { kind: 'everyone' } })).toHaveLength(1);
    expect(action({ type: 'reassign' })).toEqual([
      'escalation.0.actions.0: a reassign action needs a teamId, an agentId or both',
    ]);
    expect(action({ type: 'priority' })).toEqual([
      'escalation.0.actions.0: a priority action needs exactly one of "set" and "raise"',
    ]);
    expect(action({ type: 'priority', set: 'high', raise: true })).toHaveLength(1);
    expect(action({ type: 'priority', raise: false })).toHaveLength(1);
    expect(action({ type: 'delete_ticket' })).toHaveLength(1);
  });
});

describe('DEFAULT_POLICIES', () => {
  const inputs = DEFAULT_POLICIES.map((p) => defaultPolicyInput(p, { 'business-hours': CALENDAR_ID }));
  const calendar = calendarDefinitionSchema.parse(DEFAULT_BUSINESS_CALENDAR.definition);
  const policies: SlaPolicy[] = inputs.map((input, i) => {
    const parsed = slaPolicyInputSchema.parse(input);
    return { ...parsed, id: `default-${i}`, calendar: parsed.calendarId ? calendar : ALWAYS_OPEN };
  });

  it('are valid API input once the business calendar exists', () => {
    expect(policies).toHaveLength(12);
    expect(() => defaultPolicyInput(DEFAULT_POLICIES.find((p) => p.calendarName)!, {})).toThrow(/business-hours/);
    expect(DEFAULT_BUSINESS_CALENDAR.name).toBe('business-hours');
    expect(calendar).toEqual(DEFAULT_BUSINESS_CALENDAR.definition);
  });

  it('cover every channel and priority with exactly one policy', () => {
    for (const channel of CHANNELS) {
      for (const priority of PRIORITIES) {
        const fitting = policies.filter((p) => matchPolicy([p], ticket('open', { channel, priority })) !== null);
        expect({ channel, priority, count: fitting.length }).toEqual({ channel, priority, count: 1 });
      }
    }
  });

  it('ship the agreed targets', () => {
    const targetsOf = (channel: (typeof CHANNELS)[number], priority: (typeof PRIORITIES)[number]) => {
      const p = matchPolicy(policies, ticket('open', { channel, priority }))!;
      return { ...p.targets, calendar: p.calendar === ALWAYS_OPEN ? '24/7' : 'business' };
    };
    const social = { firstResponse: HOUR, nextResponse: HOUR, calendar: '24/7' };
    expect(targetsOf('facebook', 'urgent')).toEqual({ ...social, resolution: 4 * HOUR });
    expect(targetsOf('twitter', 'low')).toEqual({ ...social, resolution: 5 * DAY });
    expect(targetsOf('phone', 'high')).toEqual({ firstResponse: HOUR, resolution: DAY, calendar: '24/7' });
    // E-mail days are business days of 8 hours.
    const email = { firstResponse: 8 * HOUR, calendar: 'business' };
    expect(targetsOf('email', 'normal')).toEqual({ ...email, resolution: 24 * HOUR });
    expect(targetsOf('email', 'urgent')).toEqual({ ...email, resolution: 4 * HOUR });
    expect(policies.every((p) => p.targets.periodicUpdate === undefined && p.warnAt === 0.75)).toBe(true);
  });

  it('escalate in two levels: notify at once, then raise the priority after 30 minutes', () => {
    const notify = (kind: 'assignee' | 'team_lead') => ({ type: 'notify', target: { kind } });
    for (const p of policies) {
      expect(p.escalation).toEqual([
        { afterSec: 0, actions: [notify('assignee'), notify('team_lead')] },
        { afterSec: 1800, actions: [{ type: 'priority', raise: true }, notify('team_lead')] },
      ]);
    }
    // Each policy has its own copy, so editing one install's policy cannot change another.
    expect(DEFAULT_POLICIES[0]!.escalation).not.toBe(DEFAULT_POLICIES[1]!.escalation);
  });

  it('put a Friday afternoon e-mail\'s first response on Monday', () => {
    const email = matchPolicy(policies, ticket('new', { channel: 'email' }))!;
    const clocks = startClocks(email, wa('2025-06-06T16:00'));
    expect(clockOf(clocks, 'first_response').dueAt).toEqual(wa('2025-06-09T16:00'));
    // Normal: 3 business days from Friday 16:00 = Wednesday 16:00.
    expect(clockOf(clocks, 'resolution').dueAt).toEqual(wa('2025-06-11T16:00'));
  });
});
