import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import type { Queue } from 'bullmq';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../../helpers/context.js';
import { until } from '../../helpers/sla.js';

/**
 * The typed processor map (src/queues/processors.ts): a job whose payload its schema refuses,
 * or whose name no processor knows, fails for good at its first attempt (never retried, never
 * run by another job's code), and is logged once.
 */
let ctx: TestContext;
const lines: { msg: string; queue?: string; jobId?: string; job?: string }[] = [];

beforeAll(async () => {
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as (typeof lines)[number]);
      done();
    },
  });
  ctx = await createTestContext({ logger: pino({ level: 'info' }, sink) });
  await ctx.startWorkers();
});
afterAll(async () => ctx?.close());

/** Adds a job as a foreign or older producer could (the raw queue, no typing), with retries. */
async function addRaw(queue: Queue, name: string, data: unknown) {
  return queue.add(name, data, { attempts: 3, backoff: { type: 'fixed', delay: 10 } });
}

async function endsFailed(queue: Queue, jobId: string) {
  await until(async () => ((await queue.getJobState(jobId)) === 'failed' ? true : undefined), { what: `job ${jobId} failed` });
  // Read after it failed: a job read while still active would show the attempt not yet counted.
  const job = (await queue.getJob(jobId))!;
  expect(job.attemptsMade).toBe(1);
  // Job ids are numbered per queue: the line is the one of this queue's job.
  expect(lines.filter((l) => l.queue === queue.name && l.jobId === jobId)).toHaveLength(1);
  return job;
}

describe('typed processor map', () => {
  it('an invalid payload ends failed at once, not retried', async () => {
    const job = await addRaw(ctx.deps.queues.slaTimers.queue, 'warning', { clockId: 'not-a-uuid', generation: 1 });
    const failed = await endsFailed(ctx.deps.queues.slaTimers.queue, job.id!);
    expect(failed.failedReason).toMatch(/invalid payload for job "warning".*clockId/);
  });

  it('an unknown job name on sla-timers ends failed instead of running the commitments code', async () => {
    const job = await addRaw(ctx.deps.queues.slaTimers.queue, 'commitment-overdue', { commitmentId: randomUUID(), generation: 1 });
    const failed = await endsFailed(ctx.deps.queues.slaTimers.queue, job.id!);
    expect(failed.failedReason).toMatch(/unknown job "commitment-overdue" on queue sla-timers/);
  });

  it('an unknown job name on maintenance ends failed instead of running a reconcile', async () => {
    const job = await addRaw(ctx.deps.queues.maintenance.queue, 'sla-reconcile-now', {});
    const failed = await endsFailed(ctx.deps.queues.maintenance.queue, job.id!);
    expect(failed.failedReason).toMatch(/unknown job "sla-reconcile-now" on queue maintenance/);
    expect(failed.returnvalue).toBeFalsy();
  });

  it('a valid job still runs its own processor', async () => {
    const job = await ctx.deps.queues.maintenance.add('fcr-settle', { ticketId: randomUUID() });
    // Completed jobs are removed at once (removeOnComplete): gone without a failure line is done.
    await until(async () => ((await ctx.deps.queues.maintenance.queue.getJob(job.id!)) === undefined ? true : undefined), { what: 'fcr-settle completed' });
    expect(lines.filter((l) => l.queue === 'maintenance' && l.jobId === job.id)).toEqual([]);
  });
});
