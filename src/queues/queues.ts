import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { DependencyUnavailableError, ignoringOutages, unavailableDependency, type LinkState } from '../shared/link-state.js';
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
  // Routing (issue 13): a trigger names a queue (a team, or null for the default queue) or an
  // agent whose slots or skills changed; the sweep is the net. Not deduplicated: a trigger
  // that arrives while a drain of the same team runs must not be lost.
  routing: {
    name: 'routing',
    jobs: { 'route-team': z.object({ teamId: z.uuid().nullable() }), 'route-agent': z.object({ agentId: z.uuid() }), sweep: z.object({}) },
  },
  maintenance: {
    name: 'maintenance',
    jobs: { 'sla-reconcile': z.object({}), 'sla-recompute': z.object({ policyId: z.uuid(), requestId: z.uuid().optional() }), 'fcr-settle': z.object({ ticketId: z.uuid() }), 'kpi-evaluate': z.object({}), 'kpi-rollup': z.object({}), retention: z.object({}), partitions: z.object({}) },
  },
} as const;

type Defs = typeof QUEUE_DEFS;
export type QueueKey = keyof Defs;
export type JobName<Q extends QueueKey> = keyof Defs[Q]['jobs'] & string;
export type JobData<Q extends QueueKey, N extends JobName<Q>> = z.infer<Defs[Q]['jobs'][N] & z.ZodType>;

/** How a producer treats a Redis that is not connected: see `whenRedisReady`. */
export interface ProducerGuard {
  connection: Redis;
  link: LinkState;
  /** The longest a producer waits for a connection still being opened (process start). */
  readyWaitMs: number;
}

/**
 * Resolves when the producer connection can take a command. A Redis known to be away fails at
 * once (the caller answers or lets the reconciler repair); a connection still being opened
 * (the first moments of the process) is waited for, but never longer than `readyWaitMs`.
 */
export async function whenRedisReady(guard: ProducerGuard): Promise<void> {
  const { connection, link } = guard;
  if (connection.status === 'ready') return;
  const unavailable = () => new DependencyUnavailableError('redis', `Redis is unavailable (connection ${connection.status})`);
  if (!link.up || connection.status === 'end') throw unavailable();
  await new Promise<void>((resolve, reject) => {
    const done = (error?: Error) => {
      clearTimeout(timer);
      connection.off('ready', onReady);
      connection.off('error', onError);
      if (error) reject(error);
      else resolve();
    };
    const onReady = () => done();
    const onError = () => done(unavailable());
    const timer = setTimeout(() => done(unavailable()), guard.readyWaitMs);
    timer.unref();
    connection.on('ready', onReady);
    connection.on('error', onError);
  });
}

/**
 * Runs `add` for jobs that Postgres can rebuild, and goes on without them while Redis is
 * unreachable (false): a sweep from Postgres repairs them later. Any other failure is thrown.
 * Each call site says which sweep repairs its jobs.
 */
export async function unlessRedisIsAway(add: () => Promise<unknown>): Promise<boolean> {
  try {
    await add();
    return true;
  } catch (error) {
    if (unavailableDependency(error) === 'redis') return false;
    throw error;
  }
}

export class TypedQueue<Q extends QueueKey> {
  constructor(
    readonly key: Q,
    readonly queue: Queue,
    private readonly guard?: ProducerGuard,
  ) {}

  /** Resolves if a job could be added now; throws DependencyUnavailableError if Redis is away. */
  async ready(): Promise<void> {
    if (this.guard) await whenRedisReady(this.guard);
  }

  async add<N extends JobName<Q>>(name: N, data: JobData<Q, N>, options?: JobsOptions) {
    if (this.guard) await whenRedisReady(this.guard);
    return this.queue.add(name, data, options);
  }

  async addBulk<N extends JobName<Q>>(jobs: { name: N; data: JobData<Q, N>; opts?: JobsOptions }[]) {
    if (this.guard) await whenRedisReady(this.guard);
    return this.queue.addBulk(jobs);
  }

  /** Declares (or re-declares, idempotently) a job added every `everyMs`. */
  async schedule<N extends JobName<Q>>(schedulerId: string, everyMs: number, name: N, data: JobData<Q, N>) {
    return this.queue.upsertJobScheduler(schedulerId, { every: everyMs }, { name, data });
  }
}

export type Queues = { [Q in QueueKey]: TypedQueue<Q> };

// Completed jobs are forgotten at once: a deterministic job id must be free to be reused
// when a clock is rescheduled to the same generation after a Redis loss.
const DEFAULT_JOB_OPTIONS: JobsOptions = { removeOnComplete: true, removeOnFail: { count: 1000 } };

/**
 * The queues as producers see them. BullMQ's Queue otherwise waits, with no bound, for its
 * connection to be ready before its first command: started while Redis is away, every
 * producer (and the request behind it) would hang. With skipWaitingForReady (and no
 * version probe, whose INFO would fail the same way) each command goes straight to the
 * connection, which refuses at once while disconnected (enableOfflineQueue: false).
 * Every Queue has an 'error' listener: BullMQ prints an unheard error to stderr as a stack.
 */
export function createQueues(connection: Redis, prefix: string, options: { link: LinkState; logger: Logger; readyWaitMs?: number }): Queues {
  const guard: ProducerGuard = { connection, link: options.link, readyWaitMs: options.readyWaitMs ?? 2_000 };
  const make = <Q extends QueueKey>(key: Q) => {
    const queue = new Queue(QUEUE_DEFS[key].name, { connection, prefix, defaultJobOptions: DEFAULT_JOB_OPTIONS, skipWaitingForReady: true, skipVersionCheck: true });
    queue.on('error', ignoringOutages((error) => options.logger.error({ err: error, queue: queue.name }, 'queue error')));
    return new TypedQueue(key, queue, guard);
  };
  return {
    slaTimers: make('slaTimers'),
    slaEscalations: make('slaEscalations'),
    notifications: make('notifications'),
    delivery: make('delivery'),
    maintenance: make('maintenance'),
    routing: make('routing'),
  };
}

export async function closeQueues(queues: Queues): Promise<void> {
  await Promise.all(Object.values(queues).map((q) => q.queue.close()));
}
