import { describe, expect, it } from 'vitest';
import { ALWAYS_OPEN, type CalendarDefinition } from '../../../../src/domain/calendar.js';
import { shiftEnded } from '../../../../src/domain/routing/shift.js';

const nineToFive = [{ start: '09:00', end: '17:00' }];
// UTC so the instants below read as the calendar's wall clock. 2026-03-02 is a Monday.
const weekdays: CalendarDefinition = { timeZone: 'UTC', weeklyHours: { mon: nineToFive, tue: nineToFive, wed: nineToFive, thu: nineToFive, fri: nineToFive }, holidays: [] };
const at = (iso: string) => new Date(`2026-03-${iso}Z`);

describe('shiftEnded', () => {
  it('ends the shift of an agent present during working time once the calendar closes', () => {
    expect(shiftEnded(weekdays, at('02T08:30:00'), at('02T16:59:00'))).toBe(false);
    expect(shiftEnded(weekdays, at('02T08:30:00'), at('02T17:00:30'))).toBe(true);
    // Came online during the day, checked the next morning before opening: still over.
    expect(shiftEnded(weekdays, at('02T12:00:00'), at('03T07:00:00'))).toBe(true);
  });

  it('leaves alone an agent who came online after hours until the next working period ends', () => {
    expect(shiftEnded(weekdays, at('02T18:00:00'), at('02T23:00:00'))).toBe(false);
    expect(shiftEnded(weekdays, at('06T18:00:00'), at('08T12:00:00'))).toBe(false); // Friday evening to Sunday
    expect(shiftEnded(weekdays, at('02T18:00:00'), at('03T10:00:00'))).toBe(false); // open again
    expect(shiftEnded(weekdays, at('02T18:00:00'), at('03T17:01:00'))).toBe(true);
  });

  it('never ends a shift on an always-open calendar; a presence with no known start is looked at over the last days', () => {
    expect(shiftEnded(ALWAYS_OPEN, at('02T08:00:00'), at('02T23:00:00'))).toBe(false);
    expect(shiftEnded(weekdays, null, at('02T23:00:00'))).toBe(true);
    expect(shiftEnded(weekdays, new Date('2020-01-01T00:00:00Z'), at('02T23:00:00'))).toBe(true);
  });
});
