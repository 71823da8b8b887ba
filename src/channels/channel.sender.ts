import type { Channel, IdentityKind } from './channel.types.js';

/**
 * What the delivery worker hands a channel sender: everything needed to answer the customer
 * where they wrote, captured when the reply was written (so a retry sends the same thing).
 */
export interface OutboundMessage {
  /** Our id for this delivery; senders pass it on as an idempotency key where the provider takes one. */
  outboxId: string;
  ticketNumber: number;
  channel: Channel;
  to: { kind: IdentityKind; address: string; displayName?: string | undefined; handle?: string | undefined };
  subject?: string | undefined;
  text: string;
  html?: string | undefined;
  /** ISO 639-1; right-to-left languages get dir="rtl" in HTML e-mail. */
  language?: string | undefined;
  thread: {
    /** E-mail: the customer's Message-ID we answer (In-Reply-To) and the chain before it. */
    inReplyToMessageId?: string | undefined;
    references?: string[] | undefined;
    /** Messenger "fb:<page>:<psid>", comment post "fbpost:<post>", X DM "xdm:<us>:<them>", mentions "xtw:<us>:<them>". */
    conversationKey?: string | undefined;
    /** The provider id of the message we answer: a comment id, a tweet id. */
    replyToProviderId?: string | undefined;
  };
  /** E-mail: the Message-ID we give our reply (stored, so the customer's answer threads). */
  messageIdHeader?: string | undefined;
  /** When the customer last wrote on this channel: the Messenger 24-hour window starts there. */
  lastInboundAt?: Date | undefined;
}

export interface SendResult {
  /** The provider's id of what it accepted (SMTP Message-ID, Messenger message_id, tweet id…). */
  providerMessageId: string;
  /** Extra parts when a message had to be split (an X reply over 280 characters). */
  extraProviderMessageIds?: string[] | undefined;
}

/**
 * A send that can never succeed as it stands (the Messenger window closed, a text over the
 * provider's limit, a recipient the provider refuses): not retried, the reply goes dead at
 * once with this message for the agent.
 */
export class PermanentSendError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = 'PermanentSendError';
  }
}

export interface ChannelSender {
  channel: Channel;
  /** Which conversation kinds this sender handles; the worker picks by the outbound message. */
  send(message: OutboundMessage): Promise<SendResult>;
}
