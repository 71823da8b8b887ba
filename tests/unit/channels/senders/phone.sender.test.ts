import { describe, expect, it } from 'vitest';
import { createPhoneSender } from '../../../../src/channels/phone/phone.sender.js';

describe('createPhoneSender', () => {
  it('turns a phone reply into a callback task id, with no I/O', async () => {
    const sender = createPhoneSender();
    expect(sender.channel).toBe('phone');
    const result = await sender.send({
      outboxId: '0d6f3a1c-0000-4000-8000-000000000004',
      ticketNumber: 12,
      channel: 'phone',
      to: { kind: 'phone', address: '+972501234567' },
      text: 'Call back about the refund.',
      thread: {},
    });
    expect(result).toEqual({ providerMessageId: 'callback:0d6f3a1c-0000-4000-8000-000000000004' });
  });
});
