import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { Database } from '../../db/client.js';
import { sendProblem } from '../../http/problem.js';
import { problemSchema, type App } from '../../http/types.js';
import { readiness } from './readiness.js';

export function registerHealthRoutes(app: App, deps: { db: Database; redis: Redis }): void {
  app.get('/healthz', {
    schema: { tags: ['health'], summary: 'The process is up', response: { 200: z.object({ status: z.literal('ok') }) } },
    handler: async () => ({ status: 'ok' as const }),
  });

  app.get('/readyz', {
    schema: {
      tags: ['health'],
      summary: 'Postgres and Redis answer',
      response: { 200: z.object({ status: z.literal('ok'), postgres: z.string(), redis: z.string() }), 503: problemSchema },
    },
    handler: async (request, reply) => {
      const { postgres, redis } = await readiness(deps);
      if (postgres === 'ok' && redis === 'ok') return { status: 'ok' as const, postgres, redis };
      return sendProblem(reply, {
        type: 'urn:complaint-desk:problem:not-ready',
        title: 'Service unavailable',
        status: 503,
        detail: `postgres: ${postgres}; redis: ${redis}`,
        code: 'not-ready',
        instance: request.url,
        postgres,
        redis,
      });
    },
  });
}
