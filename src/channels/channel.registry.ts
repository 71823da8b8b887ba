import type { Config } from '../config.js';
import type { AdapterDefinition, ChannelAdapter } from './channel.adapter.js';
import type { ChannelSender } from './channel.sender.js';
import type { Channel } from './channel.types.js';
import { mailgunAdapter } from './email/mailgun.adapter.js';
import { rawEmailAdapter } from './email/raw-email.adapter.js';
import { facebookAdapter } from './facebook/facebook.adapter.js';
import { phoneEventsAdapter } from './phone/phone-events.adapter.js';
import { twilioVoiceAdapter } from './phone/twilio-voice.adapter.js';
import { twitterAdapter } from './twitter/twitter.adapter.js';

/**
 * Every provider endpoint, keyed by its route under /webhooks. Adding a channel is one adapter
 * file and one line here; the webhook route, the OpenAPI document, the outbound senders and the
 * contract suite (tests/integration/contract) all read this map.
 */
export const CHANNEL_ADAPTERS = {
  email: rawEmailAdapter,
  'email/mailgun': mailgunAdapter,
  facebook: facebookAdapter,
  twitter: twitterAdapter,
  'phone/twilio': twilioVoiceAdapter,
  'phone/events': phoneEventsAdapter,
} as const satisfies Record<string, AdapterDefinition>;

export type AdapterPath = keyof typeof CHANNEL_ADAPTERS;

export function createChannelAdapters(config: Config): ChannelAdapter[] {
  return Object.entries(CHANNEL_ADAPTERS).map(([path, define]) => ({ ...define(config), path }));
}

/**
 * The senders this install can use. A channel without its credentials has no sender: its
 * replies go dead at once with a message saying which setting is missing.
 */
export function createOutboundSenders(config: Config): OutboundSenders {
  return sendersOf(createChannelAdapters(config));
}

export interface OutboundSenders {
  byChannel: Partial<Record<Channel, ChannelSender>>;
  close(): void;
}

/** Builds each channel's sender from the one adapter that owns it. */
export function sendersOf(adapters: readonly ChannelAdapter[]): OutboundSenders {
  const byChannel: Partial<Record<Channel, ChannelSender>> = {};
  const closers: (() => void)[] = [];
  const owners = new Map<Channel, string>();
  for (const adapter of adapters) {
    if (!adapter.createSender) continue;
    // Two adapters of one channel (raw mail and Mailgun) share one way back: only one may own it.
    const owner = owners.get(adapter.channel);
    if (owner) throw new Error(`Channel adapters ${owner} and ${adapter.path} both declare the ${adapter.channel} sender; only one may.`);
    owners.set(adapter.channel, adapter.path);
    const built = adapter.createSender();
    if (!built) continue;
    byChannel[adapter.channel] = built.sender;
    if (built.close) closers.push(built.close);
  }
  return { byChannel, close: () => closers.forEach((close) => close()) };
}
