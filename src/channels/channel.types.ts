/**
 * The one shape every channel adapter produces from a provider payload. Everything after the
 * adapter (customer resolution, threading, SLA clocks) works on this and never on a provider's
 * wire format.
 */
export const CHANNELS = ['email', 'phone', 'facebook', 'twitter'] as const;
export type Channel = (typeof CHANNELS)[number];

/** Kinds of identity a customer can be known by; unique per (kind, normalized address). */
export const IDENTITY_KINDS = ['email', 'phone', 'facebook', 'twitter'] as const;
export type IdentityKind = (typeof IDENTITY_KINDS)[number];

export interface SenderIdentity {
  kind: IdentityKind;
  /** Normalized: e-mail lower-cased, phone E.164, Facebook "<pageId>:<psid>", X user id. */
  address: string;
  displayName?: string | undefined;
  /** Extra handle worth showing (an X screen name, say); not used for matching. */
  handle?: string | undefined;
}

export interface AttachmentMeta {
  filename: string | null;
  contentType: string;
  size: number;
  contentId?: string | undefined;
  /** True for inline (cid:) images that belong to the HTML body. */
  inline?: boolean | undefined;
  /** Provider-hosted content (Messenger attachment URL, Twilio recording URL). */
  url?: string | undefined;
  /** The bytes when the payload carried them (e-mail); stored, never dropped. */
  content?: Buffer | undefined;
  checksum?: string | undefined;
}

/** What lets an inbound message find its ticket. Every field optional; adapters fill what they know. */
export interface ThreadHints {
  /** E-mail: Message-IDs from In-Reply-To and References, angle brackets kept, oldest first. */
  referencedMessageIds?: string[] | undefined;
  /** E-mail: the ticket number found in a "[#1234]" subject token. */
  ticketNumber?: number | undefined;
  /** Messenger/DM conversation key, or the post id a comment belongs to. */
  conversationKey?: string | undefined;
  /** X: the tweet this one replies to; Facebook: the parent comment. */
  inReplyToProviderId?: string | undefined;
  /** Phone: the provider's call id, so several callbacks about one call meet. */
  callId?: string | undefined;
}

/** Why a message is stored but must neither open nor reopen a ticket, nor start SLA clocks. */
export type AutomatedKind = 'auto_reply' | 'bounce' | 'bulk' | 'loop';

/** What the message means for the ticket. Most are plain customer messages. */
export type InboundKind =
  | 'message' // a customer wrote
  | 'call_completed' // an answered call: an interaction that counts as a response
  | 'call_missed' // missed, abandoned, busy, no-answer: wants a callback
  | 'voicemail'; // a recording or transcription left by the customer

export interface NormalizedInbound {
  channel: Channel;
  /** Unique per channel; the idempotency key for the message. */
  providerMessageId: string;
  kind: InboundKind;
  sender: SenderIdentity;
  /**
   * false when the sender is only claimed: taken from a header nobody vouches for (an e-mail's
   * later From, Reply-To, X-Original-Sender, or a bounce's Return-Path) because the one that
   * counts (the first From) had no usable address. Intake then links it to no existing
   * customer and never replies to it. Absent: the provider vouches for the sender.
   */
  senderVerified?: false | undefined;
  /** Other identities the payload reveals (a Reply-To, an address typed into a DM). */
  otherIdentities?: SenderIdentity[] | undefined;
  thread: ThreadHints;
  subject?: string | undefined;
  text: string;
  html?: string | undefined;
  attachments: AttachmentMeta[];
  /** The provider's timestamp; falls back to receipt time when absent. */
  sentAt: Date;
  /** Set when the message is machine-generated (auto-reply, bounce, list mail). */
  automated?: AutomatedKind | undefined;
  /** E-mail: the message's own Message-ID, stored for threading replies to it. */
  messageIdHeader?: string | undefined;
  /** Phone events: the call's facts. */
  call?:
    | {
        durationSec?: number | undefined;
        recordingUrl?: string | undefined;
        agentRef?: string | undefined;
        /** Issue 16: the call left the queue answered or abandoned after `waitSec` (queue figures). */
        queue?: { outcome: 'answered' | 'abandoned'; waitSec: number; callId: string } | undefined;
      }
    | undefined;
  /** Detected ISO 639-1 language of `text`, when confident. */
  language?: string | undefined;
  /** Anything the adapter wants kept verbatim for audit (the raw payload is stored separately). */
  providerData?: Record<string, unknown> | undefined;
}
