import { sql } from 'drizzle-orm';
import type { Redis } from 'ioredis';
import type { Database } from '../../db/client.js';

const READY_TIMEOUT_MS = 2_000;

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return Promise.race([promise, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms).unref())]);
}

async function check(probe: () => Promise<unknown>): Promise<'ok' | string> {
  try {
    await withTimeout(probe(), READY_TIMEOUT_MS);
    return 'ok';
  } catch (error) {
    return (error as Error).message;
  }
}

/** Whether Postgres and Redis answer now, each within READY_TIMEOUT_MS: 'ok' or why not. */
export async function readiness(deps: { db: Database; redis: Redis }): Promise<{ postgres: 'ok' | string; redis: 'ok' | string }> {
  const [postgres, redis] = await Promise.all([check(() => deps.db.execute(sql`select 1`)), check(() => deps.redis.ping())]);
  return { postgres, redis };
}
