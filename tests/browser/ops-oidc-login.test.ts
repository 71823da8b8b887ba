import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SESSION_COOKIE } from '../../src/http/session.js';
import { ManualClock } from '../../src/shared/clock.js';
import { createAgent, type AgentJson } from '../helpers/api.js';
import { launchBrowser, listen, type TestBrowser } from '../helpers/browser.js';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { startOidcProvider, type TestOidcProvider } from '../helpers/oidc-provider.js';
import { until } from '../helpers/sla.js';

/*
 * A person signs in to the ops wall with the OIDC provider (issue 17): "Sign in with Test IdP" on
 * the form /ops sends them to, the provider (on localhost, another site than the app's
 * 127.0.0.1) sends them back, and the wall opens live. The session cookie is SameSite=Strict:
 * this is the test that it still goes with the first request to /ops after a cross-site return.
 */

let ctx: TestContext;
let idp: TestOidcProvider;
let browser: TestBrowser;
let base: string;
let supervisor: AgentJson;

beforeAll(async () => {
  idp = await startOidcProvider({ consentPage: true });
  ctx = await createTestContext({
    clock: new ManualClock(new Date()),
    env: { OIDC_ISSUER: idp.issuer, OIDC_CLIENT_ID: idp.clientId, OIDC_CLIENT_SECRET: idp.clientSecret, OIDC_PROVIDER_NAME: 'Test IdP' },
  });
  base = await listen(ctx.app);
  browser = await launchBrowser();
  supervisor = await createAgent(ctx, { name: 'Noa Supervisor', email: `noa.${Date.now()}@desk.example` });
});
afterAll(async () => {
  await browser?.close();
  ctx?.app.server.closeAllConnections();
  await ctx?.close();
  await idp?.close();
});

describe('browser: OIDC sign-in to the operations wall', () => {
  it('clicks "Sign in with Test IdP" on /ops, comes back signed in, and sees the wall live', async () => {
    idp.next = { claims: { email: supervisor.email, role: 'supervisor' } };
    const page = await browser.newPage();
    await page.goto(`${base}/ops`);
    expect(new URL(page.url()).pathname).toBe('/admin/login');
    const button = page.locator('#oidc-login');
    expect(await button.textContent()).toBe('Sign in with Test IdP');

    await Promise.all([page.waitForURL((url) => url.pathname === '/authorize'), button.click()]);
    // At the provider (another site): its page sends the browser back, as after a real login.
    await Promise.all([page.waitForURL(`${base}/ops`), page.locator('#approve').click()]);
    expect(idp.lastAuthorize?.get('code_challenge_method')).toBe('S256');
    expect(await page.locator('#user').textContent()).toBe('Noa Supervisor');
    await until(async () => ((await page.locator('#link-state').textContent())?.includes('Live') ? true : undefined), { timeoutMs: 15_000, what: 'the stream to connect' });

    const cookies = await browser.context.cookies();
    expect(cookies.find((c) => c.name === SESSION_COOKIE && c.path === '/ops')).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
    // The flow cookie is spent.
    expect(cookies.find((c) => c.name === 'cd_oidc')).toBeUndefined();
    expect(browser.errors).toEqual([]);
    await page.close();
  });

  it("an agent's account comes back to the form with the reason, not to the wall", async () => {
    await browser.context.clearCookies();
    idp.next = { claims: { email: supervisor.email, role: 'agent' } };
    const page = await browser.newPage();
    await page.goto(`${base}/ops`);
    await Promise.all([page.waitForURL((url) => url.pathname === '/authorize'), page.locator('#oidc-login').click()]);
    const [answer] = await Promise.all([page.waitForResponse((res) => res.url().startsWith(`${base}/auth/oidc/callback`)), page.locator('#approve').click()]);
    expect(answer.status()).toBe(403);
    await page.locator('#error').waitFor();
    expect(await page.locator('#error').textContent()).toMatch(/for supervisors and admins/);
    // Back at the form: both ways in are offered again.
    expect(await page.locator('#oidc-login').count()).toBe(1);
    expect(await page.locator('#key').count()).toBe(1);
    expect((await browser.context.cookies()).filter((c) => c.name === SESSION_COOKIE)).toEqual([]);
    await page.close();
  });
});
