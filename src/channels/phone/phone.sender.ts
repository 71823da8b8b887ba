import type { ChannelSender, OutboundMessage, SendResult } from '../channel.sender.js';

/**
 * A phone reply can't be "sent": it is a call an agent has to make. Delivering it means the
 * worker records a callback task under this id; the agent logs the call's outcome through
 * the API. No I/O here, so it never fails and never needs a retry.
 */
export function createPhoneSender(): ChannelSender {
  return {
    channel: 'phone',
    send(message: OutboundMessage): Promise<SendResult> {
      return Promise.resolve({ providerMessageId: `callback:${message.outboxId}` });
    },
  };
}
