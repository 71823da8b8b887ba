/**
 * Provider timestamps are input, not facts. A JavaScript Date reaches year ±275760, Postgres
 * timestamptz refuses much less (a five-digit year fails with "time zone displacement out of
 * range"), so an absurd date would fail the whole intake transaction on every retry: a poison
 * message. Dates outside [EARLIEST, receivedAt + MAX_FUTURE_SKEW_MS] are replaced by the
 * receipt time, which is what we fall back to when a provider sends no date at all.
 */
const EARLIEST = Date.UTC(1970, 0, 1);
/** Senders' clocks drift, and time zones get mislabelled; beyond a day ahead is a broken clock. */
export const MAX_FUTURE_SKEW_MS = 24 * 3_600_000;

export function plausibleDate(candidate: Date | undefined, receivedAt: Date): Date {
  if (candidate === undefined) return receivedAt;
  const ms = candidate.getTime();
  if (!Number.isFinite(ms) || ms < EARLIEST || ms > receivedAt.getTime() + MAX_FUTURE_SKEW_MS) return receivedAt;
  return candidate;
}
