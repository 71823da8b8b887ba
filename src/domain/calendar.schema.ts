import { IANAZone } from 'luxon';
import { z } from 'zod';

/**
 * A business-hours calendar as an SLA policy stores it. SLA clocks only run while the calendar
 * is open, so every field here changes when a ticket breaches.
 *
 * All times are local wall-clock times in `timeZone`. A minute counts as business time when the
 * local clock reads a time inside one of that local weekday's windows and the local date is not
 * a holiday. Windows never cross midnight: an overnight shift is written as two windows, e.g.
 * `fri: [{ start: '22:00', end: '24:00' }]` plus `sat: [{ start: '00:00', end: '06:00' }]`.
 */

export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

const START_RE = /^(?:[01]\d|2[0-3]):[0-5]\d$/;
// 24:00 lets a window run to the end of the local day without a one-minute hole at 23:59.
const END_RE = /^(?:(?:[01]\d|2[0-3]):[0-5]\d|24:00)$/;

const digit = (s: string, i: number): number => {
  const d = s.charCodeAt(i) - 48;
  return d >= 0 && d <= 9 ? d : NaN;
};

/** Minutes since local midnight for "HH:MM"; NaN when malformed. Hand-rolled: compile is hot. */
export function clockToMinutes(hhmm: string): number {
  if (hhmm.length !== 5 || hhmm[2] !== ':') return NaN;
  return (digit(hhmm, 0) * 10 + digit(hhmm, 1)) * 60 + digit(hhmm, 3) * 10 + digit(hhmm, 4);
}

export const windowSchema = z
  .strictObject({
    start: z.string().regex(START_RE, 'start must be "HH:MM" between 00:00 and 23:59'),
    end: z.string().regex(END_RE, 'end must be "HH:MM" between 00:00 and 24:00'),
  })
  .refine(
    // Malformed times already have their own issue; comparing them would only add noise.
    (w) => !START_RE.test(w.start) || !END_RE.test(w.end) || clockToMinutes(w.start) < clockToMinutes(w.end),
    { message: 'window start must be before its end (split overnight shifts at midnight)' },
  );
export type BusinessWindow = z.infer<typeof windowSchema>;

// Overlapping windows would count the shared minutes twice in the SLA arithmetic, and they are
// almost always a typo, so they are rejected rather than silently merged.
const dayWindowsSchema = z.array(windowSchema).superRefine((windows, ctx) => {
  const sorted = [...windows].sort((a, b) => clockToMinutes(a.start) - clockToMinutes(b.start));
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!;
    const cur = sorted[i]!;
    if (clockToMinutes(cur.start) < clockToMinutes(prev.end)) {
      ctx.addIssue({
        code: 'custom',
        message: `windows ${prev.start}-${prev.end} and ${cur.start}-${cur.end} overlap`,
      });
    }
  }
});

const weeklyHoursSchema = z.strictObject({
  mon: dayWindowsSchema.optional(),
  tue: dayWindowsSchema.optional(),
  wed: dayWindowsSchema.optional(),
  thu: dayWindowsSchema.optional(),
  fri: dayWindowsSchema.optional(),
  sat: dayWindowsSchema.optional(),
  sun: dayWindowsSchema.optional(),
});
export type WeeklyHours = z.infer<typeof weeklyHoursSchema>;

export const calendarDefinitionSchema = z
  .strictObject({
    timeZone: z.string().refine((zone) => IANAZone.isValidZone(zone), {
      error: (issue) => `unknown IANA time zone "${String(issue.input)}"`,
    }),
    weeklyHours: weeklyHoursSchema,
    /** Local dates ("YYYY-MM-DD") that are closed all day. */
    holidays: z.array(z.iso.date('holidays must be ISO dates "YYYY-MM-DD"')).default(() => []),
  })
  // A calendar that is never open would leave every SLA timer running forever.
  .refine((cal) => WEEKDAYS.some((d) => (cal.weeklyHours[d]?.length ?? 0) > 0), {
    message: 'calendar has no business hours: at least one weekday needs a window',
    path: ['weeklyHours'],
  });
export type CalendarDefinition = z.infer<typeof calendarDefinitionSchema>;
