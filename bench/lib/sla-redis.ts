import { readFileSync, statSync } from 'node:fs';
import type { Redis } from 'ioredis';

/**
 * The SLA worker's Redis-loss recovery, seen from outside: the marker key whose absence makes
 * the worker reschedule every future deadline from Postgres (src/workers/sla-recovery.ts), a
 * wipe of the run's prefix (what FLUSHALL does to the service, without touching other users
 * of the shared Redis), and the warning the service logs once the recovery is done.
 */
export { redisMarkerKey as recoveryMarkerKey } from '../../src/workers/sla-recovery.js';
import { REDIS_LOSS_NOTICED } from '../../src/workers/sla-recovery.js';

/** Deletes every key of the prefix with SCAN + DEL (never FLUSHALL: the Redis is shared). */
export async function wipePrefix(redis: Redis, queuePrefix: string): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${queuePrefix}:*`, 'COUNT', 1000);
    if (keys.length > 0) deleted += await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
  return deleted;
}

export const logSize = (file: string): number => {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
};

export interface RecoveryLogged {
  /** When the service logged it (pino's time, epoch ms). */
  at: number;
  clocks: number;
}

/** The lines of a service log after byte `offset` that contain `phrase` (none if the log is not there). */
function loggedLines(file: string, offset: number, phrase: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8').slice(offset);
  } catch {
    return [];
  }
  return text.split('\n').filter((line) => line.includes(phrase));
}

/** The "deadlines rescheduled from postgres" warnings the service logged after byte `offset`. */
export function recoveriesLogged(file: string, offset: number): RecoveryLogged[] {
  return loggedLines(file, offset, 'deadlines rescheduled from postgres').map((line) => {
    try {
      const entry = JSON.parse(line) as { time?: number; clocks?: number };
      return { at: Number(entry.time ?? Date.now()), clocks: Number(entry.clocks ?? 0) };
    } catch {
      return { at: Date.now(), clocks: NaN };
    }
  });
}

/** When the service logged, after byte `offset`, that Redis had lost its jobs (pino's time, epoch ms). */
export function detectionsLogged(file: string, offset: number): { at: number }[] {
  return loggedLines(file, offset, REDIS_LOSS_NOTICED).flatMap((line) => {
    try {
      return [{ at: Number((JSON.parse(line) as { time?: number }).time) }];
    } catch {
      return [];
    }
  });
}

/** Waits (bounded) for the next recovery warning after `offset`; null past the deadline. */
export async function waitForRecovery(file: string, offset: number, deadline: number, signal?: AbortSignal): Promise<RecoveryLogged | null> {
  while (Date.now() < deadline && !signal?.aborted) {
    const found = recoveriesLogged(file, offset);
    if (found.length > 0) return found[0]!;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return null;
}

/**
 * Waits, after a service start, until its SLA worker's start-up recovery is over, so a
 * measurement does not run beside it. A worker that finds the marker missing (a Redis
 * prefix no worker has used yet) reschedules every running clock due in the future and logs
 * a warning when it is done; with the marker present it does nothing. Returns what it saw.
 */
export async function settleRecovery(options: {
  logFile: string;
  markerExisted: boolean;
  /** Running clocks due in the future: 0 means nothing to reschedule, so no warning to wait for. */
  runningClocks: number;
  timeoutMs: number;
  signal?: AbortSignal;
}): Promise<{ waitedMs: number; rescheduled: number | null; note: string }> {
  if (options.markerExisted) return { waitedMs: 0, rescheduled: null, note: 'the recovery marker was already set: no start-up reschedule' };
  if (options.runningClocks === 0) return { waitedMs: 0, rescheduled: null, note: 'no running clocks to reschedule' };
  const t0 = Date.now();
  const found = await waitForRecovery(options.logFile, 0, t0 + options.timeoutMs, options.signal);
  const waitedMs = Date.now() - t0;
  return found
    ? { waitedMs, rescheduled: found.clocks, note: `waited ${(waitedMs / 1000).toFixed(1)} s for the start-up recovery to reschedule ${found.clocks} running clocks` }
    : { waitedMs, rescheduled: null, note: `the start-up recovery had not logged its reschedule after ${(waitedMs / 1000).toFixed(0)} s; measured beside it` };
}
