import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgent, tokenFor } from '../helpers/api.js';
import { launchBrowser, listen, type TestBrowser } from '../helpers/browser.js';
import { createTestContext, type TestContext } from '../helpers/context.js';

describe('browser: /docs (swagger-ui)', () => {
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
    await ctx?.close();
  });

  it('opens the API documentation and authorizes with an API key', async () => {
    // An agent's key, so that GET /v1/me has an agent to answer with.
    const agent = await createAgent(ctx);
    const key = await tokenFor(ctx, 'agent', agent.id);
    const page = await browser.newPage();
    await page.goto(`${base}/docs`);
    await page.getByRole('button', { name: /authorize/i }).first().click();
    const dialog = page.locator('.modal-ux');
    await dialog.locator('input[type=text], input[type=password]').first().fill(key);
    await dialog.locator('button.modal-btn.authorize').click();
    // swagger-ui shows a Logout button once the key is taken.
    await dialog.locator('button.modal-btn.logout, button.modal-btn:has-text("Logout")').first().waitFor();
    await dialog.locator('button.btn-done').click();

    // A call made from the page carries the key: GET /v1/me answers 200.
    const answer = page.waitForResponse((res) => res.url() === `${base}/v1/me`);
    const operation = page.locator('#operations-agents-getMe');
    await operation.locator('.opblock-summary').click();
    await operation.getByRole('button', { name: /try it out/i }).click();
    await operation.getByRole('button', { name: /execute/i }).click();
    const response = await answer;
    expect(response.status()).toBe(200);
    expect(((await response.json()) as { id: string }).id).toBe(agent.id);
    expect(browser.errors).toEqual([]);
  });
});
