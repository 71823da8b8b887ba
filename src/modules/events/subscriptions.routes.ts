import { z } from 'zod';
import type { Guard } from '../../http/auth.js';
import { cursorKeys, decodeCursor, limitSchema, toPage } from '../../http/pagination.js';
import { bearerSecurity, problemResponses, type App } from '../../http/types.js';
import { ADMINS } from '../auth/api-keys.models.js';
import { toDeliveryView, type SubscriptionService } from './subscriptions.service.js';
import { DELIVERY_STATES } from './webhooks.table.js';

const tags = ['webhooks'];

const eventTypes = z
  .array(z.string().max(100))
  .max(100)
  .nullable()
  .describe('The event types to deliver (GET /v1/events/types); null or absent: every type');

const createBody = z.strictObject({
  url: z.string().max(2000).describe('Where deliveries are POSTed: https, a public address, reachable when saved'),
  eventTypes: eventTypes.optional(),
  description: z.string().max(500).nullable().optional(),
  active: z.boolean().optional(),
});

const updateBody = z.strictObject({
  url: z.string().max(2000).optional(),
  eventTypes: eventTypes.optional(),
  description: z.string().max(500).nullable().optional(),
  active: z.boolean().optional().describe('false pauses deliveries; true re-enables a subscription the service disabled (and clears its alarm)'),
});

const subscriptionView = z
  .object({
    id: z.uuid(),
    url: z.string(),
    description: z.string().nullable(),
    eventTypes: z.array(z.string()).nullable(),
    active: z.boolean(),
    disabledReason: z.string().nullable().describe('Why the service disabled it (persistent failures)'),
    disabledAt: z.date().nullable(),
    previousSecretExpiresAt: z.date().nullable().describe('Until then the previous secret also signs (after a rotation)'),
    createdAt: z.date(),
    updatedAt: z.date(),
  })
  .meta({ id: 'WebhookSubscription' });

const createdView = subscriptionView
  .extend({ secret: z.string().describe('The signing secret (whsec_…): shown only now') })
  .meta({ id: 'WebhookSubscriptionWithSecret' });

const deliveryView = z
  .object({
    id: z.uuid(),
    eventId: z.number().int(),
    eventType: z.string(),
    state: z.enum(DELIVERY_STATES),
    attempts: z.number().int(),
    lastResponseCode: z.number().int().nullable(),
    lastLatencyMs: z.number().int().nullable(),
    lastError: z.string().nullable(),
    lastAttemptAt: z.date().nullable(),
    nextAttemptAt: z.date().nullable(),
    deliveredAt: z.date().nullable(),
    expiresAt: z.date().describe('Retried until then, then failed'),
    createdAt: z.date(),
  })
  .meta({ id: 'WebhookDelivery' });

const idParams = z.object({ id: z.uuid().describe('The subscription id') });

export function registerSubscriptionRoutes(app: App, deps: { guard: Guard; subscriptions: SubscriptionService; onRedeliver?: () => void }): void {
  const { guard, subscriptions } = deps;

  app.post('/v1/webhook-subscriptions', {
    onRequest: guard(ADMINS),
    config: { answerHoldsSecret: true },
    schema: {
      tags,
      summary: 'Subscribe a URL to events (Standard Webhooks deliveries); the answer shows the signing secret, once',
      security: bearerSecurity,
      body: createBody,
      response: { 201: createdView, ...problemResponses() },
    },
    handler: async (request, reply) => reply.status(201).send(await subscriptions.create(request.body)),
  });

  app.get('/v1/webhook-subscriptions', {
    onRequest: guard(ADMINS),
    schema: { tags, summary: 'Every webhook subscription', security: bearerSecurity, response: { 200: z.object({ items: z.array(subscriptionView) }), ...problemResponses() } },
    handler: async () => ({ items: await subscriptions.list() }),
  });

  app.get('/v1/webhook-subscriptions/:id', {
    onRequest: guard(ADMINS),
    schema: { tags, summary: 'A webhook subscription', security: bearerSecurity, params: idParams, response: { 200: subscriptionView, ...problemResponses(404) } },
    handler: async (request) => subscriptions.read(request.params.id),
  });

  app.patch('/v1/webhook-subscriptions/:id', {
    onRequest: guard(ADMINS),
    schema: { tags, summary: 'Change a subscription (url, event types, description, active)', security: bearerSecurity, params: idParams, body: updateBody, response: { 200: subscriptionView, ...problemResponses(404) } },
    handler: async (request) => subscriptions.update(request.params.id, request.body),
  });

  app.delete('/v1/webhook-subscriptions/:id', {
    onRequest: guard(ADMINS),
    schema: { tags, summary: 'Delete a subscription and its delivery log', security: bearerSecurity, params: idParams, response: { 204: z.null(), ...problemResponses(404) } },
    handler: async (request, reply) => {
      await subscriptions.remove(request.params.id);
      return reply.status(204).send(null);
    },
  });

  app.post('/v1/webhook-subscriptions/:id/rotate-secret', {
    onRequest: guard(ADMINS),
    config: { answerHoldsSecret: true },
    schema: {
      tags,
      summary: 'A new signing secret, shown once; the previous one keeps signing (a second signature) for WEBHOOK_SECRET_OVERLAP_HOURS',
      security: bearerSecurity,
      params: idParams,
      response: { 200: z.object({ secret: z.string(), previousSecretExpiresAt: z.date().nullable() }), ...problemResponses(404) },
    },
    handler: async (request) => subscriptions.rotateSecret(request.params.id),
  });

  app.get('/v1/webhook-subscriptions/:id/deliveries', {
    onRequest: guard(ADMINS),
    schema: {
      tags,
      summary: "A subscription's deliveries, newest first: state, attempts, last response code and latency",
      security: bearerSecurity,
      params: idParams,
      querystring: z.object({ state: z.enum(DELIVERY_STATES).optional().describe('Only deliveries in this state'), limit: limitSchema, cursor: z.string().max(500).optional() }),
      response: { 200: z.object({ items: z.array(deliveryView), nextCursor: z.string().nullable() }), ...problemResponses(404) },
    },
    handler: async (request) => {
      const q = request.query;
      const cursor = decodeCursor(q.cursor, cursorKeys.instant);
      const rows = await subscriptions.deliveries(request.params.id, { state: q.state, limit: q.limit + 1, before: cursor ? { createdAt: new Date(cursor.v), id: cursor.id } : undefined });
      return toPage(rows, q.limit, (r) => ({ v: r.createdAt.toISOString(), id: r.id }), toDeliveryView);
    },
  });

  app.post('/v1/webhook-subscriptions/:id/deliveries/:deliveryId/redeliver', {
    onRequest: guard(ADMINS),
    schema: {
      tags,
      summary: "Send a delivery's event again (a new delivery, same webhook-id so the subscriber can deduplicate)",
      security: bearerSecurity,
      params: idParams.extend({ deliveryId: z.uuid().describe('The delivery to send again') }),
      response: { 202: deliveryView, ...problemResponses(404, 409) },
    },
    handler: async (request, reply) => {
      const row = await subscriptions.redeliver(request.params.id, request.params.deliveryId);
      deps.onRedeliver?.();
      return reply.status(202).send(toDeliveryView(row));
    },
  });
}
