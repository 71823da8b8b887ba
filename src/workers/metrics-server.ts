import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Dependencies } from '../dependencies.js';
import { createGuard } from '../http/auth.js';
import { installProblemHandlers } from '../http/problem.js';
import { MANAGERS } from '../modules/auth/api-keys.models.js';
import { readiness } from '../modules/health/readiness.js';

const JOB_STATES = ['waiting', 'delayed', 'active', 'failed'] as const;

/**
 * GET /metrics of a worker-only process (ROLE=worker), on METRICS_PORT: the SLA timers,
 * routing and queue figures live in the process that fires them, and an API process cannot
 * report them. Behind the same API keys as the API's /metrics (supervisors and admins);
 * /healthz and /readyz (unauthenticated, no data beyond "ok" or what is down) are the
 * container's probes, as on the API port.
 */
export async function startMetricsServer(deps: Dependencies, port: number, host: string): Promise<FastifyInstance> {
  const { metrics, queues } = deps;
  const app = Fastify({ loggerInstance: deps.logger as FastifyBaseLogger, requestTimeout: 10_000, connectionTimeout: 10_000 });
  app.decorateRequest('principal', null);
  installProblemHandlers(app);
  const guard = createGuard(deps.apiKeys);
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const { postgres, redis } = await readiness(deps);
    const ready = postgres === 'ok' && redis === 'ok';
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ok' : 'not-ready', postgres, redis });
  });
  app.get('/metrics', { onRequest: guard(MANAGERS) }, async (_request, reply) => {
    for (const { queue } of Object.values(queues)) {
      const counts = await queue.getJobCounts(...JOB_STATES).catch(() => null);
      for (const state of JOB_STATES) if (counts) metrics.queueDepth.set({ queue: queue.name, state }, counts[state] ?? 0);
    }
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  await app.listen({ port, host });
  return app;
}
