import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import openapiTS, { astToString } from 'openapi-typescript';
import { afterAll, describe, expect, it } from 'vitest';
import { OPENAPI_PATH } from '../../../src/http/openapi.js';

/*
 * What an agent-frontend team does on day one: generate types from the checked-in document and
 * write against them. The script below must type-check; the @ts-expect-error lines prove the
 * types are real (an unknown path or a missing field is refused), not `any`.
 */
const run = promisify(execFile);
const root = fileURLToPath(new URL('../../../', import.meta.url));
// Under node_modules so that the script resolves openapi-fetch from the repository.
const scratch = join(root, 'node_modules', '.cache');
let dir: string | undefined;
afterAll(async () => dir && rm(dir, { recursive: true, force: true }));

const AGENT_SCRIPT = `
import createClient from 'openapi-fetch';
import type { paths } from './api.js';

const desk = createClient<paths>({ baseUrl: 'http://127.0.0.1:3000', headers: { authorization: 'Bearer cdk_x_y' } });

export async function workTheQueue(): Promise<string | undefined> {
  const list = await desk.GET('/v1/tickets', { params: { query: { status: 'open', limit: 20 } } });
  if (list.error) throw new Error(list.error.detail);
  const first = list.data.items[0];
  if (!first) return undefined;

  const opened = await desk.GET('/v1/tickets/{id}', { params: { path: { id: first.id } } });
  if (opened.error) throw new Error(opened.error.title);
  const version: string | null = opened.response.headers.get('etag');
  const subject: string = opened.data.subject;

  const reply = await desk.POST('/v1/tickets/{id}/messages', {
    params: { path: { id: first.id }, header: { 'idempotency-key': crypto.randomUUID() } },
    body: { body: 'We are on it: ' + subject, public: true },
  });
  if (reply.error) throw new Error(reply.error.detail);
  const messageId: string = reply.data.message.id;

  const breaches = await desk.GET('/v1/sla/breaches', { params: { query: { state: 'open' } } });
  const breach = breaches.data?.items[0];
  if (breach) {
    const ack = await desk.POST('/v1/sla/breaches/{id}/ack', { params: { path: { id: breach.id } }, body: { note: 'taking it' } });
    if (ack.error) throw new Error(ack.error.code);
  }

  // @ts-expect-error -- no such path
  await desk.GET('/v1/ticketz', {});
  // @ts-expect-error -- public is a boolean
  await desk.POST('/v1/tickets/{id}/messages', { params: { path: { id: first.id } }, body: { body: 'x', public: 'yes' } });
  return messageId + String(version);
}
`;

describe('a typed client generated from openapi/openapi.json', () => {
  it('generates with openapi-typescript and type-checks an agent-frontend script (list, open, reply, acknowledge a breach)', async () => {
    await mkdir(scratch, { recursive: true });
    dir = await mkdtemp(join(scratch, 'openapi-client-'));
    const types = astToString(await openapiTS(OPENAPI_PATH));
    expect(types).toContain('getTicketsById');
    await writeFile(join(dir, 'api.ts'), types);
    await writeFile(join(dir, 'agent.ts'), AGENT_SCRIPT);
    await writeFile(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
    await writeFile(
      join(dir, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { strict: true, noEmit: true, target: 'es2022', module: 'nodenext', moduleResolution: 'nodenext', lib: ['es2022', 'dom'], types: [], skipLibCheck: true }, files: ['agent.ts'] }),
    );
    const result = await run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(dir, 'tsconfig.json')], { cwd: dir }).catch(
      (error: { stdout: string; code: number }) => error,
    );
    expect(result.stdout).toBe('');
  }, 120_000);
});
