import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/shared/logger.js';
import { publishStreamEvent } from '../../../src/modules/sla/breaches/stream-events.repository.js';
import { client, createAgent, expectProblem, manualClock, tokenFor } from '../../helpers/api.js';
import { listen } from '../../helpers/browser.js';
import { createTestContext, type TestContext } from '../../helpers/context.js';
import { until } from '../../helpers/sla.js';

interface StreamTokenJson {
  token: string;
  stream: string;
  url: string;
  expiresAt: string;
}

let ctx: TestContext;
let base: string;
const logLines: string[] = [];
const opened: AbortController[] = [];

beforeAll(async () => {
  ctx = await createTestContext({ logger: createLogger({ level: 'info', pretty: false, destination: { write: (line: string) => void logLines.push(line) } }) });
  base = await listen(ctx.app);
});
afterAll(async () => {
  for (const controller of opened) controller.abort();
  ctx?.app.server.closeAllConnections();
  await ctx?.close();
});

async function issue(stream: string, token = ctx.adminToken): Promise<StreamTokenJson> {
  const res = await client(ctx, token).post('/v1/stream-tokens', { stream });
  expect(res.statusCode, res.body).toBe(201);
  expect(res.headers['cache-control']).toBe('no-store');
  return res.json<StreamTokenJson>();
}

/** Opens the stream as EventSource would (no Authorization header); reads until `text` arrives. */
async function openStream(path: string) {
  const controller = new AbortController();
  opened.push(controller);
  const response = await fetch(`${base}${path}`, { headers: { accept: 'text/event-stream' }, signal: controller.signal });
  let text = '';
  const reading = (async () => {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) text += decoder.decode(chunk, { stream: true });
    } catch {
      // aborted
    }
  })();
  return {
    response,
    waitForText: (needle: string) => until(() => (text.includes(needle) ? true : undefined), { what: `"${needle}" on the stream` }),
    close: async () => {
      controller.abort();
      await reading;
    },
  };
}

describe('stream tokens for EventSource (POST /v1/stream-tokens, ?token=)', () => {
  it('a token opens the SLA stream without an Authorization header and events arrive', async () => {
    const issued = await issue('sla');
    expect(issued.stream).toBe('sla');
    expect(issued.url).toBe(`/v1/sla/stream?token=${encodeURIComponent(issued.token)}`);
    expect(new Date(issued.expiresAt).getTime() - ctx.clock.now().getTime()).toBe(60_000);
    const stream = await openStream(issued.url);
    expect(stream.response.status).toBe(200);
    expect(stream.response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    await publishStreamEvent(ctx.deps.db, 'breach', { ticketId: 'stream-token-test' }, ctx.clock.now());
    await stream.waitForText('stream-token-test');
    await stream.close();
  });

  it("an agent's token opens its own stream (/v1/me/stream)", async () => {
    const agent = await createAgent(ctx);
    const issued = await issue('me', await tokenFor(ctx, 'agent', agent.id));
    const stream = await openStream(issued.url);
    expect(stream.response.status).toBe(200);
    await stream.close();
  });

  it('refuses malformed, tampered, wrong-stream and expired tokens with a 401 problem naming query.token', async () => {
    const sla = await issue('sla');
    const me = await issue('me');
    const [body, signature] = sla.token.split('.');
    const tampered = `${body!.slice(0, -2)}${body!.endsWith('A') ? 'B' : 'A'}${body!.slice(-1)}.${signature}`;
    for (const token of ['nonsense', 'cdst_x.y.z', tampered, me.token, '']) {
      const res = await ctx.app.inject({ method: 'GET', url: `/v1/sla/stream?token=${encodeURIComponent(token)}` });
      const problem = expectProblem(res, 401, { code: 'invalid-stream-token', field: 'query.token' });
      expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
      // The token never comes back in the problem.
      expect(JSON.stringify(problem)).not.toContain(sla.token);
      if (token) expect(JSON.stringify(problem)).not.toContain(token);
    }
    manualClock(ctx).advance(60_001);
    const expired = await ctx.app.inject({ method: 'GET', url: `/v1/sla/stream?token=${encodeURIComponent(sla.token)}` });
    expect(expectProblem(expired, 401, { code: 'invalid-stream-token' }).detail).toMatch(/expired/);
  });

  it('a stream token is no API key: other routes refuse it', async () => {
    const { token } = await issue('sla');
    expectProblem(await ctx.app.inject({ method: 'GET', url: `/v1/tickets?token=${encodeURIComponent(token)}` }), 401);
    expectProblem(await client(ctx, token).get('/v1/tickets'), 401);
  });

  it('refuses a stream the key may not open, and an unknown stream', async () => {
    expectProblem(await client(ctx, await tokenFor(ctx, 'integration')).post('/v1/stream-tokens', { stream: 'sla' }), 403);
    expectProblem(await client(ctx).post('/v1/stream-tokens', { stream: 'nope' }), 400, { field: 'body.stream' });
    expectProblem(await ctx.app.inject({ method: 'POST', url: '/v1/stream-tokens', payload: { stream: 'sla' } }), 401);
  });

  it('never writes a token to the logs', async () => {
    const { token } = await issue('sla');
    await ctx.app.inject({ method: 'GET', url: `/v1/sla/stream?token=${encodeURIComponent(token)}&lastEventId=x` });
    const stream = await openStream(`/v1/sla/stream?token=${encodeURIComponent(token)}`);
    await stream.close();
    await until(() => (logLines.some((line) => line.includes('/v1/sla/stream?token=')) ? true : undefined), { what: 'a logged stream request' });
    const secret = token.slice('cdst_'.length);
    expect(logLines.filter((line) => line.includes(secret) || line.includes(encodeURIComponent(secret)))).toEqual([]);
  });
});
