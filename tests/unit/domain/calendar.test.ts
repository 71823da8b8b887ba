import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import {
  ALWAYS_OPEN,
  addBusinessSeconds,
  businessSecondsBetween,
  calendarDefinitionSchema,
  isBusinessTime,
  nextBusinessStart,
  type CalendarDefinition,
} from '../../../src/domain/calendar.js';

const HOUR = 3600;
const WARSAW = 'Europe/Warsaw';

/** A local wall-clock time in `zone` as a UTC Date (only for unambiguous local times). */
const local = (zone: string, iso: string): Date => {
  const dt = DateTime.fromISO(iso, { zone });
  if (!dt.isValid) throw new Error(`bad test time ${iso}`);
  return dt.toJSDate();
};
const utc = (iso: string): Date => new Date(iso);
const w = (start: string, end: string) => ({ start, end });
const cal = (input: unknown): CalendarDefinition => calendarDefinitionSchema.parse(input);

const nineToFive = [w('09:00', '17:00')];
const warsawOffice = cal({
  timeZone: WARSAW,
  weeklyHours: { mon: nineToFive, tue: nineToFive, wed: nineToFive, thu: nineToFive, fri: nineToFive },
  holidays: ['2025-05-01', '2025-12-24', '2025-12-25', '2025-12-26'],
});
const wa = (iso: string) => local(WARSAW, iso);

describe('calendarDefinitionSchema', () => {
  const base = { timeZone: WARSAW, weeklyHours: { mon: nineToFive } };
  const messages = (input: unknown) =>
    calendarDefinitionSchema.safeParse(input).error?.issues.map((i) => i.message) ?? [];

  it('accepts several windows a day, 24:00 ends and defaults holidays to none', () => {
    const parsed = cal({ ...base, weeklyHours: { sat: [w('13:00', '24:00'), w('00:00', '12:00')] } });
    expect(parsed.holidays).toEqual([]);
    expect(cal({ ...base, holidays: ['2024-02-29'] }).holidays).toEqual(['2024-02-29']);
  });

  it('names an unknown time zone', () => {
    expect(messages({ ...base, timeZone: 'Mars/Olympus_Mons' })).toEqual([
      'unknown IANA time zone "Mars/Olympus_Mons"',
    ]);
  });

  it('rejects overlapping windows with both windows in the message', () => {
    const tue = (...windows: ReturnType<typeof w>[]) => messages({ ...base, weeklyHours: { tue: windows } });
    expect(tue(w('13:00', '17:00'), w('09:00', '13:30'))).toEqual([
      'windows 09:00-13:30 and 13:00-17:00 overlap',
    ]);
    expect(tue(w('09:00', '13:00'), w('13:00', '17:00'))).toEqual([]);
  });

  it('rejects empty, reversed and malformed windows', () => {
    expect(messages({ ...base, weeklyHours: { mon: [w('17:00', '09:00')] } })[0]).toMatch(/before its end/);
    expect(messages({ ...base, weeklyHours: { mon: [w('09:00', '09:00')] } })[0]).toMatch(/before its end/);
    expect(messages({ ...base, weeklyHours: { mon: [w('24:00', '24:00')] } })).toEqual([
      'start must be "HH:MM" between 00:00 and 23:59',
    ]);
    expect(messages({ ...base, weeklyHours: { mon: [w('09:00', '24:30')] } })).toEqual([
      'end must be "HH:MM" between 00:00 and 24:00',
    ]);
    expect(messages({ ...base, weeklyHours: { mon: [w('9:00', '17:00')] } })).toHaveLength(1);
  });

  it('rejects bad holidays, unknown weekdays and calendars that never open', () => {
    expect(messages({ ...base, holidays: ['2025-02-29'] })).toHaveLength(1);
    expect(messages({ ...base, weeklyHours: { monday: nineToFive } })).toHaveLength(2);
    expect(messages({ ...base, weeklyHours: { mon: [] } })).toEqual([
      'calendar has no business hours: at least one weekday needs a window',
    ]);
  });
});

describe('Mon-Fri 09:00-17:00 in Warsaw', () => {
  it('carries 8 business hours from Friday 15:00 to Monday 15:00', () => {
    expect(addBusinessSeconds(warsawOffice, wa('2025-06-06T15:00'), 8 * HOUR)).toEqual(wa('2025-06-09T15:00'));
    expect(businessSecondsBetween(warsawOffice, wa('2025-06-06T15:00'), wa('2025-06-09T15:00'))).toBe(8 * HOUR);
  });

  it('starts counting at the next opening when started outside hours', () => {
    expect(addBusinessSeconds(warsawOffice, wa('2025-06-07T10:00'), HOUR)).toEqual(wa('2025-06-09T10:00'));
    expect(addBusinessSeconds(warsawOffice, wa('2025-06-09T07:30'), HOUR)).toEqual(wa('2025-06-09T10:00'));
    expect(addBusinessSeconds(warsawOffice, wa('2025-06-09T17:00'), 60)).toEqual(wa('2025-06-10T09:01'));
  });

  it('is due at closing time when the budget runs out exactly then', () => {
    expect(addBusinessSeconds(warsawOffice, wa('2025-06-09T09:00'), 8 * HOUR)).toEqual(wa('2025-06-09T17:00'));
  });

  it('returns start unchanged for a zero duration, open or closed', () => {
    expect(addBusinessSeconds(warsawOffice, wa('2025-06-09T10:00'), 0)).toEqual(wa('2025-06-09T10:00'));
    expect(addBusinessSeconds(warsawOffice, wa('2025-06-07T10:00'), 0)).toEqual(wa('2025-06-07T10:00'));
  });

  it('skips holidays and multi-day closures', () => {
    // 1 May 2025 is a Thursday holiday.
    expect(addBusinessSeconds(warsawOffice, wa('2025-04-30T15:00'), 8 * HOUR)).toEqual(wa('2025-05-02T15:00'));
    expect(businessSecondsBetween(warsawOffice, wa('2025-04-30T00:00'), wa('2025-05-03T00:00'))).toBe(16 * HOUR);
    // Christmas Eve to Boxing Day (Wed-Fri) plus the weekend.
    expect(addBusinessSeconds(warsawOffice, wa('2025-12-23T16:00'), 2 * HOUR)).toEqual(wa('2025-12-29T10:00'));
    expect(isBusinessTime(warsawOffice, wa('2025-12-24T10:00'))).toBe(false);
    expect(nextBusinessStart(warsawOffice, wa('2025-12-23T17:00'))).toEqual(wa('2025-12-29T09:00'));
  });

  it('uses local office hours on both sides of a DST change', () => {
    // Friday 15:00 CET (UTC+1) to Monday 15:00 CEST (UTC+2): 8 business hours, not 7 or 9.
    expect(addBusinessSeconds(warsawOffice, utc('2025-03-28T14:00:00Z'), 8 * HOUR)).toEqual(
      utc('2025-03-31T13:00:00Z'),
    );
  });

  it('treats opening as inclusive and closing as exclusive', () => {
    expect(isBusinessTime(warsawOffice, wa('2025-06-09T09:00'))).toBe(true);
    expect(isBusinessTime(warsawOffice, wa('2025-06-09T16:59:59.999'))).toBe(true);
    expect(isBusinessTime(warsawOffice, wa('2025-06-09T17:00'))).toBe(false);
    expect(nextBusinessStart(warsawOffice, wa('2025-06-09T12:34'))).toEqual(wa('2025-06-09T12:34'));
    expect(nextBusinessStart(warsawOffice, wa('2025-06-06T17:00'))).toEqual(wa('2025-06-09T09:00'));
  });

  it('counts nothing for an empty or reversed range', () => {
    expect(businessSecondsBetween(warsawOffice, wa('2025-06-09T10:00'), wa('2025-06-09T10:00'))).toBe(0);
    expect(businessSecondsBetween(warsawOffice, wa('2025-06-09T12:00'), wa('2025-06-09T10:00'))).toBe(0);
  });
});

describe('DST transitions', () => {
  // Warsaw 2025: 30 March 02:00 CET -> 03:00 CEST; 26 October 03:00 CEST -> 02:00 CET.
  const sundayNight = (zone: string, start: string, end: string) =>
    cal({ timeZone: zone, weeklyHours: { sun: [w(start, end)] } });
  const hoursIn = (c: CalendarDefinition, from: string, to: string) =>
    businessSecondsBetween(c, utc(from), utc(to)) / HOUR;

  it('gives a Warsaw 01:00-04:00 window 2 real hours at spring-forward and 4 at fall-back', () => {
    const c = sundayNight(WARSAW, '01:00', '04:00');
    expect(hoursIn(c, '2025-03-29T12:00:00Z', '2025-03-30T12:00:00Z')).toBe(2);
    expect(hoursIn(c, '2025-10-25T12:00:00Z', '2025-10-26T12:00:00Z')).toBe(4);
    expect(hoursIn(c, '2025-04-05T12:00:00Z', '2025-04-06T12:00:00Z')).toBe(3);
    // 01:00 CET is 00:00Z; an hour later the clock reads 03:00 CEST.
    expect(addBusinessSeconds(c, utc('2025-03-29T12:00:00Z'), 1.5 * HOUR)).toEqual(utc('2025-03-30T01:30:00Z'));
    // 01:00 CEST is 23:00Z on Saturday; three real hours later it is 03:00 CET.
    expect(addBusinessSeconds(c, utc('2025-10-25T12:00:00Z'), 3 * HOUR)).toEqual(utc('2025-10-26T02:00:00Z'));
  });

  it('gives a window of exactly 02:00-03:00 nothing at spring-forward and both repeats at fall-back', () => {
    const c = sundayNight(WARSAW, '02:00', '03:00');
    expect(hoursIn(c, '2025-03-29T12:00:00Z', '2025-03-30T12:00:00Z')).toBe(0);
    expect(hoursIn(c, '2025-10-25T12:00:00Z', '2025-10-26T12:00:00Z')).toBe(2);
    expect(isBusinessTime(c, utc('2025-10-26T00:30:00Z'))).toBe(true); // 02:30 CEST
    expect(isBusinessTime(c, utc('2025-10-26T01:30:00Z'))).toBe(true); // 02:30 CET
    expect(isBusinessTime(c, utc('2025-10-26T02:00:00Z'))).toBe(false); // 03:00 CET
    // The spring-forward Sunday has no 02:xx, so the next opening is a week later.
    expect(nextBusinessStart(c, utc('2025-03-29T12:00:00Z'))).toEqual(utc('2025-04-06T00:00:00Z'));
  });

  it('splits a window that starts inside the repeated hour into the instants whose clock is in it', () => {
    // 02:30-04:00 on fall-back day: 02:30-03:00 CEST, then 02:30-04:00 CET; 02:00-02:30 CET is closed.
    const c = sundayNight(WARSAW, '02:30', '04:00');
    expect(hoursIn(c, '2025-10-25T12:00:00Z', '2025-10-26T12:00:00Z')).toBe(2);
    expect(isBusinessTime(c, utc('2025-10-26T01:15:00Z'))).toBe(false);
    expect(nextBusinessStart(c, utc('2025-10-26T01:00:00Z'))).toEqual(utc('2025-10-26T01:30:00Z'));
    expect(hoursIn(c, '2025-03-29T12:00:00Z', '2025-03-30T12:00:00Z')).toBe(1); // 03:00-04:00 CEST
  });

  it('makes a whole-day calendar 23 and 25 hours long on Warsaw transition days', () => {
    const allDay = [w('00:00', '24:00')];
    const c = cal({ timeZone: WARSAW, weeklyHours: { sat: allDay, sun: allDay } });
    expect(businessSecondsBetween(c, wa('2025-03-30T00:00'), wa('2025-03-31T00:00'))).toBe(23 * HOUR);
    expect(businessSecondsBetween(c, wa('2025-10-26T00:00'), wa('2025-10-27T00:00'))).toBe(25 * HOUR);
    expect(addBusinessSeconds(c, wa('2025-10-25T00:00'), 48 * HOUR)).toEqual(utc('2025-10-26T22:00:00Z'));
  });

  it('gives a New York 01:00-03:00 window 1 hour in March and 3 in November', () => {
    const c = sundayNight('America/New_York', '01:00', '03:00');
    expect(hoursIn(c, '2025-03-09T00:00:00Z', '2025-03-10T00:00:00Z')).toBe(1);
    expect(hoursIn(c, '2025-11-02T00:00:00Z', '2025-11-03T00:00:00Z')).toBe(3);
  });

  it('handles transitions at local midnight (America/Santiago)', () => {
    // 7 Sep 2025: Saturday 24:00 -> Sunday 01:00, so Sunday 00:00-01:00 never happens.
    const lostHour = sundayNight('America/Santiago', '00:00', '01:00');
    expect(hoursIn(lostHour, '2025-09-06T12:00:00Z', '2025-09-08T12:00:00Z')).toBe(0);
    // 6 Apr 2025: Sunday 00:00 -> Saturday 23:00, so Saturday 23:00-24:00 happens twice.
    const c = cal({ timeZone: 'America/Santiago', weeklyHours: { sat: [w('23:00', '24:00')] } });
    expect(hoursIn(c, '2025-04-05T12:00:00Z', '2025-04-06T12:00:00Z')).toBe(2);
  });
});

describe('Sun-Thu 08:00-17:00 in Jerusalem', () => {
  const hours = [w('08:00', '17:00')];
  const c = cal({
    timeZone: 'Asia/Jerusalem',
    weeklyHours: { sun: hours, mon: hours, tue: hours, wed: hours, thu: hours },
  });
  const je = (iso: string) => local('Asia/Jerusalem', iso);

  it('skips the Friday-Saturday weekend', () => {
    expect(addBusinessSeconds(c, je('2025-06-05T15:00'), 4 * HOUR)).toEqual(je('2025-06-08T10:00'));
    expect(isBusinessTime(c, je('2025-06-06T10:00'))).toBe(false);
  });

  it('crosses the Friday spring-forward on local time', () => {
    // Thursday 16:00 IST (UTC+2) + 2h = Sunday 09:00 IDT (UTC+3).
    expect(addBusinessSeconds(c, utc('2025-03-27T14:00:00Z'), 2 * HOUR)).toEqual(utc('2025-03-30T06:00:00Z'));
  });

  it('counts the repeated 01:00 hour of the Sunday fall-back', () => {
    const night = cal({ timeZone: 'Asia/Jerusalem', weeklyHours: { sun: [w('00:00', '03:00')] } });
    const fallBackDay = businessSecondsBetween(night, utc('2025-10-25T12:00:00Z'), utc('2025-10-26T12:00:00Z'));
    expect(fallBackDay).toBe(4 * HOUR);
  });
});

describe('several windows a day', () => {
  const split = [w('09:00', '12:00'), w('13:00', '17:00')];
  const c = cal({ timeZone: WARSAW, weeklyHours: { mon: split, tue: split } });

  it('pauses over the lunch break', () => {
    expect(addBusinessSeconds(c, wa('2025-06-09T11:00'), 2 * HOUR)).toEqual(wa('2025-06-09T14:00'));
    expect(addBusinessSeconds(c, wa('2025-06-09T11:00'), HOUR)).toEqual(wa('2025-06-09T12:00'));
    expect(businessSecondsBetween(c, wa('2025-06-09T00:00'), wa('2025-06-10T00:00'))).toBe(7 * HOUR);
    expect(isBusinessTime(c, wa('2025-06-09T12:30'))).toBe(false);
    expect(nextBusinessStart(c, wa('2025-06-09T12:30'))).toEqual(wa('2025-06-09T13:00'));
  });

  it('accepts windows in any order and touching windows', () => {
    const messy = cal({
      timeZone: WARSAW,
      weeklyHours: { mon: [w('13:00', '17:00'), w('12:00', '13:00'), w('08:00', '10:00')] },
    });
    expect(businessSecondsBetween(messy, wa('2025-06-09T00:00'), wa('2025-06-10T00:00'))).toBe(7 * HOUR);
    expect(addBusinessSeconds(messy, wa('2025-06-09T09:00'), 2 * HOUR)).toEqual(wa('2025-06-09T13:00'));
    expect(isBusinessTime(messy, wa('2025-06-09T11:00'))).toBe(false);
    expect(isBusinessTime(messy, wa('2025-06-09T13:00'))).toBe(true);
  });

  it('runs overnight shifts through midnight as two windows', () => {
    const night = cal({
      timeZone: WARSAW,
      weeklyHours: { fri: [w('22:00', '24:00')], sat: [w('00:00', '06:00')] },
    });
    expect(addBusinessSeconds(night, wa('2025-06-06T23:00'), 3 * HOUR)).toEqual(wa('2025-06-07T02:00'));
    expect(businessSecondsBetween(night, wa('2025-06-06T20:00'), wa('2025-06-07T08:00'))).toBe(8 * HOUR);
    expect(isBusinessTime(night, wa('2025-06-07T00:00'))).toBe(true);
    expect(addBusinessSeconds(night, wa('2025-06-06T22:00'), 8 * HOUR)).toEqual(wa('2025-06-07T06:00'));
    expect(addBusinessSeconds(night, wa('2025-06-06T22:00'), 9 * HOUR)).toEqual(wa('2025-06-13T23:00'));
  });
});

describe('ALWAYS_OPEN', () => {
  const start = utc('2025-03-30T00:30:00Z');

  it('is plain elapsed time', () => {
    expect(addBusinessSeconds(ALWAYS_OPEN, start, 90)).toEqual(utc('2025-03-30T00:31:30Z'));
    expect(businessSecondsBetween(ALWAYS_OPEN, start, utc('2025-03-31T00:30:00Z'))).toBe(24 * HOUR);
    expect(businessSecondsBetween(ALWAYS_OPEN, start, utc('2025-03-29T00:30:00Z'))).toBe(0);
    expect(isBusinessTime(ALWAYS_OPEN, start)).toBe(true);
    expect(nextBusinessStart(ALWAYS_OPEN, start)).toEqual(start);
  });
});

describe('degenerate calendars and inputs', () => {
  // Bypasses the schema on purpose: the functions must not loop on a never-open calendar.
  const never: CalendarDefinition = { timeZone: WARSAW, weeklyHours: { mon: [] }, holidays: [] };

  it('throws instead of looping for a calendar with no windows', () => {
    const t = wa('2025-06-09T10:00');
    expect(() => addBusinessSeconds(never, t, HOUR)).toThrow(/no business hours/);
    expect(() => addBusinessSeconds(never, t, 0)).toThrow(/no business hours/);
    expect(() => nextBusinessStart(never, t)).toThrow(/no business hours/);
    expect(() => isBusinessTime(never, t)).toThrow(/no business hours/);
    expect(() => businessSecondsBetween(never, t, wa('2025-06-10T10:00'))).toThrow(/no business hours/);
  });

  it('finishes quickly with one hour a week behind three years of holidays', () => {
    const holidays = Array.from({ length: 3 * 366 }, (_, i) =>
      DateTime.fromISO('2025-01-01').plus({ days: i }).toISODate(),
    );
    const sparse = cal({ timeZone: 'America/New_York', weeklyHours: { wed: [w('10:00', '11:00')] }, holidays });
    const began = performance.now();
    const due = addBusinessSeconds(sparse, utc('2025-01-01T00:00:00Z'), 2 * HOUR);
    expect(due).toEqual(local('America/New_York', '2028-01-12T11:00'));
    expect(businessSecondsBetween(sparse, utc('2025-01-01T00:00:00Z'), due)).toBe(2 * HOUR);
    expect(performance.now() - began).toBeLessThan(2_000); // generous: CI machines are busy
  });

  it('rejects negative or non-finite durations and invalid dates', () => {
    expect(() => addBusinessSeconds(warsawOffice, wa('2025-06-09T10:00'), -1)).toThrow(RangeError);
    expect(() => addBusinessSeconds(ALWAYS_OPEN, wa('2025-06-09T10:00'), Number.NaN)).toThrow(RangeError);
    expect(() => isBusinessTime(warsawOffice, new Date('nope'))).toThrow(RangeError);
  });
});
