import cors from '@fastify/cors';
import { AppError } from '../shared/errors.js';
import type { App } from './types.js';

/** Headers a browser client reads from answers: versions, created URLs, back-off hints, request ids. */
export const EXPOSED_HEADERS = ['ETag', 'Location', 'Retry-After', 'X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset', 'X-Request-Id', 'Idempotent-Replayed'];
const ALLOWED_HEADERS = ['Authorization', 'Content-Type', 'If-Match', 'If-None-Match', 'Idempotency-Key', 'Last-Event-ID', 'X-Request-Id'];

/**
 * CORS for the browser origins in CORS_ORIGINS, matched exactly (no wildcard, no pattern). Any other origin gets no CORS header at all, and its preflight
 * a 403 problem, so the browser refuses the call and the page learns nothing.
 */
export async function registerCors(app: App, origins: readonly string[]): Promise<void> {
  const allowed = new Set(origins);
  await app.register(cors, {
    // false (not an error) for others: @fastify/cors then adds no header of its own.
    origin: (origin, callback) => callback(null, origin !== undefined && allowed.has(origin) ? origin : false),
    // No credentials: the API authenticates by Authorization header (and EventSource by stream
    // token), which needs none. Allowing them would let an allowed origin on the same site read
    // the cookie-signed pages (/ops, /admin: SameSite compares sites, not origins) with a
    // credentialed fetch; without Access-Control-Allow-Credentials the browser withholds such answers.
    credentials: false,
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    allowedHeaders: ALLOWED_HEADERS,
    exposedHeaders: EXPOSED_HEADERS,
    maxAge: 600,
  });
  // Runs only when the plugin did not answer (an answered reply skips the later hooks), so a
  // preflight that gets here comes from an origin that is not allowed.
  app.addHook('onRequest', async (request) => {
    if (request.method !== 'OPTIONS' || request.headers['access-control-request-method'] === undefined) return;
    throw new AppError(403, 'cors-origin-not-allowed', 'Forbidden', `The origin ${request.headers.origin ?? '(none)'} may not call this API from a browser (CORS_ORIGINS).`, [
      { field: 'header.origin', message: 'not an allowed origin' },
    ]);
  });
}
