import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AdapterDefinition, ChannelAdapter } from '../../../src/channels/channel.adapter.js';
import { CHANNEL_ADAPTERS, createChannelAdapters, createOutboundSenders, type AdapterPath } from '../../../src/channels/channel.registry.js';
import { expectProblem, tokenFor } from '../../helpers/api.js';
import { bearer, createTestContext, type TestContext } from '../../helpers/context.js';
import { CHANNEL_ENV, count, integrationToken, query, resetIntake, type WebhookResultJson } from '../../helpers/webhooks.js';
import { ADAPTER_KITS, type AdapterKit, type WireRequest } from './channel-kits.js';

/**
 * The channel-adapter contract: every adapter in the registry, fed its recorded payloads, must
 * authenticate (and refuse), stay idempotent on redelivery, dead-letter what it cannot parse
 * with a 4xx, and normalize the same fields. Written once; each adapter brings only its kit.
 */
let ctx: TestContext;
let adapters: Map<string, ChannelAdapter>;
beforeAll(async () => {
  ctx = await createTestContext({ env: { ...CHANNEL_ENV, SMTP_URL: 'smtp://127.0.0.1:2525', FACEBOOK_PAGE_ACCESS_TOKEN: 'page-token', TWITTER_BEARER_TOKEN: 'bearer' } });
  adapters = new Map(createChannelAdapters(ctx.config).map((a) => [a.path, a]));
});
afterAll(async () => ctx?.close());
beforeEach(async () => resetIntake(ctx));

const WRONG_SECRET = 'not-the-provider-secret';
const paths = Object.keys(CHANNEL_ADAPTERS) as AdapterPath[];

async function deliver(path: string, request: WireRequest, key: string | null = null) {
  return ctx.app.inject({
    method: 'POST',
    url: `/webhooks/${path}${request.query ?? ''}`,
    headers: { 'content-type': request.contentType, ...request.headers, ...(key === null ? {} : bearer(key)) },
    payload: request.body,
  });
}

/** A genuine delivery: signed by the kit, or carrying an integration key. */
async function genuine(path: AdapterPath, build: (kit: AdapterKit) => WireRequest) {
  const kit = ADAPTER_KITS[path];
  const request = build(kit);
  return { request, send: async () => deliver(path, request, kit.auth === 'api-key' ? await integrationToken(ctx) : null) };
}

/** The secret a kit signs with; API-key kits have none (the suite sends the key). */
const secretOf = (kit: AdapterKit) => (kit.auth === 'signature' ? kit.secret : '');

const storedNothing = async () => {
  expect(await count(ctx, 'inbound_payloads')).toBe(0);
  expect(await count(ctx, 'messages')).toBe(0);
  expect(await count(ctx, 'dead_letters')).toBe(0);
};

describe('the registry', () => {
  it('has a kit for every adapter, declaring the same authentication', () => {
    expect(Object.keys(ADAPTER_KITS).sort()).toEqual([...paths].sort());
    for (const path of paths) expect(adapters.get(path)!.auth.kind, path).toBe(ADAPTER_KITS[path].auth);
  });

  it('lets no adapter declare neither kind of authentication (a type error)', () => {
    // @ts-expect-error: `auth` is required; an adapter cannot leave its authentication out.
    const missing: AdapterDefinition = () => ({
      channel: 'email',
      requiredSetting: null,
      configured: true,
      body: { limitBytes: 1, contentTypes: ['text/plain'] },
      parse: async () => ({ messages: [], skipped: [] }),
      answer: { kind: 'webhook-result' },
    });
    // @ts-expect-error: an API-key adapter names the roles its key needs.
    const noRoles: ChannelAdapter['auth'] = { kind: 'api-key' };
    // @ts-expect-error: a signature adapter must verify.
    const noVerify: ChannelAdapter['auth'] = { kind: 'signature' };
    expect([missing, noRoles, noVerify]).toHaveLength(3);
  });

  it('builds one sender per channel, each owned by one adapter', () => {
    const senders = createOutboundSenders(ctx.config);
    expect(Object.keys(senders.byChannel).sort()).toEqual(['email', 'facebook', 'phone', 'twitter']);
    senders.close();
  });
});

describe.each(paths)('adapter %s', (path) => {
  const kit = ADAPTER_KITS[path];
  const adapter = () => adapters.get(path)!;

  it('accepts a genuine delivery of its recorded payload and answers the provider in its format', async () => {
    const { send } = await genuine(path, (k) => k.valid(ctx, secretOf(k)));
    const res = await send();
    expect(res.statusCode, res.body).toBe(200);
    const answer = adapter().answer;
    if (answer.kind === 'fixed') {
      expect(res.headers['content-type']).toContain(answer.contentType);
      expect(res.body).toBe(answer.body);
    } else {
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.json<WebhookResultJson>()).toMatchObject({ received: 1, created: 1, duplicates: 0 });
    }
  });

  it('normalizes the channel, external id, sender identity, text and timestamps', async () => {
    const { send } = await genuine(path, (k) => k.valid(ctx, secretOf(k)));
    expect((await send()).statusCode).toBe(200);
    const rows = await query<{ channel: string; provider_message_id: string; sender_kind: string; sender_address: string; body_text: string; sent_at: Date; created_at: Date; ticket_id: string }>(
      ctx,
      "select channel, provider_message_id, sender_kind, sender_address, body_text, sent_at, created_at, ticket_id from messages where direction = 'inbound'",
    );
    expect(rows).toHaveLength(1);
    const [row] = rows;
    const expected = kit.expected;
    expect(row).toMatchObject({ channel: adapter().channel, provider_message_id: expected.providerMessageId, sender_kind: expected.sender.kind, sender_address: expected.sender.address });
    expect(row!.body_text).toContain(expected.text);
    expect(row!.sent_at).toEqual(expected.sentAt === 'receipt' ? ctx.clock.now() : expected.sentAt);
    expect(row!.created_at).toBeInstanceOf(Date);
    // The authenticated sender is the ticket's customer.
    const identities = await query<{ kind: string; address: string }>(ctx, 'select i.kind, i.address from tickets t join customer_identities i on i.customer_id = t.customer_id where t.id = $1', [row!.ticket_id]);
    expect(identities).toContainEqual(expected.sender);
  });

  it('creates nothing twice when the provider redelivers', async () => {
    const { send } = await genuine(path, (k) => k.valid(ctx, secretOf(k)));
    expect((await send()).statusCode).toBe(200);
    const again = await send();
    expect(again.statusCode, again.body).toBe(200);
    if (adapter().answer.kind === 'webhook-result') expect(again.json<WebhookResultJson>()).toMatchObject({ created: 0, tickets: [] });
    expect(await count(ctx, 'messages where provider_message_id = $1', [kit.expected.providerMessageId])).toBe(1);
    expect(await count(ctx, 'tickets')).toBe(1);
  });

  it('dead-letters a malformed body with a 4xx naming the field, keeping the raw bytes', async () => {
    const { request, send } = await genuine(path, (k) => k.malformed(ctx, secretOf(k)));
    // 400, or the status the provider reads as "stop retrying" (Mailgun: 406).
    expectProblem(await send(), adapter().malformedStatus ?? 400, { code: 'invalid-payload', field: kit.malformedField });
    const letters = await query<{ channel: string; field: string; reason: string; body: Buffer }>(ctx, 'select channel, field, reason, body from dead_letters');
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ channel: adapter().channel, field: kit.malformedField });
    expect(letters[0]!.reason.length).toBeGreaterThan(0);
    expect(letters[0]!.body.equals(request.body)).toBe(true);
    expect(await count(ctx, 'messages')).toBe(0);
    // Delivered again (a provider's retry), the same bytes count on the same row.
    expectProblem(await send(), adapter().malformedStatus ?? 400, { code: 'invalid-payload', field: kit.malformedField });
    expect(await query(ctx, 'select deliveries from dead_letters')).toEqual([{ deliveries: 2 }]);
  });

  it('takes in or dead-letters every recorded delivery of its corpus, never a 5xx, and a redelivery changes nothing', async () => {
    const corpus = kit.corpus?.(ctx, secretOf(kit)) ?? [{ name: 'valid', request: kit.valid(ctx, secretOf(kit)) }];
    const key = kit.auth === 'api-key' ? await integrationToken(ctx) : null;
    for (const { name, request } of corpus) {
      const first = await deliver(path, request, key);
      const refused = adapter().malformedStatus ?? 400;
      expect([200, refused], `${name}: ${first.body}`).toContain(first.statusCode);
      if (first.statusCode === refused) {
        expect(first.headers['content-type'], name).toMatch(/^application\/problem\+json/);
        expect(await count(ctx, 'dead_letters where body = $1', [request.body]), name).toBe(1);
      }
      const messages = await count(ctx, 'messages');
      const again = await deliver(path, request, key);
      expect(again.statusCode, `${name} redelivered: ${again.body}`).toBe(first.statusCode);
      expect(await count(ctx, 'messages'), `${name} redelivered`).toBe(messages);
    }
  });

  if (kit.auth === 'signature') {
    const signed = kit;
    it('refuses a delivery signed with another secret, or unsigned: 401, nothing stored', async () => {
      expectProblem(await deliver(path, kit.valid(ctx, WRONG_SECRET)), 401);
      // Authentication comes before parsing: a forged malformed body is not even dead-lettered.
      expectProblem(await deliver(path, kit.malformed(ctx, WRONG_SECRET)), 401);
      expectProblem(await deliver(path, signed.unsign(signed.valid(ctx, signed.secret))), 401);
      await storedNothing();
    });
  } else {
    it('refuses a delivery without a key, with a wrong key, or with a key of another role', async () => {
      const request = kit.valid(ctx, '');
      expectProblem(await deliver(path, request), 401);
      expectProblem(await deliver(path, request, 'cd_not_a_key_at_all'), 401);
      expectProblem(await deliver(path, request, await tokenFor(ctx, 'agent')), 403);
      expectProblem(await deliver(path, kit.malformed(ctx, '')), 401);
      await storedNothing();
    });
  }

  it('takes only the media types it declares (415 otherwise)', async () => {
    const request = kit.valid(ctx, secretOf(kit));
    const key = kit.auth === 'api-key' ? await integrationToken(ctx) : null;
    expectProblem(await deliver(path, { ...request, contentType: 'application/xml' }, key), 415, { code: 'unsupported-media-type' });
    await storedNothing();
  });

  it('answers the provider handshake it declares (and refuses a bad one), and no other', async () => {
    const handshake = kit.handshake;
    if (!handshake) {
      expect(adapter().handshake).toBeUndefined();
      // No GET route: the path answers POST only (405 with Allow).
      const get = await ctx.app.inject({ method: 'GET', url: `/webhooks/${path}` });
      expect(get.statusCode).toBe(405);
      expect(get.headers.allow).toBe('POST');
      return;
    }
    expect(adapter().handshake, 'the adapter declares the handshake the kit tests').toBeDefined();
    const ok = await ctx.app.inject({ method: 'GET', url: `/webhooks/${path}?${handshake.accepted}` });
    expect(ok.statusCode, ok.body).toBe(200);
    expect(ok.body).toBe(handshake.expectBody);
    const refused = await ctx.app.inject({ method: 'GET', url: `/webhooks/${path}?${handshake.refused}` });
    expect([400, 403]).toContain(refused.statusCode);
    expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
  });
});
