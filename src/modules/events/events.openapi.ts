import { z } from 'zod';
import { EVENT_DESCRIPTIONS, EVENT_TYPES, EVENT_VERSIONS, envelopeSchema } from '../../domain/events/catalog.js';

type Json = Record<string, unknown>;

/** The OpenAPI component name of an event type's envelope: ticket.status_changed → EventTicketStatusChanged. */
export const eventComponentName = (type: string) =>
  'Event' +
  type
    .split(/[._]/)
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join('');

const SIGNATURE_HEADERS = [
  { name: 'webhook-id', description: 'msg_<event id>: the same on every attempt and redelivery (deduplicate on it)' },
  { name: 'webhook-timestamp', description: 'Seconds since the epoch when this attempt was signed' },
  { name: 'webhook-signature', description: 'Space-separated v1,<base64 HMAC-SHA256 of "<webhook-id>.<webhook-timestamp>.<body>"> (two during a secret rotation)' },
];

/**
 * Publishes the event catalog in the OpenAPI document: each type's envelope (versioned) as a
 * component schema, and as an OpenAPI 3.1 webhook, which is what a subscriber receives.
 */
export function publishEventSchemas(doc: { components?: { schemas?: Json } & Json } & Json): void {
  const components = (doc.components ??= {});
  const schemas = (components.schemas ??= {});
  const webhooks = ((doc.webhooks as Json | undefined) ??= {}) as Json;
  for (const type of EVENT_TYPES) {
    const name = eventComponentName(type);
    const { $schema: _ignored, ...schema } = z.toJSONSchema(envelopeSchema(type), { io: 'output', unrepresentable: 'any' }) as Json;
    schemas[name] = { ...schema, title: `${type} v${EVENT_VERSIONS[type]}` };
    webhooks[type] = {
      post: {
        operationId: `webhook${name}`,
        summary: `${type} (version ${EVENT_VERSIONS[type]})`,
        description: `${EVENT_DESCRIPTIONS[type]} Delivered to subscriptions that take it, signed per Standard Webhooks.`,
        tags: ['webhooks'],
        security: [],
        parameters: SIGNATURE_HEADERS.map((h) => ({ name: h.name, in: 'header', required: true, description: h.description, schema: { type: 'string' } })),
        requestBody: { required: true, content: { 'application/json': { schema: { $ref: `#/components/schemas/${name}` } } } },
        responses: {
          '200': { description: 'Any 2xx answer: delivered' },
          '400': { description: 'Any other answer, a timeout or no connection: retried with backoff for WEBHOOK_RETRY_HOURS' },
        },
      },
    };
  }
}
