import { readFileSync } from 'node:fs';
import type { LightMyRequestResponse } from 'fastify';
import addFormatsModule from 'ajv-formats';
import { Ajv2020 } from 'ajv8/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPENAPI_PATH } from '../../../src/http/openapi.js';
import { createAgent, createTeam, createTicket, tokenFor, unique } from '../../helpers/api.js';
import { bearer, createTestContext, type TestContext } from '../../helpers/context.js';
import { WARSAW_WEEKDAYS } from '../../helpers/sla.js';

/*
 * Live answers against the checked-in document: for a representative set of the requests the
 * integration tests make, the status must be documented for the operation, the media type must
 * be one the document names for it, and the body must validate against that media type's schema
 * (OpenAPI 3.1 = JSON Schema 2020-12, so Ajv's 2020 dialect; ajv 8 under an alias, since the
 * root ajv is eslint's ajv 6).
 */

type Json = Record<string, unknown>;
interface Operation {
  responses: Record<string, { content?: Record<string, { schema?: Json }> }>;
}
const doc = JSON.parse(readFileSync(OPENAPI_PATH, 'utf8')) as { paths: Record<string, Record<string, Operation>> };

// ajv-formats is CommonJS with its plugin as module.exports (and .default): take whichever ESM interop gives.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv2020) => unknown;
const ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false });
addFormats(ajv);
ajv.addSchema(doc, 'openapi.json');

const pointer = (...segments: string[]) => segments.map((s) => s.replaceAll('~', '~0').replaceAll('/', '~1')).join('/');

/** The documented path template a concrete URL answers to; a static segment wins over a parameter. */
function templateOf(url: string): string | undefined {
  const path = url.split('?')[0]!;
  const candidates = Object.keys(doc.paths).filter((template) => new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(path));
  return candidates.sort((a, b) => (a.match(/\{/g)?.length ?? 0) - (b.match(/\{/g)?.length ?? 0))[0];
}

/** What is wrong with this answer according to the document (empty when it conforms). */
function mismatches(method: string, url: string, res: LightMyRequestResponse): string[] {
  const template = templateOf(url);
  if (!template) return [`${method} ${url}: no documented path`];
  const operation = doc.paths[template]![method.toLowerCase()];
  const where = `${method} ${template} → ${res.statusCode}`;
  if (!operation) {
    // A method the path does not have: no operation to document it under, but still a Problem.
    if (res.statusCode !== 405) return [`${method} ${template}: method not documented`];
    const problem = ajv.getSchema('openapi.json#/components/schemas/Problem')!;
    if (!String(res.headers['content-type']).startsWith('application/problem+json')) return [`${where}: not application/problem+json`];
    return problem(res.json()) ? [] : [`${where}: body is not a Problem: ${ajv.errorsText(problem.errors)}`];
  }
  const status = String(res.statusCode);
  const response = operation.responses[status] ?? operation.responses[`${status[0]}XX`] ?? operation.responses.default;
  if (!response) return [`${where}: status not documented (documented: ${Object.keys(operation.responses).join(', ')})`];
  if (!response.content || res.statusCode === 204 || res.statusCode === 304) return res.body === '' || !response.content ? [] : [`${where}: a body where none is documented`];
  const mediaType = String(res.headers['content-type'] ?? '').split(';')[0]!.trim();
  if (!response.content[mediaType]) return [`${where}: served as ${mediaType}, documented as ${Object.keys(response.content).join(', ')}`];
  if (!mediaType.endsWith('json')) return [];
  const validate = ajv.getSchema(`openapi.json#/${pointer('paths', template, method.toLowerCase(), 'responses', status in operation.responses ? status : 'default', 'content', mediaType, 'schema')}`);
  if (!validate) return [`${where}: no schema for ${mediaType}`];
  return validate(res.json()) ? [] : [`${where}: body does not match: ${ajv.errorsText(validate.errors)}`];
}

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(async () => ctx?.close());

describe('live answers against openapi/openapi.json', () => {
  it('documents every status, media type and body of a representative set of requests', async () => {
    const problems: string[] = [];
    const seen = new Set<number>();
    const call = async (method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE', url: string, payload?: unknown, headers: Record<string, string> = {}, token: string | null = ctx.adminToken) => {
      const res = await ctx.app.inject({ method, url, headers: { ...(token ? bearer(token) : {}), ...headers }, ...(payload === undefined ? {} : { payload: payload as object }) });
      problems.push(...mismatches(method, url, res));
      seen.add(res.statusCode);
      return res;
    };
    const missing = '00000000-0000-4000-8000-000000000000';

    // Tickets: create, read, conditional read, change, list, messages, events, calls.
    const ticket = await createTicket(ctx);
    await call('POST', '/v1/tickets', { channel: 'email', customer: { email: `${unique('c')}@example.com` }, subject: 'Kettle', body: 'Leaks' });
    const read = await call('GET', `/v1/tickets/${ticket.id}`);
    await call('GET', `/v1/tickets/${ticket.id}`, undefined, { 'if-none-match': String(read.headers.etag) });
    await call('PATCH', `/v1/tickets/${ticket.id}`, { priority: 'high' }, { 'if-match': String(read.headers.etag) });
    await call('PATCH', `/v1/tickets/${ticket.id}`, { priority: 'low' }, { 'if-match': String(read.headers.etag) }); // 412
    await call('GET', '/v1/tickets?limit=5');
    await call('GET', '/v1/tickets?status=open&q=kettle');
    await call('POST', `/v1/tickets/${ticket.id}/messages`, { body: 'We are on it', public: true });
    await call('POST', `/v1/tickets/${ticket.id}/messages`, { body: 'Internal', public: false, status: 'pending' });
    await call('POST', `/v1/tickets/${ticket.id}/calls`, { outcome: 'resolved' });
    await call('GET', `/v1/tickets/${ticket.id}/messages`);
    await call('GET', `/v1/tickets/${ticket.id}/events`);
    await call('POST', `/v1/tickets/${ticket.id}/messages`, { body: 'x', public: true }, { 'idempotency-key': 'conf-1' });
    await call('POST', `/v1/tickets/${ticket.id}/messages`, { body: 'y', public: true }, { 'idempotency-key': 'conf-1' }); // 422

    // Customers, agents, teams, blocklist.
    const customerId = (read.json() as { customerId?: string; customer?: { id: string } }).customerId ?? (read.json() as { customer?: { id: string } }).customer?.id;
    if (customerId) await call('GET', `/v1/customers/${customerId}`);
    await call('GET', `/v1/customers/${missing}`);
    const team = await createTeam(ctx);
    await call('POST', '/v1/teams', { name: unique('team') });
    await call('GET', '/v1/teams');
    await call('GET', `/v1/teams/${team.id}`);
    await call('POST', '/v1/teams', { name: team.name }); // 409
    const agent = await createAgent(ctx, { teamId: team.id });
    await call('POST', '/v1/agents', { name: 'Conformance', email: `${unique('a')}@desk.example`, languages: ['pl'] });
    await call('GET', '/v1/agents');
    await call('GET', `/v1/agents/${agent.id}`);
    await call('PATCH', `/v1/agents/${agent.id}`, { name: 'Renamed' });
    await call('POST', '/v1/blocklist', { kind: 'email', value: `${unique('spam')}@example.com` });
    await call('GET', '/v1/blocklist');
    await call('GET', '/v1/me');
    const agentToken = await tokenFor(ctx, 'agent', agent.id);
    await call('GET', '/v1/me', undefined, {}, agentToken);
    await call('PUT', '/v1/me/presence', { status: 'online' }, {}, agentToken);
    await call('POST', '/v1/me/next', undefined, {}, agentToken);
    await call('POST', '/v1/teams', { name: unique('team') }, {}, agentToken); // 403
    await call('GET', '/v1/api-keys');
    await call('GET', '/v1/templates');
    await call('GET', `/v1/tickets/${ticket.id}/commitments`);
    await call('GET', '/v1/kpi-targets');
    await call('GET', '/v1/alarms');

    // SLA: policies, calendars, breaches, at-risk.
    const calendar = await call('POST', '/v1/calendars', { name: unique('cal'), definition: WARSAW_WEEKDAYS });
    await call('GET', '/v1/calendars');
    await call('GET', `/v1/calendars/${calendar.json<{ id: string }>().id}`);
    const policy = await call('POST', '/v1/sla/policies', { name: unique('pol'), position: 1000, match: { teamIds: [missing] }, targets: { firstResponse: 60 } });
    await call('GET', '/v1/sla/policies');
    await call('GET', `/v1/sla/policies/${policy.json<{ id: string }>().id}`);
    await call('PUT', `/v1/sla/policies/${policy.json<{ id: string }>().id}`, { name: unique('pol'), position: 1000, match: {}, targets: { firstResponse: 60 } }, { 'if-match': '"stale"' }); // 412
    await call('DELETE', `/v1/sla/policies/${policy.json<{ id: string }>().id}`);
    await call('GET', '/v1/sla/breaches');
    await call('GET', '/v1/sla/at-risk');
    await call('POST', `/v1/sla/breaches/${missing}/ack`);

    // Outbox, KPIs, routing settings.
    await call('GET', '/v1/outbox');
    await call('GET', '/v1/outbox?state=dead');
    await call('POST', `/v1/outbox/${missing}/retry`);
    const to = new Date();
    const from = new Date(to.getTime() - 86_400_000);
    await call('GET', `/v1/reports/kpis?from=${from.toISOString()}&to=${to.toISOString()}&groupBy=channel`);
    await call('GET', '/v1/routing/settings');
    await call('PUT', '/v1/routing/settings', { routing: { method: 'round_robin' } });
    await call('GET', '/v1/routing/queues');

    // Errors: 400, 401, 404, 405, 422 (reused Idempotency-Key above), 409, 412.
    await call('POST', '/v1/tickets', { channel: 'pigeon' });
    await call('GET', '/v1/tickets/not-a-uuid');
    await call('GET', '/v1/tickets', undefined, {}, null);
    await call('GET', `/v1/tickets/${missing}`);
    await call('DELETE', `/v1/tickets/${ticket.id}`);
    await call('GET', '/healthz', undefined, {}, null);
    await call('GET', '/readyz', undefined, {}, null);

    expect(problems).toEqual([]);
    expect([...seen].sort(), JSON.stringify([...seen].sort())).toEqual(expect.arrayContaining([200, 201, 204, 304, 400, 401, 403, 404, 405, 409, 412, 422]));
  });

  it('the check itself catches an undocumented status, a wrong media type and a wrong body', async () => {
    const ticket = await createTicket(ctx);
    const real = await ctx.app.inject({ method: 'GET', url: `/v1/tickets/${ticket.id}`, headers: bearer(ctx.adminToken) });
    const forged = (statusCode: number, contentType: string, body: unknown) =>
      ({ ...real, statusCode, headers: { ...real.headers, 'content-type': contentType }, body: JSON.stringify(body), json: () => body }) as unknown as LightMyRequestResponse;
    const url = `/v1/tickets/${ticket.id}`;
    expect(mismatches('GET', url, real)).toEqual([]);
    expect(mismatches('GET', url, forged(418, 'application/json', {}))[0]).toMatch(/status not documented/);
    expect(mismatches('GET', url, forged(404, 'application/json', {}))[0]).toMatch(/served as application\/json, documented as application\/problem\+json/);
    expect(mismatches('GET', url, forged(200, 'application/json; charset=utf-8', { ...real.json<object>(), priority: 'whenever' }))[0]).toMatch(/body does not match.*priority/);
    expect(mismatches('GET', url, forged(404, 'application/problem+json', { title: 'no status' }))[0]).toMatch(/body does not match/);
  });
});
