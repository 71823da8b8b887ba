/**
 * The timers baseline's consumer, run in a child process of its own (as the product's SLA
 * engine runs in the service's process): a BullMQ Worker that notes, for each delayed no-op
 * job, how late it ran. Talks to the bench over IPC: "ready" once connected, "progress" every
 * second, and the raw lateness samples when asked to "stop".
 */
import { Worker } from 'bullmq';
import { createWorkerRedis } from '../../src/queues/redis.js';

const { REDIS_URL, QUEUE_PREFIX, QUEUE_NAME, CONCURRENCY } = process.env;
if (!REDIS_URL || !QUEUE_PREFIX || !QUEUE_NAME || !CONCURRENCY || !process.send) {
  console.error('timer-worker: run by bench/benchmarks/timers.ts (REDIS_URL, QUEUE_PREFIX, QUEUE_NAME, CONCURRENCY, IPC)');
  process.exit(2);
}
const send = (message: unknown) => process.send!(message);

const lateness: number[] = [];
const worker = new Worker<{ due: number }>(
  QUEUE_NAME,
  async (job) => {
    lateness.push(Date.now() - job.data.due);
  },
  { connection: createWorkerRedis(REDIS_URL), prefix: QUEUE_PREFIX, concurrency: Number(CONCURRENCY) },
);
worker.on('error', (error) => console.error(`timer-worker: ${error.message}`));
await worker.waitUntilReady();
send({ type: 'ready' });
const progress = setInterval(() => send({ type: 'progress', ran: lateness.length }), 1_000);

process.on('message', (message: { type?: string }) => {
  if (message.type !== 'stop') return;
  clearInterval(progress);
  void worker.close().finally(() => {
    // Disconnect only once the message is written: 100,000 samples are ~2 MB, more than the
    // pipe takes at once, and a disconnect right after send() drops what is still queued.
    process.send!({ type: 'result', lateness }, () => process.disconnect());
  });
});
// The bench went away without asking: do not linger.
process.on('disconnect', () => process.exit(0));
