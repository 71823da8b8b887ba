import fc from 'fast-check';
import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import {
  addBusinessSeconds,
  businessSecondsBetween,
  isBusinessTime,
  nextBusinessStart,
  type CalendarDefinition,
} from '../../../src/domain/calendar.js';
import { WEEKDAYS, type Weekday } from '../../../src/domain/calendar.schema.js';

const MINUTE = 60_000;

// Zones with DST at 02:00/03:00 (Warsaw, New York), on a Friday (Jerusalem), at local midnight
// (Santiago), by 30 minutes (Lord Howe), with a 45-minute offset (Chatham), and without DST,
// each with the UTC dates of its 2024-2025 transitions so that starts can cluster around them.
const ZONES: Record<string, string[]> = {
  UTC: [],
  'Asia/Kolkata': [],
  'Europe/Warsaw': ['2024-03-31', '2024-10-27', '2025-03-30', '2025-10-26'],
  'Asia/Jerusalem': ['2024-03-29', '2024-10-27', '2025-03-28', '2025-10-26'],
  'America/New_York': ['2024-03-10', '2024-11-03', '2025-03-09', '2025-11-02'],
  'America/Santiago': ['2024-04-07', '2024-09-08', '2025-04-06', '2025-09-07'],
  'Australia/Lord_Howe': ['2024-04-06', '2024-10-05', '2025-04-05', '2025-10-04'],
  'Pacific/Chatham': ['2024-04-06', '2024-09-28', '2025-04-05', '2025-09-27'],
};
const RANGE_START = Date.UTC(2024, 0, 1);
const RANGE_END = Date.UTC(2026, 0, 1);

const hhmm = (minutes: number) =>
  `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;
const toMinutes = (s: string) => Number(s.slice(0, 2)) * 60 + Number(s.slice(3, 5));

// Sorted distinct cut points paired into windows; boundaries near the DST hours are favoured.
const dayWindows = fc
  .uniqueArray(
    fc.oneof(fc.integer({ min: 0, max: 1440 }), fc.constantFrom(0, 60, 90, 120, 150, 180, 1380, 1440)),
    { maxLength: 6 },
  )
  .chain((cuts) => {
    const sorted = [...cuts].sort((a, b) => a - b);
    const windows = [];
    for (let i = 0; i + 1 < sorted.length; i += 2) {
      windows.push({ start: hhmm(sorted[i]!), end: hhmm(sorted[i + 1]!) });
    }
    return fc.shuffledSubarray(windows, { minLength: windows.length }); // order must not matter
  });

const minuteAlignedStart = (timeZone: string) => {
  const uniform = fc
    .integer({ min: RANGE_START / MINUTE, max: RANGE_END / MINUTE })
    .map((m) => m * MINUTE);
  const transitions = ZONES[timeZone]!.map((d) => Date.parse(`${d}T00:00:00Z`));
  if (transitions.length === 0) return uniform;
  const nearTransition = fc
    .tuple(fc.constantFrom(...transitions), fc.integer({ min: -2 * 1440, max: 1440 }))
    .map(([day, m]) => day + m * MINUTE);
  return fc.oneof(uniform, nearTransition);
};

/** A random calendar plus a start instant; holidays fall near the start so that they matter. */
const calendarAndStart = fc
  .constantFrom(...Object.keys(ZONES))
  .chain((timeZone) =>
    fc.record({
      timeZone: fc.constant(timeZone),
      days: fc.tuple(...WEEKDAYS.map(() => dayWindows)),
      holidayOffsets: fc.uniqueArray(fc.integer({ min: -1, max: 30 }), { maxLength: 6 }),
      start: minuteAlignedStart(timeZone),
    }),
  )
  .filter(({ days }) => days.some((d) => d.length > 0))
  .map(({ timeZone, days, holidayOffsets, start }) => {
    const weeklyHours: Partial<Record<Weekday, { start: string; end: string }[]>> = {};
    WEEKDAYS.forEach((d, i) => {
      if (days[i]!.length > 0) weeklyHours[d] = days[i];
    });
    const startDay = DateTime.fromMillis(start, { zone: timeZone }).startOf('day');
    const holidays = holidayOffsets.map((n) => startDay.plus({ days: n }).toISODate()!);
    const cal: CalendarDefinition = { timeZone, weeklyHours, holidays };
    return { cal, start };
  });

// ---- brute-force reference ----------------------------------------------------------------------

const LUXON_WEEKDAY: Weekday[] = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']; // luxon 1..7

/** Reads each minute's UTC instant as local time in the zone and checks it against the windows. */
function referenceOpenMinutes(cal: CalendarDefinition, start: number, minutes: number): boolean[] {
  const holidays = new Set(cal.holidays);
  const open: boolean[] = [];
  for (let i = 0; i < minutes; i++) {
    const local = DateTime.fromMillis(start + i * MINUTE, { zone: cal.timeZone });
    const windows = cal.weeklyHours[LUXON_WEEKDAY[local.weekday - 1]!] ?? [];
    const m = local.hour * 60 + local.minute;
    const inWindow = windows.some((w) => toMinutes(w.start) <= m && m < toMinutes(w.end));
    open.push(inWindow && !holidays.has(local.toISODate()!));
  }
  return open;
}

/** Weekly open minutes on paper, used to keep round-trip lookahead to a few months. */
const weeklyOpenSeconds = (cal: CalendarDefinition) =>
  WEEKDAYS.flatMap((d) => cal.weeklyHours[d] ?? []).reduce(
    (sum, w) => sum + (toMinutes(w.end) - toMinutes(w.start)) * 60,
    0,
  );

const HORIZON = 4 * 1440; // minutes of brute force per run

describe('business calendar vs a minute-by-minute reference', () => {
  it('agrees on isBusinessTime, nextBusinessStart, businessSecondsBetween and addBusinessSeconds', () => {
    fc.assert(
      fc.property(
        calendarAndStart,
        fc.array(fc.tuple(fc.nat(HORIZON - 1), fc.nat(HORIZON - 1), fc.nat(HORIZON)), {
          minLength: 1,
          maxLength: 12,
        }),
        ({ cal, start }, queries) => {
          const open = referenceOpenMinutes(cal, start, HORIZON);
          const prefix = [0];
          for (const o of open) prefix.push(prefix[prefix.length - 1]! + (o ? 1 : 0));
          const at = (minute: number) => new Date(start + minute * MINUTE);
          const horizonEnd = start + HORIZON * MINUTE;

          for (const [x, y, n] of [[0, HORIZON, prefix[HORIZON]!], ...queries] as const) {
            const [a, b] = x <= y ? [x, y] : [y, x];
            expect(isBusinessTime(cal, at(a))).toBe(open[a]);
            expect(businessSecondsBetween(cal, at(a), at(b))).toBe((prefix[b]! - prefix[a]!) * 60);
            expect(businessSecondsBetween(cal, at(b), at(a))).toBe(0);

            const next = open.indexOf(true, a);
            const nextStart = nextBusinessStart(cal, at(a)).getTime();
            if (next >= 0) expect(nextStart).toBe(at(next).getTime());
            else expect(nextStart).toBeGreaterThanOrEqual(horizonEnd);

            // Due = the earliest minute boundary by which n open minutes have passed since a.
            const dueMinute = (n: number) =>
              n === 0 ? a : prefix.findIndex((p, i) => i > a && p - prefix[a]! === n);
            const due = addBusinessSeconds(cal, at(a), n * 60).getTime();
            if (dueMinute(n) >= 0) expect(due).toBe(at(dueMinute(n)).getTime());
            else expect(due).toBeGreaterThanOrEqual(horizonEnd);
            // A budget that runs out exactly at a closing time is due then, not at the next opening.
            const exact = prefix[b]! - prefix[a]!;
            const exactDue = addBusinessSeconds(cal, at(a), exact * 60);
            expect(exactDue.getTime()).toBe(at(dueMinute(exact)).getTime());
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('business calendar algebra', () => {
  const duration = (cal: CalendarDefinition) =>
    fc.integer({ min: 0, max: Math.min(21 * 1440, weeklyOpenSeconds(cal) / 3) }).map((m) => m * 60);

  it('round-trips: businessSecondsBetween(start, addBusinessSeconds(start, s)) === s', () => {
    fc.assert(
      fc.property(
        calendarAndStart.chain((cs) => fc.tuple(fc.constant(cs), duration(cs.cal))),
        ([{ cal, start }, seconds]) => {
          const due = addBusinessSeconds(cal, new Date(start), seconds);
          expect(due.getTime()).toBeGreaterThanOrEqual(start);
          expect(businessSecondsBetween(cal, new Date(start), due)).toBe(seconds);
          // Earliest such instant: a positive budget always ends inside open time.
          if (seconds > 0) expect(isBusinessTime(cal, new Date(due.getTime() - 1))).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('is monotonic in duration and start, and additive over adjacent ranges', () => {
    fc.assert(
      fc.property(
        calendarAndStart.chain((cs) =>
          fc.tuple(
            fc.constant(cs),
            duration(cs.cal),
            duration(cs.cal),
            fc.nat(14 * 1440),
            fc.nat(14 * 1440),
          ),
        ),
        ([{ cal, start }, s1, s2, d1, d2]) => {
          const [lo, hi] = s1 <= s2 ? [s1, s2] : [s2, s1];
          const t0 = new Date(start);
          const dueLo = addBusinessSeconds(cal, t0, lo).getTime();
          expect(dueLo).toBeLessThanOrEqual(addBusinessSeconds(cal, t0, hi).getTime());

          const t1 = new Date(start + Math.min(d1, d2) * MINUTE);
          const t2 = new Date(start + Math.max(d1, d2) * MINUTE);
          expect(dueLo).toBeLessThanOrEqual(addBusinessSeconds(cal, t1, lo).getTime());
          const ab = businessSecondsBetween(cal, t0, t1);
          const bc = businessSecondsBetween(cal, t1, t2);
          expect(ab + bc).toBe(businessSecondsBetween(cal, t0, t2));
          expect(ab).toBeLessThanOrEqual((t1.getTime() - t0.getTime()) / 1000);
        },
      ),
      { numRuns: 300 },
    );
  });
});
