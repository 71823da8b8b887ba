import type { Config } from '../config.js';
import type { ChannelSender } from './channel.sender.js';
import type { Channel } from './channel.types.js';
import { createEmailSender } from './email/email.sender.js';
import { createFacebookSender } from './facebook/facebook.sender.js';
import { createPhoneSender } from './phone/phone.sender.js';
import { createTwitterSender } from './twitter/twitter.sender.js';

/**
 * The senders this install can use. A channel without its credentials has no sender: its
 * replies go dead at once with a message saying which setting is missing.
 */
export function createOutboundSenders(config: Config): { byChannel: Partial<Record<Channel, ChannelSender>>; close(): void } {
  const email = config.SMTP_URL ? createEmailSender({ smtpUrl: config.SMTP_URL, from: config.EMAIL_FROM, messageIdDomain: config.EMAIL_MESSAGE_ID_DOMAIN }) : null;
  const byChannel: Partial<Record<Channel, ChannelSender>> = { phone: createPhoneSender() };
  if (email) byChannel.email = email;
  if (config.FACEBOOK_PAGE_ACCESS_TOKEN) byChannel.facebook = createFacebookSender({ graphUrl: config.FACEBOOK_GRAPH_URL, pageAccessToken: config.FACEBOOK_PAGE_ACCESS_TOKEN });
  if (config.TWITTER_BEARER_TOKEN) byChannel.twitter = createTwitterSender({ apiUrl: config.TWITTER_API_URL, bearerToken: config.TWITTER_BEARER_TOKEN });
  return { byChannel, close: () => email?.close() };
}
