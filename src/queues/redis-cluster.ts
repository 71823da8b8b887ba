import { Cluster, type Redis } from 'ioredis';
import { reconnectDelay } from '../shared/link-state.js';

/**
 * Redis Cluster connections (REDIS_CLUSTER_NODES), with the same two behaviours as the
 * single-node ones in redis.ts: producers fail fast while the cluster is away, workers retry
 * forever (maxRetriesPerRequest: null on every node connection, as BullMQ requires).
 *
 * Typed as `Redis`: ioredis' Cluster answers the same commands and emits the same connection
 * events ('ready', 'error', 'close', 'end', and a `status` with the same names), which is all
 * the modules that take a connection use (commands, EVAL on one key, MULTI on one key, PING).
 * BullMQ accepts a Cluster as its connection and duplicates it for blocking commands. Every
 * key we write carries QUEUE_PREFIX, which config.ts requires to be a hash tag here, so the
 * keys of one BullMQ script, and our own keys, share one slot.
 */
export function parseClusterNodes(nodes: readonly string[]): { host: string; port: number }[] {
  return nodes.map((node) => {
    const at = node.lastIndexOf(':');
    const host = node.slice(0, at).replace(/^\[(.*)\]$/, '$1');
    return { host, port: Number(node.slice(at + 1)) };
  });
}

export function createProducerCluster(nodes: readonly string[], options: { commandTimeoutMs?: number } = {}): Redis {
  const cluster = new Cluster(parseClusterNodes(nodes), {
    enableOfflineQueue: false,
    clusterRetryStrategy: (attempt) => reconnectDelay(attempt),
    redisOptions: { maxRetriesPerRequest: 1, ...(options.commandTimeoutMs ? { commandTimeout: options.commandTimeoutMs } : {}) },
  });
  return cluster as unknown as Redis;
}

export function createWorkerCluster(nodes: readonly string[]): Redis {
  const cluster = new Cluster(parseClusterNodes(nodes), {
    clusterRetryStrategy: (attempt) => reconnectDelay(attempt),
    redisOptions: { maxRetriesPerRequest: null, enableReadyCheck: false },
  });
  return cluster as unknown as Redis;
}
