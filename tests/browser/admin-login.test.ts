import fastifyCookie from '@fastify/cookie';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SESSION_COOKIE } from '../../src/http/session.js';
import { createAgent, tokenFor } from '../helpers/api.js';
import { launchBrowser, listen, type TestBrowser } from '../helpers/browser.js';
import { createTestContext, type TestContext } from '../helpers/context.js';

/** A person opens Bull Board: the login form, the session cookie, logout, and the refusals. */
describe('browser: signing in to /admin/queues', () => {
  let ctx: TestContext;
  let browser: TestBrowser;
  let base: string;

  beforeAll(async () => {
    ctx = await createTestContext();
    base = await listen(ctx.app);
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    ctx?.app.server.closeAllConnections();
    await ctx?.close();
  });

  it('is sent to the form, signs in with an admin key, sees Bull Board, and signs out', async () => {
    const page = await browser.newPage();
    await page.goto(`${base}/admin/queues/`);
    expect(new URL(page.url()).pathname).toBe('/admin/login');
    await page.fill('#key', ctx.adminToken);
    await Promise.all([page.waitForURL(`${base}/admin/queues/`), page.click('#login')]);
    // Bull Board's own page, with our queues listed by its UI (fetched with the cookie).
    await page.getByText(/sla|notifications|maintenance/i).first().waitFor();
    const cookies = await browser.context.cookies();
    const session = cookies.find((c) => c.name === SESSION_COOKIE && c.path === '/admin');
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
    // The page's scripts cannot read the cookie.
    expect(await page.evaluate<string>('document.cookie')).not.toContain(SESSION_COOKIE);

    await page.goto(`${base}/admin/login`);
    await Promise.all([page.waitForURL(`${base}/admin/login`), page.click('#logout')]);
    await page.locator('#key').waitFor();
    await page.goto(`${base}/admin/queues/`);
    expect(new URL(page.url()).pathname).toBe('/admin/login');
    // No script error; console noise is Bull Board's (it asks a font CDN, unreachable offline).
    expect(browser.errors.filter((e) => e.startsWith('pageerror'))).toEqual([]);
    await page.close();
  });

  it("refuses an agent's key with a message and no cookie", async () => {
    await browser.context.clearCookies();
    const page = await browser.newPage();
    const agent = await createAgent(ctx);
    await page.goto(`${base}/admin/login`);
    await page.fill('#key', await tokenFor(ctx, 'agent', agent.id));
    const [answer] = await Promise.all([page.waitForResponse((res) => res.url() === `${base}/admin/login` && res.request().method() === 'POST'), page.click('#login')]);
    expect(answer.status()).toBe(403);
    expect(await page.locator('#error').textContent()).toMatch(/admin or supervisor/);
    expect((await browser.context.cookies()).filter((c) => c.name === SESSION_COOKIE)).toEqual([]);
    await page.close();
  });

  it('ignores a cookie signed with another secret: back to the form', async () => {
    await browser.context.clearCookies();
    const forged = fastifyCookie.sign('a-made-up-session', 'another-secret-another-secret-another-secret');
    await browser.context.addCookies([{ name: SESSION_COOKIE, value: forged, url: `${base}/admin`, httpOnly: true, sameSite: 'Strict' }]);
    const page = await browser.newPage();
    await page.goto(`${base}/admin/queues/`);
    expect(new URL(page.url()).pathname).toBe('/admin/login');
    await page.close();
  });
});
