import { IANAZone } from 'luxon';
import { clockToMinutes, WEEKDAYS, type BusinessWindow, type CalendarDefinition } from './calendar.schema.js';

export { calendarDefinitionSchema, type CalendarDefinition } from './calendar.schema.js';

/**
 * Business-time arithmetic for SLA clocks. Every instant is a UTC `Date`; the calendar's time
 * zone only decides which real instants are "open".
 *
 * Semantics (the property tests check them against a minute-by-minute reference): an instant is
 * business time iff its local wall-clock time, read in the calendar's zone, falls inside one of
 * that local weekday's windows and its local date is not a holiday. Durations are real elapsed
 * time, so across DST a window covers exactly the instants whose local time is in it: 01:00-03:00
 * in Warsaw is 1 real hour on spring-forward day (02:00-03:00 never happens) and 3 real hours on
 * fall-back day (02:00-03:00 happens twice). Windows ending at 24:00 run to the next local
 * midnight; days that start late or repeat an hour because a transition sits at midnight
 * (America/Santiago, America/Havana) fall out of the same rule.
 */

/** 24/7: the default when an SLA policy has no calendar. Business time is then plain time. */
export const ALWAYS_OPEN = null;
export type BusinessCalendar = CalendarDefinition | typeof ALWAYS_OPEN;

const MINUTE = 60_000;
const DAY = 86_400_000;

// ---- time zone offsets -------------------------------------------------------------------------
// Asking Intl for an offset costs ~10 µs, far too slow for the SLA recompute path, so each zone's
// offset transitions are found once per UTC year and cached; the hot path is then plain arithmetic.

interface YearOffsets {
  /** Instants (UTC ms) from which `offsets[i]` (ms, local minus UTC) applies; starts[0] = Jan 1. */
  starts: number[];
  offsets: number[];
  end: number;
}
interface ZoneTable {
  zone: IANAZone;
  years: Map<number, YearOffsets>;
}
const zoneTables = new Map<string, ZoneTable>();

function zoneTable(name: string): ZoneTable {
  let table = zoneTables.get(name);
  if (!table) {
    const zone = IANAZone.create(name);
    if (!zone.isValid) throw new Error(`unknown IANA time zone "${name}"`);
    table = { zone, years: new Map() };
    zoneTables.set(name, table);
  }
  return table;
}

function startOfUtcYear(year: number): number {
  return new Date(0).setUTCFullYear(year, 0, 1);
}

// Samples once a day: tzdb has no zone that changes offset twice within 24 hours.
function yearOffsets(table: ZoneTable, year: number): YearOffsets {
  const cached = table.years.get(year);
  if (cached) return cached;
  // Rounded because pre-1900 local mean time offsets come back as fractional minutes.
  const offsetAt = (ts: number): number => Math.round(table.zone.offset(ts) * MINUTE);
  const from = startOfUtcYear(year);
  const end = startOfUtcYear(year + 1);
  const starts = [from];
  const offsets = [offsetAt(from)];
  let prevTs = from;
  let prevOffset = offsets[0]!;
  for (let ts = Math.min(from + DAY, end); ; ts = Math.min(ts + DAY, end)) {
    const offset = offsetAt(ts);
    if (offset !== prevOffset) {
      let lo = prevTs; // offset(lo) === prevOffset, offset(hi) === offset
      let hi = ts;
      while (hi - lo > 1) {
        const mid = Math.floor((lo + hi) / 2);
        if (offsetAt(mid) === prevOffset) lo = mid;
        else hi = mid;
      }
      if (hi < end) {
        starts.push(hi);
        offsets.push(offset);
      }
    }
    prevTs = ts;
    prevOffset = offset;
    if (ts === end) break;
  }
  const result = { starts, offsets, end };
  table.years.set(year, result);
  return result;
}

/** The UTC offset in force at `ts` and the instant it stops being in force (or the year ends). */
function offsetSpan(table: ZoneTable, ts: number): { offset: number; until: number } {
  const y = yearOffsets(table, new Date(ts).getUTCFullYear());
  let i = y.starts.length - 1;
  while (i > 0 && y.starts[i]! > ts) i--;
  return { offset: y.offsets[i]!, until: y.starts[i + 1] ?? y.end };
}

// ---- compiled calendars ------------------------------------------------------------------------

interface CompiledCalendar {
  timeZone: string;
  zone: ZoneTable;
  /** Indexed by weekday (0 = Sunday): flat [start, end, start, end, ...] in ms after local midnight. */
  week: number[][];
  /** Closed local dates as days since 1970-01-01. */
  holidays: Set<number>;
  /**
   * Every week has an open weekday, so each further week of a closed stretch needs a holiday (or,
   * a couple of times a year, a DST change swallowing a window). A stretch longer than this bound
   * therefore means the walk is broken, and the caller gets an error instead of an endless loop.
   */
  maxClosedMs: number;
}

// Definitions are treated as immutable values (parsed once from the policy); compiling once per
// object keeps the per-call cost down to the walk itself. Mutating one after use is not seen.
const compiled = new WeakMap<CalendarDefinition, CompiledCalendar>();

/** One weekday's windows as sorted, merged [start, end, ...] ms offsets from local midnight. */
function compileDay(day: string, windows: readonly BusinessWindow[] | undefined): number[] {
  const flat: number[] = [];
  let sorted = true;
  for (const w of windows ?? []) {
    const s = clockToMinutes(w.start);
    const e = clockToMinutes(w.end);
    if (!(s >= 0 && s < e && e <= 1440)) throw new Error(`invalid ${day} window ${w.start}-${w.end}`);
    if (flat.length > 0 && s * MINUTE < flat[flat.length - 2]!) sorted = false;
    flat.push(s * MINUTE, e * MINUTE);
  }
  if (flat.length <= 2) return flat;
  const pairs: [number, number][] = [];
  for (let i = 0; i < flat.length; i += 2) pairs.push([flat[i]!, flat[i + 1]!]);
  if (!sorted) pairs.sort((a, b) => a[0] - b[0]);
  const merged: number[] = [];
  for (const [s, e] of pairs) {
    // Touching windows (12:00-13:00, 13:00-14:00) are merged so the walk emits fewer pieces.
    const last = merged.length - 1;
    if (merged.length > 0 && s <= merged[last]!) merged[last] = Math.max(merged[last]!, e);
    else merged.push(s, e);
  }
  return merged;
}

function compile(cal: CalendarDefinition): CompiledCalendar {
  const hit = compiled.get(cal);
  if (hit) return hit;
  const week = WEEKDAYS.map((day) => compileDay(day, cal.weeklyHours[day]));
  if (week.every((w) => w.length === 0)) {
    throw new Error(
      `business calendar (${cal.timeZone}) has no business hours: at least one weekday needs a window`,
    );
  }
  const holidays = new Set<number>();
  for (const iso of cal.holidays) {
    const day = Date.UTC(+iso.slice(0, 4), +iso.slice(5, 7) - 1, +iso.slice(8, 10)) / DAY;
    if (iso.length !== 10 || !Number.isInteger(day)) throw new Error(`holiday "${iso}" is not "YYYY-MM-DD"`);
    holidays.add(day);
  }
  const result: CompiledCalendar = {
    timeZone: cal.timeZone,
    zone: zoneTable(cal.timeZone),
    week,
    holidays,
    maxClosedMs: 8 * (holidays.size + 4) * DAY,
  };
  compiled.set(cal, result);
  return result;
}

/**
 * Visits, in order, the open intervals [s, e) (UTC ms) inside [from, until), clipped to it, until
 * `visit` returns true. Walks one offset span at a time and, within it, one local day at a time,
 * so the cost is proportional to the number of local days crossed.
 */
function walkOpen(
  c: CompiledCalendar,
  from: number,
  until: number,
  visit: (s: number, e: number) => boolean,
): void {
  let ts = from;
  let lastOpen = from;
  while (ts < until) {
    const span = offsetSpan(c.zone, ts);
    const o = span.offset;
    const spanEnd = Math.min(span.until, until);
    const stop = spanEnd + o; // local ms
    let local = ts + o;
    while (local < stop) {
      const day = Math.floor(local / DAY);
      const dayStart = day * DAY;
      const dayEnd = Math.min(dayStart + DAY, stop);
      if (!c.holidays.has(day)) {
        const w = c.week[(((day + 4) % 7) + 7) % 7]!; // 1970-01-01 was a Thursday
        for (let i = 0; i < w.length; i += 2) {
          const s = Math.max(dayStart + w[i]!, local);
          const e = Math.min(dayStart + w[i + 1]!, dayEnd);
          if (s < e) {
            if (visit(s - o, e - o)) return;
            lastOpen = e - o;
          }
        }
      }
      local = dayEnd;
      if (until === Infinity && local - o - lastOpen > c.maxClosedMs) {
        throw new Error(
          `business calendar (${c.timeZone}) has no business time after ` +
            `${new Date(lastOpen).toISOString()}; check its weekly hours and holidays`,
        );
      }
    }
    ts = spanEnd;
  }
}

function instant(d: Date, name: string): number {
  const ms = d.getTime();
  if (Number.isNaN(ms)) throw new RangeError(`${name} is an invalid Date`);
  return ms;
}

// ---- public API --------------------------------------------------------------------------------

/**
 * The earliest instant by which `seconds` of business time have elapsed since `start`: an SLA
 * due date. Counting starts at the next opening when `start` is closed, and a budget that runs
 * out exactly at closing time is due at closing time, not at the next opening. Consequently
 * `seconds = 0` returns `start` unchanged even when closed. Durations resolve to milliseconds.
 * Throws if the calendar has no business hours at all.
 */
export function addBusinessSeconds(cal: BusinessCalendar, start: Date, seconds: number): Date {
  const from = instant(start, 'start');
  if (!Number.isFinite(seconds) || seconds < 0) {
    throw new RangeError(`seconds must be a finite non-negative number, got ${seconds}`);
  }
  const c = cal === ALWAYS_OPEN ? null : compile(cal);
  let remaining = Math.round(seconds * 1000);
  if (c === null || remaining === 0) return new Date(from + remaining);
  let due = NaN;
  walkOpen(c, from, Infinity, (s, e) => {
    if (e - s >= remaining) {
      due = s + remaining;
      return true;
    }
    remaining -= e - s;
    return false;
  });
  return new Date(due);
}

/** Business seconds in [a, b); 0 when b <= a. Elapsed and remaining SLA time come from this. */
export function businessSecondsBetween(cal: BusinessCalendar, a: Date, b: Date): number {
  const from = instant(a, 'a');
  const to = instant(b, 'b');
  const c = cal === ALWAYS_OPEN ? null : compile(cal);
  if (to <= from) return 0;
  if (c === null) return (to - from) / 1000;
  let total = 0;
  walkOpen(c, from, to, (s, e) => {
    total += e - s;
    return false;
  });
  return total / 1000;
}

export function isBusinessTime(cal: BusinessCalendar, at: Date): boolean {
  const ts = instant(at, 'at');
  if (cal === ALWAYS_OPEN) return true;
  let open = false;
  walkOpen(compile(cal), ts, ts + 1, () => (open = true));
  return open;
}

/** `at` itself when open, otherwise the next opening: where a paused or closed SLA clock resumes. */
export function nextBusinessStart(cal: BusinessCalendar, at: Date): Date {
  const ts = instant(at, 'at');
  if (cal === ALWAYS_OPEN) return new Date(ts);
  let next = NaN;
  walkOpen(compile(cal), ts, Infinity, (s) => {
    next = s;
    return true;
  });
  return new Date(next);
}
