import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { principalOf } from '../../http/auth.js';
import { LOGIN_PATH, LOGOUT_PATH, type Sessions } from '../../http/session.js';
import { bearerSecurity, problemResponses, type App } from '../../http/types.js';
import { MANAGERS, STAFF } from '../auth/api-keys.models.js';
import type { RoutingService } from '../routing/routing.service.js';
import { routingQueuesView } from '../routing/routing.schemas.js';
import type { BreachOpsService } from '../sla/breaches/breach-ops.service.js';
import { acknowledgeRoute } from '../sla/breaches/breach-ops.routes.js';
import { breachView } from '../sla/breaches/breach.views.js';
import { eventIdSchema, serveEventStream } from '../sla/breaches/event-stream.js';
import type { StreamHub } from '../sla/breaches/sla.stream.js';
import { alarmView, targetSchema } from '../reports/kpi-targets.routes.js';
import { forbiddenPage, wallPage } from './ops.page.js';
import type { OpsService } from './ops.service.js';
import { PAGE_CSP, type WebAssetKind, type WebAssets } from './web-assets.js';

const tags = ['operations'];

/** A breach on the wall: the API's breach with the names an operator reads. */
const breachRow = breachView.extend({
  customerName: z.string().nullable(),
  subject: z.string(),
  acknowledgedBy: z.string().nullable().describe("The acknowledging agent's name, or the API key's name"),
});

const atRiskRow = z.object({
  clockId: z.uuid(),
  ticketId: z.uuid(),
  ticketNumber: z.number().int(),
  customerName: z.string().nullable(),
  subject: z.string(),
  channel: z.string(),
  metric: z.string(),
  priority: z.string(),
  teamId: z.uuid().nullable(),
  assigneeName: z.string().nullable(),
  dueAt: z.date(),
});

const DURATION = /^(\d{1,4})(s|m|h)$/;
const UNIT_SEC: Record<string, number> = { s: 1, m: 60, h: 3600 };


/**
 * The operations wall (issue 17). Everything the page calls lives under /ops, because the
 * session cookie is scoped to /admin and /ops and never reaches /v1: the page, its assets, its
 * JSON (also open to a supervisor's or admin's API key, for scripts), the acknowledgement and
 * the live stream. The JSON and the stream need a supervisor or an admin; the page itself
 * opens for any staff sign-in and shows an agent a 403 page instead of data.
 */
export function registerOpsRoutes(
  app: App,
  deps: { ops: OpsService; sessions: Sessions; assets: WebAssets; stream: StreamHub; breachOps: BreachOpsService; routing: RoutingService },
): void {
  const { ops, sessions, assets } = deps;
  const managers = sessions.guard(MANAGERS);

  app.get('/ops/api/wall', {
    onRequest: managers,
    schema: {
      tags,
      summary: "The operations wall's lists: open and acknowledged breaches (most severe, then newest first) and the clocks at risk, each capped with a total",
      security: bearerSecurity,
      querystring: z.object({
        limit: z.coerce.number().int().min(1).max(200).default(30).describe('Rows per list; the totals count the rest'),
        within: z.string().regex(DURATION, 'a duration such as 30s, 15m or 2h, at most 24h').default('1h').describe('How far ahead the at-risk list looks'),
      }),
      response: {
        200: z.object({
          now: z.date().describe("The server's clock: the page counts down from it"),
          breaches: z.object({ items: z.array(breachRow), total: z.number().int(), open: z.number().int(), acknowledged: z.number().int() }),
          atRisk: z.object({ items: z.array(atRiskRow), total: z.number().int(), withinSec: z.number().int() }),
          teams: z.array(z.object({ id: z.uuid(), name: z.string() })),
        }),
        ...problemResponses(),
      },
    },
    handler: async (request) => {
      const [, amount, unit] = DURATION.exec(request.query.within)!;
      const withinSec = Math.min(Number(amount) * UNIT_SEC[unit!]!, 86_400);
      return ops.wall({ limit: request.query.limit, withinSec });
    },
  });

  app.get('/ops/api/kpis', {
    onRequest: managers,
    schema: {
      tags,
      summary: 'Every KPI target with its value now (over its rolling window) and the raised alarms',
      security: bearerSecurity,
      response: {
        200: z.object({
          now: z.date(),
          targets: z.array(
            targetSchema.extend({
              value: z.number().nullable().describe('null: no data in the window'),
              offTarget: z.boolean(),
            }),
          ),
          alarms: z.array(alarmView),
        }),
        ...problemResponses(),
      },
    },
    handler: async () => ops.kpis(),
  });

  app.get('/ops/api/routing', {
    onRequest: managers,
    schema: {
      tags,
      summary: 'Waiting tickets per team, channel and language, and agents with presence, load and capacity (GET /v1/routing/queues for the wall)',
      security: bearerSecurity,
      response: {
        200: routingQueuesView,
        ...problemResponses(),
      },
    },
    handler: async () => deps.routing.queues(),
  });

  app.post('/ops/api/breaches/:id/ack', {
    onRequest: managers,
    ...acknowledgeRoute(deps.breachOps, {
      tags,
      summary: 'Acknowledge a breach from the wall (POST /v1/sla/breaches/{id}/ack for the session cookie)',
    }),
  });

  // The operations stream (GET /v1/sla/stream) for the session cookie; kept out of the OpenAPI
  // document like the other pages' plumbing (scripts use /v1/sla/stream).
  app.get('/ops/stream', {
    onRequest: managers,
    schema: { hide: true, querystring: z.object({ lastEventId: eventIdSchema.optional() }), headers: z.object({ 'last-event-id': eventIdSchema.optional() }) },
    handler: async (request, reply) => {
      await serveEventStream(deps.stream, request, reply, { resumeFrom: request.headers['last-event-id'] ?? request.query.lastEventId, nameOf: (event) => event.type, replayPages: 1 });
    },
  });

  // same-origin, not helmet's no-referrer: under no-referrer a browser sends "Origin: null" with
  // the page's POSTs (acknowledge, sign out), which the session's same-origin check must refuse.
  const pageReply = (reply: FastifyReply, status: number, html: string) =>
    reply
      .status(status)
      .header('content-security-policy', PAGE_CSP)
      .header('referrer-policy', 'same-origin')
      .header('cache-control', 'no-store')
      .type('text/html; charset=utf-8')
      .send(html);

  // HTML for people: out of the OpenAPI document, like the sign-in form and Bull Board.
  app.get('/ops', {
    onRequest: sessions.guard(STAFF),
    schema: { hide: true },
    handler: async (request, reply) => {
      const principal = principalOf(request);
      const bundle = await assets.get('ops');
      const common = { assets: bundle, userName: principal.name, role: principal.role, logoutUrl: LOGOUT_PATH };
      if (!MANAGERS.includes(principal.role)) return pageReply(reply, 403, forbiddenPage(common));
      return pageReply(reply, 200, wallPage({ ...common, loginUrl: LOGIN_PATH, streamUrl: '/ops/stream' }));
    },
  });

  app.get('/ops/assets/:file', {
    schema: { hide: true, params: z.object({ file: z.enum(['ops.js', 'ops.css']) }), querystring: z.object({ v: z.string().max(64).optional() }) },
    handler: async (request, reply) => {
      const bundle = await assets.get('ops');
      const asset = bundle[request.params.file.split('.')[1] as WebAssetKind];
      void reply.header('cache-control', request.query.v === asset.hash ? 'public, max-age=31536000, immutable' : 'no-cache');
      // A Buffer goes out as it is (the zod serializer only sees JSON answers).
      return reply.type(asset.contentType).send(asset.body as unknown as string);
    },
  });
}
