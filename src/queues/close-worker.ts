import type { Worker } from 'bullmq';
import type { Logger } from 'pino';
import { RECONNECT_CAP_MS } from '../shared/link-state.js';

/** Longer than the longest pause between two reconnect attempts: Redis that is up is reached by then. */
const WAIT_FOR_RECONNECT_MS = 2 * RECONNECT_CAP_MS;

/**
 * Closes a BullMQ worker, waiting first for its blocking connection to be back if it is
 * between two reconnect attempts.
 *
 * Why: Worker.close interrupts the blocking read by disconnecting that connection and waits
 * for its 'end' event. An ioredis client in status 'reconnecting' has no socket, so the
 * disconnect only cancels its retry timer and 'end' never comes: close() waits forever
 * (taskforcesh/bullmq#4656, open in 6.7). It happens whenever a process stops within a few
 * seconds of a Redis restart. With Redis up, the client's own retry reaches 'ready' within
 * RECONNECT_CAP_MS; with Redis still away, a clean close is impossible (the jobs in flight
 * cannot be acknowledged) and the shutdown grace period ends the process instead.
 */
export async function closeWorker(worker: Worker, logger: Logger): Promise<void> {
  const client = await worker.backend.blockingClient;
  // 'wait' (never connected) and 'end' close at once; every other state but 'ready' is on its way back.
  if (client && !['ready', 'wait', 'end'].includes(client.status) && !(await becomesReady(client, WAIT_FOR_RECONNECT_MS))) {
    logger.warn({ queue: worker.name }, 'redis unreachable while closing a worker: it cannot close cleanly until redis is back');
  }
  await worker.close();
}

function becomesReady(client: { status: string; once(event: 'ready', listener: () => void): unknown; off(event: 'ready', listener: () => void): unknown }, timeoutMs: number): Promise<boolean> {
  if (client.status === 'ready') return Promise.resolve(true);
  return new Promise((resolve) => {
    const onReady = () => {
      clearTimeout(timer);
      resolve(true);
    };
    const timer = setTimeout(() => {
      client.off('ready', onReady);
      resolve(false);
    }, timeoutMs);
    client.once('ready', onReady);
  });
}
