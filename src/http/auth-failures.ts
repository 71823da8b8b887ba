import type { Redis } from 'ioredis';
import { addressBucket } from './client-address.js';

/**
 * Failed authentications per client address (an IPv6 client by its /64), in fixed one-minute
 * windows kept in Redis (so every API process shares the count). Past the limit, an address is
 * refused before its key is even looked up: guessing keys costs a 429, not a database query.
 *
 * Like the request rate limit, this fails open: if Redis cannot answer, requests are judged
 * on their key alone rather than refused.
 */
export interface AuthFailureLimiter {
  /**
   * Takes one attempt from the address's budget before its key is looked up (INCR, then compare,
   * in one step): milliseconds until it may try again if that went past the limit, else 0.
   * However many wrong keys arrive at once, at most the limit of them reach the lookup.
   * An attempt whose key verifies is given back with release().
   */
  attempt(address: string): Promise<number>;
  /** Gives back an attempt whose key verified: only failures stay counted. */
  release(address: string): Promise<void>;
  /** Milliseconds until the address may try again, or 0 if it is under the limit (a read: nothing is counted). */
  blockedFor(address: string): Promise<number>;
  /** Counts a failure found without attempt() (a wrong token on a webhook). */
  record(address: string): Promise<void>;
}

const WINDOW_MS = 60_000;

// INCR and the window's expiry in one step: a crash between the two cannot leave a count
// that never expires.
const RECORD_SCRIPT = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n`;

// The same, then the comparison, atomically: two concurrent attempts never see the same count.
const ATTEMPT_SCRIPT = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
if n > tonumber(ARGV[2]) then return redis.call('PTTL', KEYS[1]) end
return 0`;

// Never below zero, and never recreating a window that has expired.
const RELEASE_SCRIPT = `
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n > 0 then redis.call('DECR', KEYS[1]) end
return n`;

/**
 * How long blockedFor() trusts an answer of "under the limit" for an address (issue 18): a
 * provider's burst of genuine deliveries reads Redis once per address in this time, not once
 * per webhook. A failure recorded by this process forgets the address at once; one recorded by
 * another process is seen within this time.
 */
const UNDER_LIMIT_TRUSTED_MS = 1_000;
const UNDER_LIMIT_ADDRESSES = 10_000;

export function createAuthFailureLimiter(deps: { redis: Redis; prefix: string; maxPerMinute: number }): AuthFailureLimiter {
  const keyOf = (address: string) => `${deps.prefix}:auth-fail:${addressBucket(address)}`;
  /** Redis key -> until when (performance.now()) it was under the limit. */
  const underLimit = new Map<string, number>();
  return {
    async attempt(address) {
      try {
        const ttl = Number(await deps.redis.eval(ATTEMPT_SCRIPT, 1, keyOf(address), WINDOW_MS, deps.maxPerMinute));
        return ttl === 0 ? 0 : Math.max(ttl, 1_000);
      } catch {
        return 0;
      }
    },
    async release(address) {
      await deps.redis.eval(RELEASE_SCRIPT, 1, keyOf(address)).catch(() => undefined);
    },
    async blockedFor(address) {
      const key = keyOf(address);
      if ((underLimit.get(key) ?? 0) > performance.now()) return 0;
      try {
        const [[, count], [, ttl]] = (await deps.redis.multi().get(key).pttl(key).exec()) as [[unknown, string | null], [unknown, number]];
        if (Number(count ?? 0) >= deps.maxPerMinute) return Math.max(ttl, 1_000);
        if (underLimit.size >= UNDER_LIMIT_ADDRESSES) underLimit.clear();
        underLimit.set(key, performance.now() + UNDER_LIMIT_TRUSTED_MS);
        return 0;
      } catch {
        return 0;
      }
    },
    async record(address) {
      underLimit.delete(keyOf(address));
      await deps.redis.eval(RECORD_SCRIPT, 1, keyOf(address), WINDOW_MS).catch(() => undefined);
    },
  };
}
