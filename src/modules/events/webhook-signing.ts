import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';

/**
 * Standard Webhooks (https://www.standardwebhooks.com) signing with the reference
 * implementation (the `standardwebhooks` package): `v1,<base64 HMAC-SHA256 of
 * "<id>.<timestamp>.<body>">` under the base64 key after `whsec_`. During a rotation's overlap
 * both secrets sign and the header carries both signatures, space-separated, as the
 * specification allows, so a subscriber verifying with either secret accepts the delivery.
 */

export const SECRET_PREFIX = 'whsec_';

export function generateSecret(): string {
  return SECRET_PREFIX + randomBytes(32).toString('base64');
}

export interface SignedHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

export function signDelivery(input: { messageId: string; timestamp: Date; body: string; secrets: string[] }): SignedHeaders {
  const signatures = input.secrets.map((secret) => new Webhook(secret).sign(input.messageId, input.timestamp, input.body));
  return {
    'webhook-id': input.messageId,
    'webhook-timestamp': String(Math.floor(input.timestamp.getTime() / 1000)),
    'webhook-signature': signatures.join(' '),
  };
}

/** The webhook-id of an event: the same on every attempt and redelivery, so a subscriber can deduplicate. */
export const messageIdOf = (eventId: number): string => `msg_${eventId}`;
