import { Worker } from 'bullmq';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeWorker } from '../../../src/queues/close-worker.js';
import { createWorkerRedis } from '../../../src/queues/redis.js';
import { until } from '../../helpers/sla.js';
import { startPrivateRedis } from './support.js';

/**
 * A worker stopped while its blocking connection waits between two reconnect attempts (a
 * deploy a few seconds after a Redis restart): BullMQ's own close() waits forever for an 'end'
 * that a socketless client never emits (taskforcesh/bullmq#4656). closeWorker waits for the
 * connection to be back first, so the process stops.
 */
let redis: Awaited<ReturnType<typeof startPrivateRedis>>;
beforeAll(async () => {
  redis = await startPrivateRedis();
});
afterAll(async () => {
  await redis?.stop();
});

describe('closing a worker right after a Redis restart', () => {
  it('completes although the blocking connection is between reconnect attempts', async () => {
    const connection = createWorkerRedis(redis.url);
    connection.on('error', () => undefined);
    const worker = new Worker('close-test', async () => undefined, { connection, prefix: 'close-test' });
    worker.on('error', () => undefined);
    await worker.waitUntilReady();
    const blocking = (await worker.backend.blockingClient)!;
    blocking.on('error', () => undefined);
    let longestDelay = 0;
    blocking.on('reconnecting', (delay: number) => (longestDelay = Math.max(longestDelay, delay)));

    await redis.kill();
    // Until the next attempt is at least a second away: the client has no socket meanwhile.
    await until(() => (longestDelay >= 1_000 ? true : undefined), { timeoutMs: 20_000, what: 'a reconnect delay of a second or more' });
    await redis.start();
    expect(blocking.status).toBe('reconnecting');

    let closed = false;
    const closing = closeWorker(worker, pino({ level: 'silent' })).then(() => (closed = true));
    await until(() => (closed ? true : undefined), { timeoutMs: 20_000, what: 'the worker closed' });
    await closing;
    expect(blocking.status).toBe('end');
    connection.disconnect();
  }, 60_000);
});
