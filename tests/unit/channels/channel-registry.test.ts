import { describe, expect, it } from 'vitest';
import type { ChannelAdapter } from '../../../src/channels/channel.adapter.js';
import { CHANNEL_ADAPTERS, createChannelAdapters, sendersOf } from '../../../src/channels/channel.registry.js';
import { loadConfig } from '../../../src/config.js';

const config = loadConfig({ DATABASE_URL: 'postgres://unused', REDIS_URL: 'redis://unused' });

function adapter(path: string, channel: ChannelAdapter['channel'], withSender: boolean, closed?: string[]): ChannelAdapter {
  return {
    channel,
    path,
    requiredSetting: null,
    configured: true,
    auth: { kind: 'api-key', roles: ['integration'] },
    body: { limitBytes: 1, contentTypes: ['application/json'] },
    parse: async () => ({ messages: [], skipped: [] }),
    answer: { kind: 'webhook-result' },
    ...(withSender
      ? { createSender: () => ({ sender: { channel, send: async () => ({ providerMessageId: 'x' }) }, close: () => closed?.push(path) }) }
      : {}),
  };
}

describe('the channel registry', () => {
  it('gives every adapter its registry key as its route', () => {
    expect(createChannelAdapters(config).map((a) => a.path)).toEqual(Object.keys(CHANNEL_ADAPTERS));
  });

  it('refuses two adapters declaring one channel sender', () => {
    expect(() => sendersOf([adapter('a', 'email', true), adapter('b', 'email', true)])).toThrow(/a and b both declare the email sender/);
  });

  it('builds one sender per owning adapter and closes them all', () => {
    const closed: string[] = [];
    const senders = sendersOf([adapter('mail', 'email', true, closed), adapter('mail/other', 'email', false), adapter('pbx', 'phone', true, closed)]);
    expect(Object.keys(senders.byChannel).sort()).toEqual(['email', 'phone']);
    senders.close();
    expect(closed).toEqual(['mail', 'pbx']);
  });

  it('builds no sender for a channel without its credentials (replies go dead with a reason)', () => {
    const senders = sendersOf(createChannelAdapters(config));
    // Only the phone sender needs no credentials: it records a callback task.
    expect(Object.keys(senders.byChannel)).toEqual(['phone']);
  });
});
