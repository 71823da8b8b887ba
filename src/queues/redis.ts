import { Redis } from 'ioredis';
import { reconnectDelay, type LinkState } from '../shared/link-state.js';
import { createProducerCluster, createWorkerCluster } from './redis-cluster.js';

/** The settings that say which Redis to use: a Redis Cluster when nodes are listed, else REDIS_URL. */
export interface RedisSettings {
  REDIS_URL: string;
  REDIS_CLUSTER_NODES: readonly string[];
  REDIS_COMMAND_TIMEOUT_MS?: number;
}

/** The API-side (producer) connection: a single Redis or a Redis Cluster, same behaviour. */
export function producerRedisFor(settings: RedisSettings): Redis {
  const options = { commandTimeoutMs: settings.REDIS_COMMAND_TIMEOUT_MS };
  return settings.REDIS_CLUSTER_NODES.length > 0 ? createProducerCluster(settings.REDIS_CLUSTER_NODES, options) : createProducerRedis(settings.REDIS_URL, options);
}

/** The workers' connection: a single Redis or a Redis Cluster, retrying forever. */
export function workerRedisFor(settings: RedisSettings): Redis {
  return settings.REDIS_CLUSTER_NODES.length > 0 ? createWorkerCluster(settings.REDIS_CLUSTER_NODES) : createWorkerRedis(settings.REDIS_URL);
}

/**
 * Two kinds of Redis connection, as BullMQ's production guide asks: producers (the API) fail
 * fast when Redis is away instead of queueing commands in memory; workers and blocking
 * consumers retry forever (maxRetriesPerRequest: null) so they resume once Redis is back.
 * `commandTimeoutMs` bounds a producer's wait on a Redis that accepts connections but does
 * not answer (paused, overloaded): no request waits on Redis for longer than that.
 */
export function createProducerRedis(url: string, options: { commandTimeoutMs?: number } = {}): Redis {
  return new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    lazyConnect: false,
    retryStrategy: (attempt) => reconnectDelay(attempt),
    ...(options.commandTimeoutMs ? { commandTimeout: options.commandTimeoutMs } : {}),
  });
}

export function createWorkerRedis(url: string): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: false, retryStrategy: (attempt) => reconnectDelay(attempt) });
}

/**
 * Reports a connection's state changes to the Redis link: every connection of the process
 * has an 'error' listener (ioredis prints a stack to stderr for an error nobody listens to),
 * and retries are silent — the link logs once when Redis goes away and once when it is back.
 */
export function trackRedis(connection: Redis, link: LinkState): Redis {
  const tracked = trackedConnections.get(link) ?? new Set<Redis>();
  trackedConnections.set(link, tracked);
  tracked.add(connection);
  connection.on('error', (error: Error) => link.lost(error));
  connection.on('close', () => {
    // 'close' also ends a deliberate disconnect (shutdown): only an unexpected one is a loss.
    if (connection.status !== 'end' && !(connection as unknown as { manuallyClosing?: boolean }).manuallyClosing) link.lost(new Error('connection closed'));
  });
  // Back only when every connection of the process is: one ready before the others would
  // log "reachable again" and then, at the next refused command, "unreachable" once more.
  connection.on('ready', () => {
    if ([...tracked].every((c) => c.status === 'ready' || c.status === 'end')) link.restored();
  });
  connection.on('end', () => tracked.delete(connection));
  return connection;
}

const trackedConnections = new WeakMap<LinkState, Set<Redis>>();
