import { Queue } from 'bullmq';
import type { Cluster, Redis } from 'ioredis';
import { containsAny } from '../../domain/privacy/scrub.js';

/*
 * The customer's data in Redis: BullMQ jobs whose payload (or result, or failure) carries it,
 * and entries of the queues' event streams that repeat it. Found by scanning our key prefix, so
 * a queue added later is covered without a change here. Jobs are removed through BullMQ (which
 * also clears them from their queue's lists); a job running at this moment cannot be removed and
 * is reported, and its payload is gone once it completes (completed jobs are not kept).
 */

export interface RedisErasure {
  jobsRemoved: number;
  jobsBusy: number;
  streamEntriesRemoved: number;
  keysRemoved: number;
}

const JOB_FIELDS = ['data', 'returnvalue', 'failedReason', 'stacktrace'];

export async function eraseFromRedis(redis: Redis, prefix: string, needles: readonly string[]): Promise<RedisErasure> {
  const outcome: RedisErasure = { jobsRemoved: 0, jobsBusy: 0, streamEntriesRemoved: 0, keysRemoved: 0 };
  if (needles.length === 0) return outcome;
  const queues = new Map<string, Queue>();
  const queueOf = (name: string) => {
    let queue = queues.get(name);
    if (!queue) {
      queue = new Queue(name, { connection: redis, prefix, skipVersionCheck: true });
      queues.set(name, queue);
    }
    return queue;
  };
  // A Redis Cluster (REDIS_CLUSTER_NODES) answers SCAN per node: every master is scanned, and
  // each key's own commands go through the cluster client, which routes them.
  const cluster = redis as unknown as Partial<Cluster>;
  const scanners: Redis[] = typeof cluster.nodes === 'function' ? cluster.nodes('master') : [redis];
  try {
    for (const scanner of scanners) {
      let cursor = '0';
      do {
        const [next, keys] = await scanner.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
        cursor = next;
        for (const key of keys) {
          const type = await redis.type(key);
          const parts = key.slice(prefix.length + 1).split(':');
          if (type === 'hash') {
            const values = await redis.hmget(key, ...JOB_FIELDS);
            if (!values.some((v) => v !== null && containsAny(v, needles))) continue;
            if (parts.length === 2) {
              const removed = await queueOf(parts[0]!)
                .remove(parts[1]!)
                .catch(() => 0);
              if (removed === 1) outcome.jobsRemoved++;
              else outcome.jobsBusy++;
            } else {
              await redis.del(key);
              outcome.keysRemoved++;
            }
          } else if (type === 'stream') {
            outcome.streamEntriesRemoved += await scrubStream(redis, key, needles);
          } else if (type === 'string') {
            const value = await redis.get(key);
            if (value !== null && containsAny(value, needles)) {
              await redis.del(key);
              outcome.keysRemoved++;
            }
          }
        }
      } while (cursor !== '0');
    }
  } finally {
    await Promise.all([...queues.values()].map((q) => q.close().catch(() => undefined)));
  }
  return outcome;
}

async function scrubStream(redis: Redis, key: string, needles: readonly string[]): Promise<number> {
  let removed = 0;
  let start = '-';
  for (;;) {
    const entries = await redis.xrange(key, start, '+', 'COUNT', 500);
    const doomed = entries.filter(([, fields]) => containsAny(fields.join('\n'), needles)).map(([id]) => id);
    if (doomed.length) removed += await redis.xdel(key, ...doomed);
    if (entries.length < 500) return removed;
    start = `(${entries[entries.length - 1]![0]}`;
  }
}
