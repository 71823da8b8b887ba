import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { z } from 'zod';

/**
 * Every queue, its job names and their payloads in one typed map. Payloads carry ids, never
 * documents: the processor reads the current truth from Postgres.
 */
export const QUEUE_DEFS = {
  slaTimers: {
    name: 'sla-timers',
    jobs: {
      warning: z.object({ clockId: z.uuid(), generation: z.number().int() }),
      breach: z.object({ clockId: z.uuid(), generation: z.number().int() }),
      'commitment-reminder': z.object({ commitmentId: z.uuid(), generation: z.number().int() }),
      'commitment-due': z.object({ commitmentId: z.uuid(), generation: z.number().int() }),
    },
  },
  slaEscalations: {
    name: 'sla-escalations',
    jobs: { escalate: z.object({ breachId: z.uuid(), level: z.number().int().min(1) }) },
  },
  notifications: {
    name: 'notifications',
    jobs: {
      webhook: z.object({ url: z.url(), event: z.string(), payload: z.record(z.string(), z.unknown()) }),
      email: z.object({ to: z.string(), subject: z.string(), text: z.string() }),
    },
  },
  delivery: {
    name: 'delivery',
    jobs: { deliver: z.object({ outboxId: z.uuid() }) },
  },
  maintenance: {
    name: 'maintenance',
    jobs: { 'sla-reconcile': z.object({}), 'sla-recompute': z.object({ policyId: z.uuid() }), 'fcr-settle': z.object({ ticketId: z.uuid() }), 'kpi-evaluate': z.object({}) },
  },
} as const;

type Defs = typeof QUEUE_DEFS;
export type QueueKey = keyof Defs;
export type JobName<Q extends QueueKey> = keyof Defs[Q]['jobs'] & string;
export type JobData<Q extends QueueKey, N extends JobName<Q>> = z.infer<Defs[Q]['jobs'][N] & z.ZodType>;

export class TypedQueue<Q extends QueueKey> {
  constructor(
    readonly key: Q,
    readonly queue: Queue,
  ) {}

  add<N extends JobName<Q>>(name: N, data: JobData<Q, N>, options?: JobsOptions) {
    return this.queue.add(name, data, options);
  }

  addBulk<N extends JobName<Q>>(jobs: { name: N; data: JobData<Q, N>; opts?: JobsOptions }[]) {
    return this.queue.addBulk(jobs);
  }
}

export type Queues = { [Q in QueueKey]: TypedQueue<Q> };

// Completed jobs are forgotten at once: a deterministic job id must be free to be reused
// when a clock is rescheduled to the same generation after a Redis loss.
const DEFAULT_JOB_OPTIONS: JobsOptions = { removeOnComplete: true, removeOnFail: { count: 1000 } };

export function createQueues(connection: Redis, prefix: string): Queues {
  const make = <Q extends QueueKey>(key: Q) =>
    new TypedQueue(key, new Queue(QUEUE_DEFS[key].name, { connection, prefix, defaultJobOptions: DEFAULT_JOB_OPTIONS }));
  return {
    slaTimers: make('slaTimers'),
    slaEscalations: make('slaEscalations'),
    notifications: make('notifications'),
    delivery: make('delivery'),
    maintenance: make('maintenance'),
  };
}

export async function closeQueues(queues: Queues): Promise<void> {
  await Promise.all(Object.values(queues).map((q) => q.queue.close()));
}

/** Parses a job's payload with its schema before the processor sees it. */
export function parseJob<Q extends QueueKey, N extends JobName<Q>>(key: Q, name: N, data: unknown): JobData<Q, N> {
  const jobs = QUEUE_DEFS[key].jobs as Record<string, z.ZodType>;
  const schema = jobs[name] as z.ZodType<JobData<Q, N>> | undefined;
  if (!schema) throw new Error(`Unknown job ${name} on queue ${QUEUE_DEFS[key].name}`);
  return schema.parse(data);
}
