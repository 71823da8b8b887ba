import type { z } from 'zod';
import type { Config } from '../config.js';
import type { Role } from '../modules/auth/api-keys.models.js';
import type { ChannelSender } from './channel.sender.js';
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

export interface DeliveryToken {
  token: string;
  /** Stable across a provider's redeliveries of the same content (not the raw bytes: a
   * multipart body may be re-encoded with a new boundary). */
  contentDigest: string;
  /** When the signature stops passing its age check; the token is kept a margin longer (TOKEN_PRUNE_MARGIN_MS). */
  expiresAt: Date;
}

/**
 * How a provider proves a delivery is genuine. A union with a required `kind`, so an adapter
 * cannot declare neither (nor both): the webhook route mounts the API-key guard or runs
 * `verify` according to this value alone, never according to a list kept elsewhere.
 */
export type WebhookAuthentication = SignatureAuthentication | ApiKeyAuthentication;

export interface SignatureAuthentication {
  kind: 'signature';
  /** Constant-time check over what arrived; false answers 401 before anything is parsed. */
  verify(request: InboundRequest): Promise<boolean>;
  /**
   * For providers whose signature does not cover the content (Mailgun signs timestamp + token):
   * the verified token and a digest of the content, so the route can refuse the token when it
   * comes back with other content. Called only after verify() succeeded.
   */
  replayToken?(request: InboundRequest): Promise<DeliveryToken>;
}

export interface ApiKeyAuthentication {
  kind: 'api-key';
  /** The API-key roles allowed to post (an MTA pipe, a PBX connector hold an integration key). */
  roles: readonly [Role, ...Role[]];
}

/** How a successful delivery is answered: our JSON summary, or a fixed body the provider expects. */
export type ProviderAnswer =
  | { kind: 'webhook-result' }
  /** Twilio wants TwiML, not JSON: an empty <Response/> says "nothing more to do on this call". */
  | { kind: 'fixed'; contentType: string; body: string };

/** The GET a provider sends to check that the endpoint is ours (Meta's hub challenge, X's CRC). */
export interface Handshake {
  summary: string;
  /** The secret the answer needs: while it is unset the route answers 503 naming it. */
  requiredSetting: SecretSetting;
  /** What the 503 says cannot be done ("answer the X CRC challenge"). */
  purpose: string;
  /** Validated before `answer` runs: a query that fails it is a 400 naming the parameter. */
  querystring: z.ZodType<Record<string, unknown>>;
  /** The 200 body's schema, for the OpenAPI document. */
  response: z.ZodType;
  answer(query: Record<string, unknown>, secret: string): HandshakeAnswer;
}

export type HandshakeAnswer =
  | { kind: 'text'; body: string }
  | { kind: 'json'; body: Record<string, unknown> }
  /** Answered 403 naming `field`: a wrong verify token is not a server problem. */
  | { kind: 'refused'; code: string; detail: string; field: string; message: string };

/** A channel's outbound side, built only when the delivery worker asks for senders. */
export interface OutboundSender {
  sender: ChannelSender;
  /** Releases what the sender holds (an SMTP pool). */
  close?(): void;
}

/**
 * Everything the rest of the system needs to know about one provider endpoint, in one place:
 * how it authenticates, which bodies it takes, how it is parsed and answered, the GET handshake
 * the provider performs, and how replies go back. The webhook route is the same for all of them.
 */
export interface ChannelAdapter {
  channel: Channel;
  /** The route segment under /webhooks ("facebook", "phone/twilio"): the registry key. */
  path: string;
  /** The setting a 503 names when the adapter is not configured; null when always on. */
  requiredSetting: string | null;
  configured: boolean;
  auth: WebhookAuthentication;
  body: {
    limitBytes: number;
    /** Media types the provider posts; anything else is a 415 before auth-by-signature runs. */
    contentTypes: readonly [string, ...string[]];
  };
  /** Throws InvalidPayloadError for malformed input (answered 400, or malformedStatus, and dead-lettered). */
  parse(request: InboundRequest): Promise<ParsedInbound>;
  /**
   * The status that tells this provider a payload is refused for good (malformed, though
   * authenticated), so it stops retrying: 400 when unset. Mailgun retries every other status,
   * 4xx included, for 8 hours and stops only on 406.
   */
  malformedStatus?: 406;
  answer: ProviderAnswer;
  handshake?: Handshake | undefined;
  /** The channel's sender, when this adapter owns it (one adapter per channel does). Returns
   * null when the install lacks the sender's credentials: replies then go dead with a reason. */
  createSender?(): OutboundSender | null;
}

/** One provider's definition: built from the config; the registry gives it its path. */
export type AdapterDefinition = (config: Config) => Omit<ChannelAdapter, 'path'>;

export function headerValue(request: InboundRequest, name: string): string | undefined {
  const value = request.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

/** The settings that hold a provider secret (optional strings). */
export type SecretSetting = { [K in keyof Config]-?: undefined extends Config[K] ? (Config[K] extends string | undefined ? K : never) : never }[keyof Config];

/**
 * The availability and authentication of an adapter signed with one secret setting: the setting
 * a 503 names is the one checked, and verify gets the secret itself (never '' when unset: the
 * route answers 503 before verify runs).
 */
export function signedWith(
  config: Config,
  setting: SecretSetting,
  verify: (request: InboundRequest, secret: string) => boolean | Promise<boolean>,
  replayToken?: SignatureAuthentication['replayToken'],
): Pick<ChannelAdapter, 'requiredSetting' | 'configured' | 'auth'> {
  const secret = config[setting];
  return {
    requiredSetting: setting,
    configured: secret !== undefined,
    auth: {
      kind: 'signature',
      verify: async (request) => secret !== undefined && (await verify(request, secret)),
      ...(replayToken ? { replayToken } : {}),
    },
  };
}
