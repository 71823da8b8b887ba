import { DateTime } from 'luxon';
import { ALWAYS_OPEN, calendarDefinitionSchema } from '../../../../src/domain/calendar.js';
import type { SlaClock, SlaMetric, SlaPolicy, SlaTicket } from '../../../../src/domain/sla/sla.types.js';
import type { TicketStatus } from '../../../../src/domain/ticket-lifecycle.js';

export const MINUTE = 60;
export const HOUR = 3600;
export const DAY = 24 * HOUR;

const nineToFive = [{ start: '09:00', end: '17:00' }];
/** Mon-Fri 09:00-17:00 Warsaw. One object for all tests: calendars are compiled and cached by identity. */
export const OFFICE = calendarDefinitionSchema.parse({
  timeZone: 'Europe/Warsaw',
  weeklyHours: { mon: nineToFive, tue: nineToFive, wed: nineToFive, thu: nineToFive, fri: nineToFive },
});

/** A Warsaw wall-clock time ("2025-06-02T10:00") as an instant. */
export const wa = (iso: string): Date => {
  const dt = DateTime.fromISO(iso, { zone: 'Europe/Warsaw' });
  if (!dt.isValid) throw new Error(`bad test time ${iso}`);
  return dt.toJSDate();
};

/** Monday 2 June 2025, 10:00 in Warsaw (08:00 UTC). */
export const T0 = new Date('2025-06-02T08:00:00Z');
export const after = (sec: number, from: Date = T0): Date => new Date(from.getTime() + sec * 1000);

export const policy = (overrides: Partial<SlaPolicy> = {}): SlaPolicy => ({
  id: 'policy-1',
  name: 'test',
  position: 0,
  match: {},
  calendar: ALWAYS_OPEN,
  targets: { firstResponse: HOUR, resolution: DAY },
  warnAt: 0.75,
  escalation: [],
  ...overrides,
});

export const ticket = (status: TicketStatus = 'open', overrides: Partial<SlaTicket> = {}): SlaTicket => ({
  channel: 'email',
  priority: 'normal',
  teamId: null,
  status,
  ...overrides,
});

export function clockOf(clocks: readonly SlaClock[], metric: SlaMetric): SlaClock {
  const clock = clocks.find((c) => c.metric === metric);
  if (!clock) throw new Error(`no ${metric} clock in [${clocks.map((c) => c.metric).join(', ')}]`);
  return clock;
}
