import { businessSecondsBetween, isBusinessTime, type BusinessCalendar } from '../calendar.js';

/** Presence older than this is looked at over its last days only (any real calendar opens within a week). */
const LOOKBACK_MS = 8 * 86_400_000;

/**
 * Whether an agent present (online or away) since `since` has seen its shift end: its team's
 * calendar is closed now, and was open at some moment since the agent set that presence. So
 * the agent goes offline when the working time ends, while one who came online after hours
 * (overtime, an incident) stays until the end of the next working period instead of being
 * sent away at the next sweep. An always-open calendar never ends a shift.
 */
export function shiftEnded(calendar: BusinessCalendar, since: Date | null, now: Date): boolean {
  if (isBusinessTime(calendar, now)) return false;
  const from = since === null ? now.getTime() - LOOKBACK_MS : Math.max(since.getTime(), now.getTime() - LOOKBACK_MS);
  return businessSecondsBetween(calendar, new Date(from), now) > 0;
}
