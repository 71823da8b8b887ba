import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectProblem } from '../../helpers/api.js';
import { createTestContext, type TestContext } from '../../helpers/context.js';
import { count, facebookPayload, messengerEvent, phoneEvent, postEmail, postFacebook, postMailgun, postPhoneEvent, postTwilio, postTwitter, rawEmail, twilioCall, twitterDm, webhookResult } from '../../helpers/webhooks.js';

/** No channel secrets at all: each signed webhook is off and says which setting turns it on. */
let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext(); // no channel settings at all
});
afterAll(async () => ctx?.close());

describe('a channel whose secret is unset', () => {
  it.each([
    ['facebook', 'FACEBOOK_APP_SECRET', () => postFacebook(ctx, facebookPayload(messengerEvent({ psid: '1', text: 'hi' })), { signature: 'sha256=00' })],
    ['twitter', 'TWITTER_CONSUMER_SECRET', () => postTwitter(ctx, twitterDm({ senderId: '2', text: 'hi' }), { signature: 'sha256=AA==' })],
    ['phone/twilio', 'TWILIO_AUTH_TOKEN', () => postTwilio(ctx, twilioCall({ CallStatus: 'completed' }), { signature: 'AA==' })],
    ['email/mailgun', 'MAILGUN_SIGNING_KEY', () => postMailgun(ctx, { timestamp: '1', token: 't', signature: 's', from: 'a@example.com', sender: 'a@example.com' })],
  ])('POST /webhooks/%s answers 503 naming %s, and stores nothing', async (_path, setting, post) => {
    const problem = expectProblem(await post(), 503, { code: 'channel-not-configured' });
    expect(problem.detail).toContain(setting);
    expect(await count(ctx, 'inbound_payloads')).toBe(0);
    expect(await count(ctx, 'dead_letters')).toBe(0);
  });

  it('answers 503 to the Facebook handshake and the X CRC, naming the setting', async () => {
    const fb = expectProblem(await ctx.app.inject({ method: 'GET', url: '/webhooks/facebook?hub.mode=subscribe&hub.challenge=1&hub.verify_token=' }), 503, { code: 'channel-not-configured' });
    expect(fb.detail).toContain('FACEBOOK_VERIFY_TOKEN');
    const x = expectProblem(await ctx.app.inject({ method: 'GET', url: '/webhooks/twitter?crc_token=M2RkODJkZmMtYjlkYi00NmQ4LTk0MGUtM2JjYzkwM2Q4MjQ0' }), 503, { code: 'channel-not-configured' });
    expect(x.detail).toContain('TWITTER_CONSUMER_SECRET');
  });

  it('leaves the API-key webhooks (raw e-mail, PBX events) working', async () => {
    webhookResult(await postEmail(ctx, rawEmail({ from: 'still.works@example.com' })), { created: 1 });
    webhookResult(await postPhoneEvent(ctx, phoneEvent({ event: 'missed' })), { created: 1 });
  });
});
