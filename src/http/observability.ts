import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { Metrics } from '../shared/metrics.js';
import type { Queues } from '../queues/queues.js';
import { ADMINS, MANAGERS } from '../modules/auth/api-keys.models.js';
import type { Guard } from './auth.js';
import { problemOf, sendProblem } from './problem.js';
import type { App } from './types.js';

const JOB_STATES = ['waiting', 'delayed', 'active', 'failed'] as const;

/** Prometheus metrics (supervisors and admins) and Bull Board (admins), both behind API keys. */
export async function registerObservability(app: App, deps: { metrics: Metrics; queues: Queues; guard: Guard; pageGuard?: Guard }): Promise<void> {
  const { metrics, queues } = deps;

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.httpDuration.observe({ method: request.method, route, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });

  app.get('/metrics', {
    onRequest: deps.guard(MANAGERS),
    schema: { tags: ['operations'], summary: 'Prometheus metrics', security: [{ bearerAuth: [] }] },
    handler: async (_request, reply) => {
      // Queue depths are read at scrape time rather than tracked, so they are never stale.
      for (const { queue } of Object.values(queues)) {
        const counts = await queue.getJobCounts(...JOB_STATES).catch(() => null);
        for (const state of JOB_STATES) if (counts) metrics.queueDepth.set({ queue: queue.name, state }, counts[state] ?? 0);
      }
      return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
    },
  });

  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath('/admin/queues');
  createBullBoard({ queues: Object.values(queues).map((q) => new BullMQAdapter(q.queue)), serverAdapter });
  // A person signs in with the form (a session cookie, src/http/session.ts); scripts send the key.
  const adminOnly = (deps.pageGuard ?? deps.guard)(ADMINS);
  await app.register(
    async (scope) => {
      // Bull Board installs its own error handler, which would render a refused key as a
      // 500: the guard answers the problem itself instead of throwing into it.
      scope.addHook('onRequest', async (request, reply) => {
        try {
          await adminOnly.call(scope, request, reply, () => undefined);
        } catch (error) {
          return sendProblem(reply, problemOf(error, request));
        }
      });
      await scope.register(serverAdapter.registerPlugin(), { prefix: '/' });
    },
    { prefix: '/admin/queues' },
  );
  // The dashboard lives at /admin/queues/; the bare path redirects there.
  app.get('/admin/queues', { schema: { hide: true } }, (_request, reply) => reply.redirect('/admin/queues/', 308));
}
