import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStreamTokens } from '../../src/modules/stream-tokens/stream-tokens.js';
import { ManualClock, systemClock } from '../../src/shared/clock.js';
import { createTicket } from '../helpers/api.js';
import { launchBrowser, listen, servePages, type PageServer, type TestBrowser } from '../helpers/browser.js';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { createPolicy } from '../helpers/sla.js';

/**
 * A frontend on another origin (allowed by CORS_ORIGINS) asks for a stream token with its key
 * and opens the SLA stream with EventSource, which cannot send an Authorization header. Real
 * clock and workers, as the SLA stream test: a 1-second first-response target breaches.
 */
const SESSION_SECRET = 'browser-test-session-secret-0123456789abcdef';
const FRONTEND = `<!doctype html><html><head><meta charset="utf-8"><title>frontend</title></head><body>
<script>
window.breaches = [];
window.state = {};
async function openSlaStream(apiBase, key) {
  const answer = await fetch(apiBase + '/v1/stream-tokens', {
    method: 'POST',
    headers: { authorization: 'Bearer ' + key, 'content-type': 'application/json' },
    body: JSON.stringify({ stream: 'sla' }),
  });
  const { url } = await answer.json();
  const events = new EventSource(apiBase + url);
  events.addEventListener('breach', (event) => window.breaches.push(JSON.parse(event.data)));
  events.onopen = () => { window.state.open = true; };
  window.stream = events;
}
async function tryStream(apiBase, url) {
  window.state.status = (await fetch(apiBase + url)).status;
  const events = new EventSource(apiBase + url);
  events.onerror = () => { window.state.closed = events.readyState === EventSource.CLOSED; };
}
</script></body></html>`;

describe('browser: the SLA stream through EventSource from an allowed origin', () => {
  let frontend: PageServer;
  let ctx: TestContext;
  let browser: TestBrowser;
  let base: string;

  beforeAll(async () => {
    frontend = await servePages({ '/': FRONTEND });
    ctx = await createTestContext({ clock: systemClock, env: { SLA_RECONCILE_INTERVAL_MS: '500', CORS_ORIGINS: frontend.origin, SESSION_SECRET } });
    base = await listen(ctx.app);
    await ctx.startWorkers();
    await createPolicy(ctx, { targets: { firstResponse: 1 }, warnAt: 0.5 });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await frontend?.close();
    ctx?.app.server.closeAllConnections();
    await ctx?.close();
  });

  it('gets a token with its key, opens the stream, and sees a breach arrive', async () => {
    const page = await browser.newPage();
    await page.goto(`${frontend.origin}/`);
    await page.evaluate(`openSlaStream(${JSON.stringify(base)}, ${JSON.stringify(ctx.adminToken)})`);
    await page.waitForFunction('window.state.open === true');
    const ticket = await createTicket(ctx);
    await page.waitForFunction(`window.breaches.some((b) => b.ticketId === ${JSON.stringify(ticket.id)})`, undefined, { timeout: 20_000 });
    const breach = await page.evaluate<{ ticketId: string; metric: string }>(`window.breaches.find((b) => b.ticketId === ${JSON.stringify(ticket.id)})`);
    expect(breach).toMatchObject({ ticketId: ticket.id, metric: 'first_response' });
    expect(browser.errors.filter((e) => e.startsWith('pageerror'))).toEqual([]);
    await page.close();
  });

  it('an expired stream token is refused: 401, and EventSource gives up', async () => {
    // Minted a minute and a half ago, with the service's own secret.
    const past = createStreamTokens({ secret: async () => SESSION_SECRET, clock: new ManualClock(new Date(Date.now() - 90_000)) });
    const { token } = await past.issue({ keyId: '00000000-0000-4000-8000-000000000000', name: 'test', role: 'admin', agentId: null }, 'sla');
    const page = await browser.newPage();
    await page.goto(`${frontend.origin}/`);
    await page.evaluate(`tryStream(${JSON.stringify(base)}, ${JSON.stringify(`/v1/sla/stream?token=${encodeURIComponent(token)}`)})`);
    await page.waitForFunction('window.state.closed === true');
    expect(await page.evaluate<number>('window.state.status')).toBe(401);
    await page.close();
  });
});
