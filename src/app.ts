import { randomUUID } from 'node:crypto';
import cookie from '@fastify/cookie';
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { jsonSchemaTransform, jsonSchemaTransformObject, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { responseSerializerCompiler } from './http/serializer.js';
import type { Dependencies } from './dependencies.js';
import { createGuard, type RefusalCounter } from './http/auth.js';
import { createAuthFailureLimiter } from './http/auth-failures.js';
import { addressBucket } from './http/client-address.js';
import { registerCors } from './http/cors.js';
import { registerIdempotency } from './http/idempotency.js';
import { createSessions } from './http/session.js';
import { registerSessionRoutes } from './http/session-routes.js';
import { createSessionService } from './modules/sessions/sessions.service.js';
import { sessionSecretSource } from './modules/sessions/session-secret.js';
import { createStreamTokens } from './modules/stream-tokens/stream-tokens.js';
import { createOidcAuthenticator } from './http/oidc.js';
import { createOidcLogin, registerOidcLoginRoutes } from './http/oidc-login.js';
import { registerStreamTokenRoutes } from './modules/stream-tokens/stream-tokens.routes.js';
import { finishOpenApi } from './http/openapi.js';
import { installProblemHandlers, problemOf, sendProblem } from './http/problem.js';
import type { App } from './http/types.js';
import { registerAgentRoutes } from './modules/agents/agents.routes.js';
import { createAgentService } from './modules/agents/agents.service.js';
import { registerApiKeyRoutes } from './modules/auth/api-keys.routes.js';
import { registerAuditTrail } from './modules/audit/audit.recorder.js';
import { registerAuditRoutes } from './modules/audit/audit.routes.js';
import { createAuditService } from './modules/audit/audit.service.js';
import { createErasureService } from './modules/privacy/erasure.service.js';
import { createExportService } from './modules/privacy/export.service.js';
import { registerPrivacyRoutes } from './modules/privacy/privacy.routes.js';
import { createRetentionService } from './modules/privacy/retention.service.js';
import { registerBlocklistRoutes } from './modules/blocklist/blocklist.routes.js';
import { registerCustomerRoutes } from './modules/customers/customers.routes.js';
import { createCustomerService } from './modules/customers/customers.service.js';
import { registerHealthRoutes } from './modules/health/health.routes.js';
import { registerWebhookRoutes } from './modules/intake/webhooks.routes.js';
import { registerMailboxRoutes } from './modules/mailboxes/mailboxes.routes.js';
import { createMailboxService } from './modules/mailboxes/mailboxes.service.js';
import { registerCommitmentRoutes } from './modules/sla/commitments/commitments.routes.js';
import { registerSlaConfigRoutes } from './modules/sla/policies/sla-config.routes.js';
import { registerBreachOpsRoutes } from './modules/sla/breaches/breach-ops.routes.js';
import { createStreamHub } from './modules/sla/breaches/sla.stream.js';
import { registerEvents } from './modules/events/events.module.js';
import { createPageClocks, createSlaViews } from './modules/sla/clocks/sla.views.js';
import { registerObservability } from './http/observability.js';
import { registerDeliveryRoutes } from './modules/delivery/delivery.routes.js';
import { createTemplateService } from './modules/delivery/templates.service.js';
import { registerCsatRoutes } from './modules/csat/csat.routes.js';
import { createCsatPage, registerCsatPageAssets } from './modules/csat/csat-page.js';
import { registerOpsRoutes } from './modules/ops/ops.routes.js';
import { createOpsService } from './modules/ops/ops.service.js';
import { createWebAssets } from './modules/ops/web-assets.js';
import { registerKpiRoutes } from './modules/reports/kpi.routes.js';
import { createReasonService } from './modules/reasons/reasons.service.js';
import { registerReasonRoutes } from './modules/reasons/reasons.routes.js';
import { createSurveySettingsService } from './modules/surveys/survey-settings.service.js';
import { registerSurveySettingsRoutes } from './modules/surveys/survey-settings.routes.js';
import { figureSettingsOf } from './modules/work/figure-settings.js';
import { registerWorkRoutes } from './modules/work/work.routes.js';
import { createWorkService } from './modules/work/work.service.js';
import { createTemplateRenderer } from './modules/delivery/templates.js';
import { registerRoutingRoutes } from './modules/routing/routing.routes.js';
import { registerTeamRoutes } from './modules/teams/teams.routes.js';
import { createTeamService } from './modules/teams/teams.service.js';
import { registerTicketRoutes } from './modules/tickets/tickets.routes.js';

export const API_VERSION = '0.1.0';

/**
 * Builds the HTTP app from explicit dependencies (no autoloading): tests call this and use
 * app.inject or listen on a port; main.ts listens.
 */
export async function buildApp(deps: Dependencies): Promise<App> {
  const { config } = deps;
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    bodyLimit: config.BODY_LIMIT_BYTES,
    // Explicit timeouts: a slow client must not hold a connection (and a pool slot) forever.
    requestTimeout: 30_000,
    connectionTimeout: 30_000,
    keepAliveTimeout: 72_000,
    // X-Forwarded-For is believed only from the listed proxies: otherwise any client could
    // pick its own address and rotate past per-address limits.
    trustProxy: config.TRUST_PROXY.length > 0 ? config.TRUST_PROXY : false,
    genReqId: (req) => (typeof req.headers['x-request-id'] === 'string' && req.headers['x-request-id'].length <= 128 ? req.headers['x-request-id'] : randomUUID()),
    ajv: { customOptions: { coerceTypes: false } },
    // Errors raised before routing (a malformed URL) answer problem+json like every other.
    frameworkErrors: (error, request, reply) => {
      void sendProblem(reply, problemOf(error, request));
    },
  }).withTypeProvider<ZodTypeProvider>();
  // The API takes JSON; a text/plain body is an unsupported media type, not a string.
  app.removeContentTypeParser('text/plain');

  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(responseSerializerCompiler(config.NODE_ENV === 'production' ? 'trusted' : 'strict'));
  app.decorateRequest('principal', null);
  installProblemHandlers(app);
  // The request id (the client's X-Request-Id, or one made up) goes back on every answer.
  app.addHook('onRequest', async (request, reply) => {
    void reply.header('x-request-id', request.id);
  });
  // Routing (issue 13): a request with an agent's key is activity (idle agents become away).
  app.addHook('preHandler', async (request) => {
    if (request.principal?.agentId) deps.routing.touch(request.principal.agentId);
  });

  // A JSON API serves no HTML of its own; the CSP would only get in swagger-ui's way.
  await app.register(helmet, { contentSecurityPolicy: false, global: true });
  await registerCors(app, config.CORS_ORIGINS);
  registerIdempotency(app, { db: deps.db, clock: deps.clock, ttlHours: config.IDEMPOTENCY_KEY_TTL_HOURS });
  // Audit trail (issue 15): every staff write, by hooks around every route (audit.recorder.ts).
  registerAuditTrail(app, { pool: deps.pool, clock: deps.clock, logger: deps.logger });

  if (config.RATE_LIMIT_PER_MINUTE > 0) {
    await app.register(rateLimit, {
      global: true,
      max: config.RATE_LIMIT_PER_MINUTE,
      timeWindow: 60_000,
      redis: deps.redis,
      nameSpace: `${config.QUEUE_PREFIX}:rate:`,
      // A Redis hiccup must not take the API down with it: skip limiting rather than fail.
      skipOnError: true,
      // After the route's guard (onRequest), so the budget belongs to the key that verified, never
      // to whatever a client wrote in its Authorization header: made-up keys cannot rotate past
      // the limit nor spend another key's budget. A request whose key fails never gets here;
      // those are counted per address by the guard's failure limiter. Requests the guard refuses
      // for want of a key, or for a key of the wrong role, are counted by the guard itself
      // (countRefused below). An address is its /64 for IPv6 (see addressBucket).
      hook: 'preValidation',
      keyGenerator: (request) => (request.principal ? `key:${request.principal.keyId}` : `ip:${addressBucket(request.ip)}`),
      allowList: (request) => request.url === '/healthz' || request.url === '/readyz',
      errorResponseBuilder: (_request, context) =>
        Object.assign(new Error(`Rate limit of ${context.max} requests per minute exceeded; retry in ${context.after}.`), { statusCode: 429 }),
    });
  }

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'complaint-desk',
        version: API_VERSION,
        description: 'Omnichannel complaint ticketing: phone, e-mail, Facebook and Twitter/X in one ticket model, with SLA timers, escalation, FCR and KPIs. Errors are application/problem+json (RFC 9457).',
      },
      components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', description: 'An API key: cdk_<prefix>_<secret>' } } },
    },
    transform: jsonSchemaTransform,
    // Schemas with a meta id (Problem, Ticket, Message) become components, referenced once.
    transformObject: (input) => finishOpenApi(jsonSchemaTransformObject(input)),
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  const failures =
    config.AUTH_FAILURES_PER_MINUTE > 0 ? createAuthFailureLimiter({ redis: deps.redis, prefix: `${config.QUEUE_PREFIX}:rate`, maxPerMinute: config.AUTH_FAILURES_PER_MINUTE }) : undefined;
  // One secret (SESSION_SECRET or generated into the database) signs session cookies and stream tokens.
  const sessionSecret = sessionSecretSource({ db: deps.db, clock: deps.clock, configured: config.SESSION_SECRET });
  const streamTokens = createStreamTokens({ secret: sessionSecret, clock: deps.clock });
  const guard = createGuard(deps.apiKeys, failures, config.RATE_LIMIT_PER_MINUTE > 0 ? refusalCounter(app.createRateLimit()) : undefined, {
    streamTokens,
    reauthorizeMs: config.STREAM_REAUTHORIZE_SEC * 1000,
    // OIDC (optional): a JWT bearer from OIDC_ISSUER authenticates as the agent with its e-mail.
    ...(config.OIDC_ISSUER && config.OIDC_AUDIENCE
      ? { oidc: createOidcAuthenticator({ issuer: config.OIDC_ISSUER, audience: config.OIDC_AUDIENCE, jwksUrl: config.OIDC_JWKS_URL, roleClaim: config.OIDC_ROLE_CLAIM, db: deps.db }) }
      : {}),
  });
  // Browser sessions (Bull Board, the ops wall): src/http/session.ts. Only pages read the cookie.
  await app.register(cookie);
  const sessions = createSessions({
    sessions: createSessionService({ db: deps.db, clock: deps.clock, ttlHours: config.SESSION_TTL_HOURS }),
    secret: sessionSecret,
    guard,
    reauthorizeMs: config.STREAM_REAUTHORIZE_SEC * 1000,
    ttlHours: config.SESSION_TTL_HOURS,
  });
  // "Sign in with <provider>" on the same form when OIDC_ISSUER and OIDC_CLIENT_ID are set (issue 17).
  const oidcLogin = createOidcLogin(config, deps.clock);
  await registerSessionRoutes(app, { apiKeys: deps.apiKeys, sessions, failures, oidc: oidcLogin ? { label: oidcLogin.label } : undefined });
  registerOidcLoginRoutes(app, { login: oidcLogin, sessions, secret: sessionSecret, clock: deps.clock, db: deps.db });
  registerStreamTokenRoutes(app, { guard, streamTokens });
  const stream = createStreamHub({ databaseUrl: config.DATABASE_URL, db: deps.db, logger: deps.logger, link: deps.links.postgres });
  // preClose, not onClose: open event streams must end before the server waits for its connections.
  app.addHook('preClose', async () => stream.close());
  registerHealthRoutes(app, deps);
  await registerObservability(app, { metrics: deps.metrics, queues: deps.queues, guard, pageGuard: sessions.guard });
  const slaOf = createSlaViews(deps);
  registerTicketRoutes(app, { db: deps.db, tickets: deps.tickets, guard, slaOf, pageClocks: createPageClocks(deps), renderTemplate: createTemplateRenderer(deps.db) });
  registerCustomerRoutes(app, { guard, customers: createCustomerService({ db: deps.db, clock: deps.clock, clocksOf: slaOf }) });
  registerTeamRoutes(app, { guard, teams: createTeamService({ db: deps.db, clock: deps.clock, routing: deps.routing.triggers }) });
  registerBlocklistRoutes(app, { db: deps.db, clock: deps.clock, defaultPhoneRegion: config.DEFAULT_PHONE_REGION, guard });
  registerAgentRoutes(app, { guard, agents: createAgentService({ db: deps.db, clock: deps.clock, routing: deps.routing.triggers }) });
  registerRoutingRoutes(app, { guard, routing: deps.routing, stream });
  registerApiKeyRoutes(app, { db: deps.db, apiKeys: deps.apiKeys, guard });
  registerSlaConfigRoutes(app, { guard, slaConfig: deps.slaConfig });
  registerBreachOpsRoutes(app, { breachOps: deps.breachOps, guard, stream });
  registerCommitmentRoutes(app, { commitments: deps.commitments, guard });
  // Events (issue 15): the catalog, the live event stream, webhook subscriptions.
  registerEvents(app, deps, guard);
  // The customer's survey page and the operations wall (issues 14, 17): pages with browser bundles built from src/web.
  const webAssets = createWebAssets();
  registerCsatRoutes(app, { csat: deps.csat, page: createCsatPage({ db: deps.db, csat: deps.csat, assets: webAssets }) });
  registerCsatPageAssets(app, webAssets);
  registerOpsRoutes(app, { ops: createOpsService({ db: deps.db, clock: deps.clock }), sessions, assets: webAssets, stream, breachOps: deps.breachOps, routing: deps.routing });
  registerKpiRoutes(app, { db: deps.db, readDb: deps.readDb, clock: deps.clock, guard, settings: figureSettingsOf(config) });
  // Issue 16: work time, complaint reasons and root causes, survey settings.
  registerWorkRoutes(app, { guard, work: createWorkService({ db: deps.db, clock: deps.clock, settings: figureSettingsOf(config) }) });
  registerReasonRoutes(app, { guard, reasons: createReasonService({ db: deps.db, clock: deps.clock }) });
  registerSurveySettingsRoutes(app, { guard, surveys: createSurveySettingsService({ db: deps.db, clock: deps.clock }) });
  registerDeliveryRoutes(app, { guard, delivery: deps.delivery, templates: createTemplateService({ db: deps.db, clock: deps.clock }) });
  registerWebhookRoutes(app, { config, clock: deps.clock, intake: deps.intake, adapters: deps.inboundAdapters, guard, failures });
  registerMailboxRoutes(app, {
    guard,
    mailboxes: createMailboxService({ db: deps.db, clock: deps.clock, secretKey: config.MAILBOX_SECRET_KEY, allowHttpTokenUrl: config.OUTBOUND_ALLOW_HTTP, allowPrivate: config.OUTBOUND_ALLOW_PRIVATE }),
  });
  // Audit, export, erasure, retention (issue 15).
  const audit = createAuditService({ db: deps.db });
  registerAuditRoutes(app, { guard, audit });
  registerPrivacyRoutes(app, {
    guard,
    erasure: createErasureService({ db: deps.db, clock: deps.clock, logger: deps.logger, redis: deps.redis, queuePrefix: config.QUEUE_PREFIX }),
    exports: createExportService({ db: deps.db, clock: deps.clock, audit }),
    retention: createRetentionService({ db: deps.db, clock: deps.clock, logger: deps.logger, batchSize: config.RETENTION_BATCH_SIZE, maxBatches: config.RETENTION_MAX_BATCHES }),
  });

  return app;
}

/** The request budget (same store and keys as the rate-limit plugin) for requests the guard refuses. */
function refusalCounter(limit: ReturnType<FastifyInstance['createRateLimit']>): RefusalCounter {
  return async (request) => {
    // Fails open like the plugin (skipOnError): a Redis outage does not turn 401s into 500s.
    const result = await limit(request).catch(() => undefined);
    return result && !result.isAllowed && result.isExceeded ? Math.max(result.ttlInSeconds, 1) : 0;
  };
}
