import type { Redis } from 'ioredis';

/**
 * Failed authentications per client address, in fixed one-minute windows kept in Redis (so
 * every API process shares the count). Past the limit, an address is refused before its key
 * is even looked up: guessing keys costs a 429, not a database query.
 *
 * Like the request rate limit, this fails open: if Redis cannot answer, requests are judged
 * on their key alone rather than refused.
 */
export interface AuthFailureLimiter {
  /** Milliseconds until the address may try again, or 0 if it is under the limit. */
  blockedFor(address: string): Promise<number>;
  record(address: string): Promise<void>;
}

const WINDOW_MS = 60_000;

// INCR and the window's expiry in one step: a crash between the two cannot leave a count
// that never expires.
const RECORD_SCRIPT = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n`;

export function createAuthFailureLimiter(deps: { redis: Redis; prefix: string; maxPerMinute: number }): AuthFailureLimiter {
  const keyOf = (address: string) => `${deps.prefix}:auth-fail:${address}`;
  return {
    async blockedFor(address) {
      try {
        const [[, count], [, ttl]] = (await deps.redis.multi().get(keyOf(address)).pttl(keyOf(address)).exec()) as [[unknown, string | null], [unknown, number]];
        return Number(count ?? 0) >= deps.maxPerMinute ? Math.max(ttl, 1_000) : 0;
      } catch {
        return 0;
      }
    },
    async record(address) {
      await deps.redis.eval(RECORD_SCRIPT, 1, keyOf(address), WINDOW_MS).catch(() => undefined);
    },
  };
}
