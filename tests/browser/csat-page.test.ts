import { mkdir } from 'node:fs/promises';
import { eq } from 'drizzle-orm';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { outbox } from '../../src/modules/delivery/delivery.table.js';
import { ManualClock } from '../../src/shared/clock.js';
import { launchBrowser, listen, type TestBrowser } from '../helpers/browser.js';
import { bearer, createTestContext, type TestContext } from '../helpers/context.js';

/**
 * The customer's survey page (issue 14) in Debian's Chromium: the link from the survey message
 * opens a page in the survey's language; Hebrew lays out right to left; an answered, expired or
 * unknown link shows a friendly page, not JSON.
 */

const SCREENSHOTS = new URL('../../docs/screenshots/', import.meta.url);
let ctx: TestContext;
let clock: ManualClock;
let browser: TestBrowser;
let base: string;

beforeAll(async () => {
  clock = new ManualClock('2026-03-02T10:00:00Z');
  ctx = await createTestContext({ clock, env: { PUBLIC_BASE_URL: 'https://desk.example.com' } });
  base = await listen(ctx.app);
  browser = await launchBrowser({ locale: 'he-IL' });
  await mkdir(SCREENSHOTS, { recursive: true });
});
afterAll(async () => {
  await browser?.close();
  await ctx?.close();
});

/** Opens and solves a ticket in `language`; answers the survey token from the offer in the outbox. */
async function solvedSurvey(language: string): Promise<string> {
  const created = await ctx.app.inject({
    method: 'POST',
    url: '/v1/tickets',
    headers: bearer(ctx.adminToken),
    payload: { channel: 'email', language, customer: { email: `c${Math.random().toString(36).slice(2)}@example.com` }, subject: 'Order', body: 'Where is it?' },
  });
  expect(created.statusCode, created.body).toBe(201);
  const ticket = created.json<{ id: string }>();
  const solved = await ctx.app.inject({ method: 'POST', url: `/v1/tickets/${ticket.id}/messages`, headers: bearer(ctx.adminToken), payload: { body: 'Done', public: true, status: 'solved' } });
  expect(solved.statusCode, solved.body).toBe(201);
  const offer = (await ctx.deps.db.select().from(outbox).where(eq(outbox.ticketId, ticket.id))).map((o) => o.payload?.text ?? '').find((text) => text.includes('/v1/csat/'));
  return /\/v1\/csat\/([A-Za-z0-9_-]+)/.exec(offer ?? '')![1]!;
}

/** Computed direction and box of an element, evaluated in the page (the test program has no DOM types). */
function layoutOf(page: Page, selector: string) {
  return page.locator(selector).evaluate((el: { getBoundingClientRect(): { x: number } }) => {
    const style = (globalThis as unknown as { getComputedStyle(element: unknown): { direction: string } }).getComputedStyle;
    return { direction: style(el).direction, x: el.getBoundingClientRect().x };
  });
}

describe('browser: the survey page', () => {
  it('answers a survey in Hebrew, right to left, then shows the friendly page for the used link', async () => {
    const token = await solvedSurvey('he');
    const page = await browser.newPage();
    await page.setViewportSize({ width: 480, height: 860 });
    const opened = await page.goto(`${base}/v1/csat/${token}`);
    expect(opened!.status()).toBe(200);
    expect(opened!.headers()['content-type']).toMatch(/^text\/html/);
    expect(opened!.headers()['content-security-policy']).toContain("script-src 'self'");
    expect(await page.locator('html').getAttribute('lang')).toBe('he');
    expect(await page.locator('h1').first().textContent()).toBe('איך היינו?');

    // Right to left: the page, the question, the scale (score 1 on the right, 5 on the left).
    expect((await layoutOf(page, 'body')).direction).toBe('rtl');
    expect((await layoutOf(page, '#question')).direction).toBe('rtl');
    const one = await layoutOf(page, 'button.score[data-score="1"]');
    const five = await layoutOf(page, 'button.score[data-score="5"]');
    expect(one.direction).toBe('rtl');
    expect(one.x).toBeGreaterThan(five.x);

    // Sending without a score asks for one, in Hebrew.
    await page.locator('#send').click();
    expect(await page.locator('#message').textContent()).toBe('נא לבחור ציון.');

    await page.locator('button.score[data-score="4"]').click();
    expect(await page.locator('button.score[data-score="4"]').getAttribute('aria-pressed')).toBe('true');
    await page.locator('#comment').fill('שירות מהיר ואדיב, תודה');
    expect((await layoutOf(page, '#comment')).direction).toBe('rtl');
    await page.screenshot({ path: new URL('csat-he.png', SCREENSHOTS).pathname });
    await page.locator('#send').click();
    await page.locator('#done').waitFor();
    expect(await page.locator('#done h1').textContent()).toContain('תודה רבה!');

    const stored = await ctx.app.inject({ method: 'GET', url: `/v1/csat/${token}` });
    expect(stored.headers['content-type']).toMatch(/^application\/json/);
    expect(stored.json()).toMatchObject({ answered: true });

    // The used link again: a page saying so, in Hebrew, not JSON.
    const again = await page.goto(`${base}/v1/csat/${token}`);
    expect(again!.status()).toBe(200);
    expect(again!.headers()['content-type']).toMatch(/^text\/html/);
    expect(await page.locator('h1').textContent()).toContain('כבר ענית על הסקר');
    expect((await layoutOf(page, 'h1')).direction).toBe('rtl');
    expect(await page.locator('form').count()).toBe(0);
    expect(browser.errors).toEqual([]);
  }, 90_000);

  it('shows friendly pages for an unknown, a malformed and an expired link', async () => {
    const page = await browser.newPage();
    const unknown = await page.goto(`${base}/v1/csat/${'a'.repeat(32)}`);
    expect(unknown!.status()).toBe(404);
    expect(unknown!.headers()['content-type']).toMatch(/^text\/html/);
    // No survey, so the browser's language (he-IL) decides.
    expect(await page.locator('h1').textContent()).toContain('הסקר לא נמצא');
    const malformed = await page.goto(`${base}/v1/csat/nope`);
    expect(malformed!.status()).toBe(404);
    expect(await page.locator('h1').textContent()).toContain('הסקר לא נמצא');

    const token = await solvedSurvey('pl');
    clock.advance(15 * 24 * 3_600_000);
    const expired = await page.goto(`${base}/v1/csat/${token}`);
    expect(expired!.status()).toBe(410);
    expect(await page.locator('html').getAttribute('lang')).toBe('pl');
    expect(await page.locator('h1').textContent()).toContain('Ankieta jest już zamknięta');
    // API clients keep their JSON.
    const json = await ctx.app.inject({ method: 'GET', url: `/v1/csat/${token}`, headers: { accept: 'application/json' } });
    expect(json.json()).toMatchObject({ expired: true });
    const bad = await ctx.app.inject({ method: 'GET', url: '/v1/csat/nope' });
    expect(bad.statusCode).toBe(400);
    expect(bad.headers['content-type']).toMatch(/^application\/problem\+json/);
  });

  it('speaks Arabic right to left and Russian and English left to right', async () => {
    for (const [language, dir, title] of [
      ['ar', 'rtl', 'كيف كانت خدمتنا؟'],
      ['ru', 'ltr', 'Как мы справились?'],
      ['en', 'ltr', 'How did we do?'],
    ] as const) {
      const token = await solvedSurvey(language);
      const res = await ctx.app.inject({ method: 'GET', url: `/v1/csat/${token}`, headers: { accept: 'text/html' } });
      expect(res.statusCode).toBe(200);
      expect(res.body).toContain(`<html lang="${language}" dir="${dir}">`);
      expect(res.body).toContain(title);
      expect(res.body).not.toMatch(/<script(?![^>]*\bsrc=)/);
    }
  });
});
