import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPENAPI_PATH, renderOpenApi } from '../../src/http/openapi.js';
import { createTestContext, type TestContext } from '../helpers/context.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(async () => ctx?.close());

describe('openapi/openapi.json', () => {
  it('is what the routes produce now (run `npm run openapi` after changing a route)', async () => {
    const checkedIn = await readFile(OPENAPI_PATH, 'utf8');
    expect(checkedIn).toBe(renderOpenApi(ctx.app));
  });

  // The customer's survey link is the one /v1 route without a key: its token is the credential.
  const TOKEN_AUTHENTICATED = new Set(['/v1/csat/{token}']);

  it('documents every /v1 route as needing a bearer key (except token-authenticated survey links)', () => {
    const doc = ctx.app.swagger() as { paths: Record<string, Record<string, { security?: unknown[] }>> };
    const unsecured = Object.entries(doc.paths)
      .filter(([path]) => path.startsWith('/v1/') && !TOKEN_AUTHENTICATED.has(path))
      .flatMap(([path, ops]) => Object.entries(ops).filter(([, op]) => !op.security?.length).map(([method]) => `${method.toUpperCase()} ${path}`));
    expect(unsecured).toEqual([]);
  });
});
