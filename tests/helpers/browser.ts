import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

/**
 * Browser tests drive Debian's Chromium (package chromium; .ci/run installs it when missing)
 * through playwright-core, which brings no browser of its own. CHROMIUM_PATH points elsewhere
 * on a machine whose Chromium lives somewhere else.
 */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** The flags every run uses: no GPU, no sandbox (CI containers), nothing phoning home. */
export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
] as const;

export interface TestBrowser {
  /** One browser context over a fresh profile (cookies, storage): a new person at a new machine. */
  context: BrowserContext;
  /** A new tab whose console errors and uncaught page errors are collected in `errors`. */
  newPage(): Promise<Page>;
  /** Console errors and page errors of every tab opened through newPage, for assertions. */
  errors: string[];
  close(): Promise<void>;
}

export const chromiumAvailable = () => existsSync(CHROMIUM_PATH);

/**
 * Starts Chromium over a fresh --user-data-dir (removed again by close). playwright keeps the
 * profile directory itself (launchPersistentContext), so the flag is not passed twice.
 */
export async function launchBrowser(options: { locale?: string; timezoneId?: string } = {}): Promise<TestBrowser> {
  if (!chromiumAvailable()) throw new Error(`No Chromium at ${CHROMIUM_PATH}: install the chromium package (.ci/run does) or set CHROMIUM_PATH`);
  const profile = await mkdtemp(join(tmpdir(), 'cd-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    chromiumSandbox: false,
    args: [...CHROMIUM_FLAGS],
    locale: options.locale ?? 'en-US',
    // The viewer's time zone (pages show times in it); the machine's when not given.
    ...(options.timezoneId ? { timezoneId: options.timezoneId } : {}),
    timeout: 60_000,
  });
  // Bounds on each wait for a condition (an element, a navigation), not sleeps: generous for loaded CI runners.
  context.setDefaultTimeout(45_000);
  const errors: string[] = [];
  return {
    context,
    errors,
    async newPage() {
      const page = await context.newPage();
      page.on('console', (message) => {
        if (message.type() === 'error') errors.push(`console: ${message.text()}`);
      });
      page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`));
      return page;
    },
    async close() {
      await context.close().catch(() => undefined);
      await rm(profile, { recursive: true, force: true });
    },
  };
}

export { listen } from './listen.js';

export interface PageServer {
  /** The origin the pages are served from, e.g. http://localhost:41234 (for CORS_ORIGINS). */
  origin: string;
  close(): Promise<void>;
}

/**
 * A second web server standing for a frontend on another origin: serves the given pages
 * (path → HTML) as text/html, 404 for anything else. `host` picks the name the origin uses
 * (localhost by default, so it differs from the API's 127.0.0.1 even on the same port range).
 * Pages can be added after start through the returned map.
 */
export async function servePages(pages: Map<string, string> | Record<string, string>, host = 'localhost'): Promise<PageServer & { pages: Map<string, string> }> {
  const map = pages instanceof Map ? pages : new Map(Object.entries(pages));
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const body = map.get(path);
    if (body === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://${host}:${port}`,
    pages: map,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
