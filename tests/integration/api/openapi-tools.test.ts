import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import SwaggerParser from '@apidevtools/swagger-parser';
import { describe, expect, it } from 'vitest';
import { OPENAPI_PATH, type OpenApiDocument } from '../../../src/http/openapi.js';

/** The checked-in document, as the tools that integrators use read it. */
const run = promisify(execFile);
const root = fileURLToPath(new URL('../../../', import.meta.url));
const document = JSON.parse(await readFile(OPENAPI_PATH, 'utf8')) as OpenApiDocument;
const operations = Object.entries(document.paths ?? {}).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ key: `${method.toUpperCase()} ${path}`, path, method, op })));

describe('openapi/openapi.json with the tools integrators use', () => {
  it('validates with @apidevtools/swagger-parser', async () => {
    await expect(SwaggerParser.validate(fileURLToPath(OPENAPI_PATH))).resolves.toBeTruthy();
  });

  it('passes `redocly lint` with the repository config: no errors, no warnings', async () => {
    const { stdout, stderr } = await run(process.execPath, [`${root}node_modules/@redocly/cli/bin/cli.js`, 'lint', '--config', `${root}redocly.yaml`, '--format', 'json', fileURLToPath(OPENAPI_PATH)], {
      cwd: root,
      env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
      maxBuffer: 64 * 1024 * 1024,
    }).catch((error: { stdout: string; stderr: string }) => error);
    const report = JSON.parse(stdout) as { totals: { errors: number; warnings: number }; problems: { ruleId: string; message: string }[] };
    expect(report.problems.map((p) => `${p.ruleId}: ${p.message}`), stderr).toEqual([]);
    expect(report.totals).toMatchObject({ errors: 0, warnings: 0 });
  }, 60_000);

  it('gives every operation a unique, camelCase operationId and a description', () => {
    const ids = operations.map(({ op }) => op.operationId);
    expect(ids.filter((id) => !id || !/^[a-z][A-Za-z0-9]*$/.test(id))).toEqual([]);
    expect(new Set(ids).size).toBe(ids.length);
    expect(operations.filter(({ op }) => !op.description).map(({ key }) => key)).toEqual([]);
    expect(document.servers?.length).toBeGreaterThan(0);
  });

  it('describes every parameter and names every answer by its meaning', () => {
    const undescribed = operations.flatMap(({ key, op }) => (op.parameters ?? []).filter((p) => !p.description).map((p) => `${key} ${p.in}.${p.name}`));
    expect(undescribed).toEqual([]);
    const unnamed = operations.flatMap(({ key, op }) => Object.entries(op.responses ?? {}).filter(([, r]) => !r.description || r.description === 'Default Response').map(([s]) => `${key} ${s}`));
    expect(unnamed).toEqual([]);
  });

  it('documents errors as application/problem+json with the Problem schema', () => {
    const wrong = operations.flatMap(({ key, op }) =>
      Object.entries(op.responses ?? {})
        .filter(([status]) => Number(status) >= 400)
        .filter(([, r]) => JSON.stringify(r.content) !== JSON.stringify({ 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } }))
        .map(([status]) => `${key} ${status}`),
    );
    expect(wrong).toEqual([]);
  });

  it('documents response headers: ETag, Location, rate limits, Retry-After, WWW-Authenticate', () => {
    const answers = (method: string, path: string) => document.paths![path]![method]!.responses!;
    expect(Object.keys(answers('post', '/v1/tickets')['201']!.headers!)).toEqual(expect.arrayContaining(['ETag', 'Location', 'X-RateLimit-Remaining', 'X-Request-Id']));
    expect(Object.keys(answers('get', '/v1/tickets/{id}')['200']!.headers!)).toContain('ETag');
    expect(Object.keys(answers('get', '/v1/tickets')['429']!.headers!)).toContain('Retry-After');
    expect(Object.keys(answers('get', '/v1/tickets')['401']!.headers!)).toContain('WWW-Authenticate');
  });

  it('marks public routes `security: []`, SSE as text/event-stream, and key-authenticated POSTs take an Idempotency-Key', () => {
    for (const path of ['/healthz', '/webhooks/facebook', '/v1/csat/{token}']) {
      for (const op of Object.values(document.paths![path]!)) expect(op.security).toEqual([]);
    }
    expect(Object.keys(document.paths!['/v1/sla/stream']!.get!.responses!['200']!.content!)).toEqual(['text/event-stream']);
    const withoutKey = operations.filter(({ method, path, op }) => method === 'post' && path.startsWith('/v1/') && op.security?.length && !op.parameters?.some((p) => p.name === 'idempotency-key'));
    expect(withoutKey.map(({ key }) => key)).toEqual([]);
  });

  it("names the Facebook handshake's hub.* parameters instead of a record's keywords", () => {
    const names = document.paths!['/webhooks/facebook']!.get!.parameters!.map((p) => `${p.in}.${p.name}`);
    expect(names.sort()).toEqual(['query.hub.challenge', 'query.hub.mode', 'query.hub.verify_token']);
  });

  it('leaks no ±2^53-1 bounds of zod integers and keeps enums as enums', async () => {
    const text = await readFile(OPENAPI_PATH, 'utf8');
    expect(text).not.toContain('9007199254740991');
    const status = (document.components!.schemas!.Ticket as { properties: { status: { enum?: string[] } } }).properties.status;
    expect(status.enum).toEqual(expect.arrayContaining(['open', 'solved']));
  });
});
