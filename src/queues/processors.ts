import { UnrecoverableError, type Job } from 'bullmq';
import type { z } from 'zod';
import { QUEUE_DEFS, type JobData, type JobName, type QueueKey } from './queues.js';

/** One processor per job name of a queue, each given the payload its schema parsed. */
export type Processors<Q extends QueueKey> = { [N in JobName<Q>]: (data: JobData<Q, N>, job: Job) => Promise<unknown> };

/**
 * The BullMQ processor of a queue: looks the job's name up in the map and parses its payload
 * with the queue definition's schema. A name with no processor or a payload its schema refuses
 * will never succeed, so it fails for good (UnrecoverableError: no retry) instead of falling
 * through to some other job's code or being retried; the worker's 'failed' listener logs it.
 */
export function processorFor<Q extends QueueKey>(key: Q, processors: Processors<Q>): (job: Job) => Promise<unknown> {
  const { name: queue, jobs } = QUEUE_DEFS[key] as { name: string; jobs: Record<string, z.ZodType> };
  const table = processors as Record<string, (data: unknown, job: Job) => Promise<unknown>>;
  return async (job) => {
    const schema = Object.hasOwn(jobs, job.name) ? jobs[job.name] : undefined;
    const processor = Object.hasOwn(table, job.name) ? table[job.name] : undefined;
    if (!schema || !processor) throw new UnrecoverableError(`unknown job "${job.name}" on queue ${queue}`);
    const parsed = schema.safeParse(job.data);
    // The issues name paths and expected types, never the values (which may be personal data).
    if (!parsed.success) throw new UnrecoverableError(`invalid payload for job "${job.name}" on queue ${queue}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
    return processor(parsed.data, job);
  };
}
