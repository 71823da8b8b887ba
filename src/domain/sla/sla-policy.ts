import { z } from 'zod';
import { CHANNELS, type Channel } from '../../channels/channel.types.js';
import type { CalendarDefinition } from '../calendar.js';
import { PRIORITIES, type Priority } from '../ticket-lifecycle.js';
import type { SlaPolicy, SlaTicket } from './sla.types.js';

// ---- matching ----------------------------------------------------------------------------------

/** An absent or empty criterion places no restriction. */
function fits<T>(allowed: readonly T[] | undefined, value: T): boolean {
  return !allowed || allowed.length === 0 || allowed.includes(value);
}

/** A ticket's row as the SLA engine sees it (the row holds text where the domain has unions). */
export function slaTicketOf(row: { channel: string; priority: string; teamId?: string | null | undefined; status: string }): SlaTicket {
  return { channel: row.channel as SlaTicket['channel'], priority: row.priority as SlaTicket['priority'], teamId: row.teamId ?? null, status: row.status as SlaTicket['status'] };
}

/**
 * The policy that applies to a ticket: the first by position whose every criterion contains the
 * ticket's value. A ticket without a team only fits policies that do not restrict teams.
 */
export function matchPolicy(policies: SlaPolicy[], ticket: SlaTicket): SlaPolicy | null {
  const ordered = [...policies].sort((a, b) => a.position - b.position);
  return (
    ordered.find(
      ({ match }) =>
        fits(match.channels, ticket.channel) &&
        fits(match.priorities, ticket.priority) &&
        (!match.teamIds?.length || (ticket.teamId !== null && match.teamIds.includes(ticket.teamId))),
    ) ?? null
  );
}

// ---- API input ---------------------------------------------------------------------------------

const MAX_ESCALATION_LEVELS = 10;

const seconds = z.number().int().positive();

const notifyTarget = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('assignee') }),
  z.strictObject({ kind: z.literal('team_lead') }),
  // Whether the URL may be called (https, no internal address) is the SSRF guard's decision,
  // made with the install's settings: src/shared/outbound-url.ts.
  z.strictObject({ kind: z.literal('webhook'), url: z.url({ protocol: /^https?$/, error: 'an http(s) URL' }).max(2048) }),
  z.strictObject({ kind: z.literal('email'), address: z.email().max(320) }),
]);

const escalationAction = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('notify'), target: notifyTarget }),
  z
    .strictObject({ type: z.literal('reassign'), teamId: z.uuid().optional(), agentId: z.uuid().optional() })
    .refine((a) => a.teamId !== undefined || a.agentId !== undefined, {
      message: 'a reassign action needs a teamId, an agentId or both',
    }),
  z
    // `raise: false` would be an action that does nothing, so raise is either true or absent.
    .strictObject({
      type: z.literal('priority'),
      set: z.enum(PRIORITIES).optional(),
      raise: z.literal(true).optional(),
    })
    .refine((a) => (a.set !== undefined) !== (a.raise !== undefined), {
      message: 'a priority action needs exactly one of "set" and "raise"',
    }),
]);

const escalationLevel = z.strictObject({
  afterSec: z.number().int().nonnegative(),
  actions: z.array(escalationAction).min(1).max(20),
});

export const slaPolicyInputSchema = z.strictObject({
  name: z.string().trim().min(1).max(200),
  position: z.number().int().nonnegative(),
  match: z.strictObject({
    channels: z.array(z.enum(CHANNELS)).optional(),
    priorities: z.array(z.enum(PRIORITIES)).optional(),
    teamIds: z.array(z.uuid()).optional(),
  }),
  /** null or absent: 24/7. */
  calendarId: z.uuid().nullable().optional(),
  targets: z
    .strictObject({
      firstResponse: seconds.optional(),
      nextResponse: seconds.optional(),
      resolution: seconds.optional(),
      periodicUpdate: seconds.optional(),
    })
    .refine((t) => Object.values(t).some((v) => v !== undefined), {
      message: 'a policy needs at least one target',
    }),
  // Stored as a Postgres real: a fraction like 7e-323 underflows it (a 500), and one within
  // 1e-7 of 1 rounds to 1. Percent steps are all a warning needs.
  warnAt: z.number().min(0.01).max(0.99).default(0.75),
  escalation: z
    .array(escalationLevel)
    .max(MAX_ESCALATION_LEVELS)
    .default(() => [])
    .refine((levels) => levels.every((l, i) => i === 0 || l.afterSec > levels[i - 1]!.afterSec), {
      message: 'escalation levels must be in strictly increasing afterSec order',
    }),
});
export type SlaPolicyInput = z.input<typeof slaPolicyInputSchema>;
export type SlaPolicyData = z.output<typeof slaPolicyInputSchema>;

// ---- shipped defaults --------------------------------------------------------------------------

const HOUR = 3600;
const nineToFive = [{ start: '09:00', end: '17:00' }];

/**
 * The business-hours calendar the default e-mail policies use: Mon-Fri 09:00-17:00, Warsaw time,
 * no holidays. A placeholder: every install should set its own zone, hours and public holidays.
 */
export const DEFAULT_BUSINESS_CALENDAR: { name: 'business-hours'; definition: CalendarDefinition } = {
  name: 'business-hours',
  definition: {
    timeZone: 'Europe/Warsaw',
    weeklyHours: { mon: nineToFive, tue: nineToFive, wed: nineToFive, thu: nineToFive, fri: nineToFive },
    holidays: [],
  },
};

/** A default policy refers to its calendar by name (ids exist only once the install has created it). */
export type DefaultSlaPolicy = Omit<SlaPolicyInput, 'calendarId'> & { calendarName: 'business-hours' | null };

/** Level 1 tells the owners at once; level 2, half an hour on, raises the priority and tells the lead again. */
const defaultEscalation = (): NonNullable<SlaPolicyInput['escalation']> => [
  {
    afterSec: 0,
    actions: [
      { type: 'notify', target: { kind: 'assignee' } },
      { type: 'notify', target: { kind: 'team_lead' } },
    ],
  },
  {
    afterSec: 30 * 60,
    actions: [
      { type: 'priority', raise: true },
      { type: 'notify', target: { kind: 'team_lead' } },
    ],
  },
];

interface ChannelGroup {
  name: string;
  channels: Channel[];
  calendarName: 'business-hours' | null;
  /** Business seconds in one "day" of resolution time on this group's calendar. */
  daySec: number;
  targets: { firstResponse?: number; nextResponse?: number };
}

const CHANNEL_GROUPS: ChannelGroup[] = [
  {
    // Public social posts are seen by everyone: answered within the hour, around the clock.
    name: 'Social',
    channels: ['facebook', 'twitter'],
    calendarName: null,
    daySec: 24 * HOUR,
    targets: { firstResponse: HOUR, nextResponse: HOUR },
  },
  {
    // The first response to a call is the callback: within the hour, around the clock.
    name: 'Phone',
    channels: ['phone'],
    calendarName: null,
    daySec: 24 * HOUR,
    targets: { firstResponse: HOUR },
  },
  {
    // E-mail runs on office hours: 8 business hours is one business day.
    name: 'E-mail',
    channels: ['email'],
    calendarName: 'business-hours',
    daySec: 8 * HOUR,
    targets: { firstResponse: 8 * HOUR },
  },
];

/** Resolution time per priority, in "days" of the group's calendar (urgent: 4 hours). */
const RESOLUTION: Record<Priority, (daySec: number) => number> = {
  urgent: () => 4 * HOUR,
  high: (day) => day,
  normal: (day) => 3 * day,
  low: (day) => 5 * day,
};

/**
 * The policies a new install gets. A policy has one resolution target, so the per-priority
 * resolution times are shipped as one policy per (channel group, priority): 3 groups x 4
 * priorities, each matching exactly one cell, so their order does not matter.
 */
export const DEFAULT_POLICIES: readonly DefaultSlaPolicy[] = CHANNEL_GROUPS.flatMap((group, g) =>
  [...PRIORITIES].reverse().map(
    (priority, p): DefaultSlaPolicy => ({
      name: `${group.name} - ${priority}`,
      position: (g * PRIORITIES.length + p) * 10,
      match: { channels: group.channels, priorities: [priority] },
      calendarName: group.calendarName,
      targets: { ...group.targets, resolution: RESOLUTION[priority](group.daySec) },
      warnAt: 0.75,
      escalation: defaultEscalation(),
    }),
  ),
);

/** A default policy as API input, once the install knows its calendars' ids by name. */
export function defaultPolicyInput(policy: DefaultSlaPolicy, calendarIds: Record<string, string>): SlaPolicyInput {
  const { calendarName, ...rest } = policy;
  if (calendarName === null) return { ...rest, calendarId: null };
  const calendarId = calendarIds[calendarName];
  if (calendarId === undefined) {
    throw new Error(`default SLA policy "${policy.name}" needs the calendar "${calendarName}"`);
  }
  return { ...rest, calendarId };
}
