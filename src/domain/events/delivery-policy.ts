/**
 * When a failed webhook delivery is tried again, and when it stops. Pure: the pump passes the
 * clock and a random number.
 */

export interface RetrySettings {
  /** The first retry's delay; each next one doubles, up to MAX_BACKOFF_MS. */
  backoffMs: number;
  /** How long after its creation a delivery is still retried. */
  retryHours: number;
}

/** Retries are at most an hour apart, so a subscriber back after a long outage waits at most that. */
export const MAX_BACKOFF_MS = 3_600_000;

/** The delay before retry number `attempt` (1 = after the first failed attempt), with ±20% jitter. */
export function backoffMs(attempt: number, base: number, random: number): number {
  const exponential = Math.min(MAX_BACKOFF_MS, base * 2 ** Math.max(0, attempt - 1));
  return Math.round(exponential * (0.8 + 0.4 * random));
}

export function expiryOf(createdAt: Date, settings: RetrySettings): Date {
  return new Date(createdAt.getTime() + settings.retryHours * 3_600_000);
}

export type AttemptOutcome = { state: 'succeeded' } | { state: 'pending'; nextAttemptAt: Date } | { state: 'failed' };

/** A 2xx is delivered; anything else (another status, a timeout, a refused connection) is retried until the delivery expires. */
export function afterAttempt(input: { ok: boolean; attempts: number; now: Date; expiresAt: Date; random: number }, settings: RetrySettings): AttemptOutcome {
  if (input.ok) return { state: 'succeeded' };
  const next = new Date(input.now.getTime() + backoffMs(input.attempts, settings.backoffMs, input.random));
  if (next >= input.expiresAt) {
    // The last chance falls at the expiry itself, unless that has passed too.
    return input.now >= input.expiresAt ? { state: 'failed' } : { state: 'pending', nextAttemptAt: input.expiresAt };
  }
  return { state: 'pending', nextAttemptAt: next };
}

/** Whether this many failed deliveries in a row disable the subscription. */
export const shouldDisable = (consecutiveFailures: number, threshold: number): boolean => consecutiveFailures >= threshold;

/** A 2xx answer. */
export const isSuccess = (status: number | null): boolean => status !== null && status >= 200 && status < 300;
