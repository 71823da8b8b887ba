import type { JobsOptions } from 'bullmq';

/** One job id per outbox row and manual retry: a re-enqueue of the same row collapses into it. */
export const deliveryJobId = (outboxId: string, generation: number) => `deliver-${outboxId}-${generation}`;

export function deliveryJobOptions(settings: { maxAttempts: number; backoffMs: number }): JobsOptions {
  return { attempts: settings.maxAttempts, backoff: { type: 'jittered', delay: settings.backoffMs } };
}

/**
 * Exponential backoff with full jitter: retries of many replies that failed together (a
 * provider outage) spread out instead of hammering the provider in lockstep.
 */
export function jitteredBackoff(attemptsMade: number, baseDelayMs: number, random = Math.random): number {
  const ceiling = baseDelayMs * 2 ** Math.max(0, attemptsMade - 1);
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
