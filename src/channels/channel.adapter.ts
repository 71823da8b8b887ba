import type { Channel, NormalizedInbound } from './channel.types.js';

/** What a webhook request looks like to an adapter: raw bytes, so signatures hash what arrived. */
export interface InboundRequest {
  rawBody: Buffer;
  contentType: string | undefined;
  headers: Record<string, string | string[] | undefined>;
  /** The URL the provider called, as it sees it (PUBLIC_BASE_URL + path and query). */
  publicUrl: string;
  receivedAt: Date;
}

export interface ParsedInbound {
  messages: NormalizedInbound[];
  /** Events we received but do not turn into messages (echoes, read receipts…), with why. */
  skipped: { reason: string; ref?: string | undefined }[];
}

/**
 * One adapter per provider endpoint. The webhook route runs: configured? → verify → parse →
 * ingest, the same for every channel; each adapter only knows its provider's wire format.
 */
export interface InboundAdapter {
  channel: Channel;
  /** The route segment under /webhooks, e.g. "facebook" or "phone/twilio". */
  path: string;
  /** The setting a 503 names when the adapter is not configured; null when always on. */
  requiredSetting: string | null;
  configured: boolean;
  /** Constant-time signature check; adapters authenticated by API key return true. */
  verify(request: InboundRequest): Promise<boolean>;
  /** Throws InvalidPayloadError for malformed input (answered 400 and dead-lettered). */
  parse(request: InboundRequest): Promise<ParsedInbound>;
  /**
   * For providers whose signature does not cover the content (Mailgun signs timestamp + token):
   * the verified token and a digest of the content, so the route can refuse the token when it
   * comes back with other content. Called only after verify() succeeded.
   */
  deliveryToken?(request: InboundRequest): Promise<DeliveryToken>;
}

export interface DeliveryToken {
  token: string;
  /** Stable across a provider's redeliveries of the same content (not the raw bytes: a
   * multipart body may be re-encoded with a new boundary). */
  contentDigest: string;
  /** When the signature stops passing its age check: the token need not be kept after that. */
  expiresAt: Date;
}

export function headerValue(request: InboundRequest, name: string): string | undefined {
  const value = request.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}
