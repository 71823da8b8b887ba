import { Redis } from 'ioredis';

/**
 * Two kinds of Redis connection, as BullMQ's production guide asks: producers (the API) fail
 * fast when Redis is away instead of queueing commands in memory; workers and blocking
 * consumers retry forever (maxRetriesPerRequest: null) so they resume once Redis is back.
 */
export function createProducerRedis(url: string): Redis {
  return new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: false });
}

export function createWorkerRedis(url: string): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: false });
}
