import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestContext, type TestContext } from '../../helpers/context.js';
import { client, createAgent, createTeam, createTicket, expectProblem, type TicketJson } from '../../helpers/api.js';

let ctx: TestContext;
let ticket: TicketJson;
let agentId: string;
let teamId: string;
beforeAll(async () => {
  ctx = await createTestContext();
  ticket = await createTicket(ctx);
  agentId = (await createAgent(ctx)).id;
  teamId = (await createTeam(ctx)).id;
});
afterAll(async () => ctx?.close());

const long = (n: number) => 'x'.repeat(n);
const valid = { channel: 'email', customer: { email: 'v@example.com' }, subject: 'Subject', body: 'Body' };
const raw = (method: 'POST' | 'PATCH', url: string, payload: string, contentType: string, extra: Record<string, string> = {}) =>
  ctx.app.inject({ method, url, payload, headers: { ...bearer(ctx.adminToken), 'content-type': contentType, ...extra } });

describe('problem+json answers', () => {
  it('a validation error names the field, in errors[] and in detail, with the request as instance', async () => {
    const res = await client(ctx).post('/v1/tickets', { ...valid, customer: { email: 'not-an-email' } });
    const problem = expectProblem(res, 400, { code: 'validation', field: 'body.customer.email' });
    expect(problem).toMatchObject({ title: 'Invalid request', type: 'urn:complaint-desk:problem:validation', instance: '/v1/tickets' });
    expect(problem.detail).toContain('body.customer.email');
  });

  it('reports every failing field at once', async () => {
    const problem = expectProblem(await client(ctx).post('/v1/tickets', { channel: 'fax', customer: { name: 'x' }, subject: '', body: 'b', priority: 'p0' }), 400);
    expect(problem.errors!.map((e) => e.field).sort()).toEqual(['body.channel', 'body.priority', 'body.subject']);
  });

  it('malformed JSON is 400 malformed-json', async () => {
    expectProblem(await raw('POST', '/v1/tickets', '{"channel": "email", ', 'application/json'), 400, { code: 'malformed-json', field: 'body' });
    expectProblem(await raw('POST', '/v1/tickets', "{'single': 'quotes'}", 'application/json'), 400, { code: 'malformed-json' });
  });

  it('an empty JSON body is 400', async () => {
    expectProblem(await raw('POST', '/v1/tickets', '', 'application/json'), 400, { field: 'body' });
    expectProblem(await raw('PATCH', `/v1/tickets/${ticket.id}`, '', 'application/json', { 'if-match': '"1"' }), 400, { field: 'body' });
  });

  it('a prototype-poisoning body is refused with 400', async () => {
    expectProblem(await raw('POST', '/v1/tickets', JSON.stringify(valid).replace('{', '{"__proto__": {"admin": true}, '), 'application/json'), 400);
    expectProblem(await raw('POST', '/v1/tickets', JSON.stringify(valid).replace('{', '{"constructor": {"prototype": {"admin": true}}, '), 'application/json'), 400);
  });

  it('a content type other than JSON is 415 naming header.content-type', async () => {
    expectProblem(await raw('POST', '/v1/tickets', '<ticket/>', 'application/xml'), 415, { code: 'unsupported-media-type', field: 'header.content-type' });
    expectProblem(await raw('POST', '/v1/tickets', 'channel=email', 'application/x-www-form-urlencoded'), 415, { field: 'header.content-type' });
    expectProblem(await raw('PATCH', `/v1/tickets/${ticket.id}`, 'priority=low', 'multipart/form-data; boundary=x', { 'if-match': '"1"' }), 415);
  });

  it('text/plain is 415 too (the API removes the default text parser)', async () => {
    expectProblem(await raw('POST', '/v1/tickets', JSON.stringify(valid), 'text/plain'), 415, { field: 'header.content-type' });
  });

  // Fastify rejects a URL it cannot decode before routing; frameworkErrors renders it as a problem.
  it('a URL with broken percent-encoding is a 400 problem+json', async () => {
    expectProblem(await client(ctx).get('/v1/tickets/%E0%A4%A'), 400, { code: 'bad-url' });
  });

  it('JSON with a charset parameter is accepted', async () => {
    expect((await raw('POST', '/v1/tickets', JSON.stringify(valid), 'application/json; charset=utf-8')).statusCode).toBe(201);
  });

  it('an id that is not a uuid is 400 naming path.id, on every route with an id', async () => {
    const routes: [string, string, unknown?][] = [
      ['GET', '/v1/tickets/1042'],
      ['PATCH', '/v1/tickets/1042', { priority: 'low', version: 1 }],
      ['GET', '/v1/tickets/1042/messages'],
      ['POST', '/v1/tickets/1042/messages', { body: 'x', public: true }],
      ['GET', '/v1/tickets/1042/events'],
      ['POST', '/v1/tickets/1042/merge', { targetTicketId: ticket.id }],
      ['GET', '/v1/customers/abc'],
      ['POST', '/v1/customers/abc/merge', { targetCustomerId: ticket.customerId }],
      ['GET', '/v1/teams/abc'],
      ['PATCH', '/v1/teams/abc', { name: 'x' }],
      ['DELETE', '/v1/teams/abc'],
      ['GET', '/v1/agents/abc'],
      ['PATCH', '/v1/agents/abc', { name: 'x' }],
      ['DELETE', '/v1/agents/abc'],
      ['DELETE', '/v1/api-keys/abc'],
      ['GET', `/v1/tickets/${ticket.id}x`],
      ['GET', '/v1/tickets/%00'],
    ];
    for (const [method, url, payload] of routes) {
      const res = await ctx.app.inject({ method: method as 'GET', url, headers: bearer(ctx.adminToken), ...(payload ? { payload: payload as object } : {}) });
      expectProblem(res, 400, { code: 'validation', field: 'path.id' });
    }
  });

  it('an unknown route is a 404 problem, a known path with a wrong method a 405 with Allow, with or without a key', async () => {
    for (const [method, url] of [
      ['GET', '/v2/tickets'],
      ['GET', '/v1/ticket'],
      ['GET', '/'],
    ] as const) {
      const problem = expectProblem(await ctx.app.inject({ method, url }), 404, { code: 'not-found' });
      expect(problem.detail).toContain(url.split('?')[0]);
      expectProblem(await ctx.app.inject({ method, url, headers: bearer(ctx.adminToken) }), 404);
    }
    for (const [method, url] of [
      ['PUT', '/v1/tickets'],
      ['DELETE', `/v1/tickets/${ticket.id}`],
    ] as const) {
      const problem = expectProblem(await ctx.app.inject({ method, url }), 405, { code: 'method-not-allowed' });
      expect(problem.detail).toContain(url);
      expectProblem(await ctx.app.inject({ method, url, headers: bearer(ctx.adminToken) }), 405);
    }
  });

  it('an empty PATCH, or one with only a version, is 400', async () => {
    const url = `/v1/tickets/${ticket.id}`;
    expectProblem(await client(ctx).patch(url, {}, { 'if-match': '"1"' }), 400, { field: 'body' });
    expectProblem(await client(ctx).patch(url, { version: 1 }), 400, { field: 'body' });
    expectProblem(await client(ctx).patch(url, undefined, { 'if-match': '"1"' }), 400, { field: 'body' });
  });

  it('unknown body members are ignored, not stored', async () => {
    const res = await client(ctx).post('/v1/tickets', { ...valid, status: 'closed', version: 99, number: 1, escalationLevel: 3 });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ status: 'new', version: 1, escalationLevel: 0 });
    expect(res.json<TicketJson>().number).not.toBe(1);
  });

  it('a string with the NUL character (which Postgres cannot store) is 400 naming the field', async () => {
    const nul = 'a\u0000b';
    expectProblem(await client(ctx).post('/v1/tickets', { ...valid, subject: nul }), 400, { field: 'body.subject' });
    expectProblem(await client(ctx).post('/v1/tickets', { ...valid, customer: { name: nul } }), 400, { field: 'body.customer.name' });
    expectProblem(await client(ctx).post('/v1/tickets', { ...valid, tags: ['ok', nul] }), 400, { field: 'body.tags.1' });
    expectProblem(await client(ctx).get(`/v1/tickets?q=${encodeURIComponent(nul)}`), 400, { field: 'query.q' });
    expectProblem(await client(ctx).post('/v1/teams', { name: nul }), 400, { field: 'body.name' });
    // Other control characters are fine.
    expect((await client(ctx).post('/v1/tickets', { ...valid, subject: 'tab\there', body: 'line\nbreak\u0001' })).statusCode).toBe(201);
  });
});

describe('never a 500: bad requests of every kind answer 4xx problems', () => {
  interface Case {
    name: string;
    method?: 'GET' | 'POST' | 'PATCH' | 'DELETE';
    url: string | (() => string);
    payload?: unknown | (() => unknown);
    headers?: Record<string, string>;
    status?: number;
    field?: string | (() => string);
    /** Answered 4xx, but not (yet) as problem+json. */
    notProblem?: true;
  }
  const t = () => `/v1/tickets/${ticket.id}`;
  const ifMatch = { 'if-match': '"1"' };
  const cases: Case[] = [
    // Creating tickets
    { name: 'empty object', method: 'POST', url: '/v1/tickets', payload: {}, field: 'body.channel' },
    { name: 'JSON array', method: 'POST', url: '/v1/tickets', payload: [valid], field: 'body' },
    { name: 'JSON string', method: 'POST', url: '/v1/tickets', payload: '"ticket"', headers: { 'content-type': 'application/json' }, field: 'body' },
    { name: 'JSON null', method: 'POST', url: '/v1/tickets', payload: 'null', headers: { 'content-type': 'application/json' } },
    { name: 'unknown channel', method: 'POST', url: '/v1/tickets', payload: { ...valid, channel: 'fax' }, field: 'body.channel' },
    { name: 'neither customer nor customerId', method: 'POST', url: '/v1/tickets', payload: { ...valid, customer: undefined }, field: 'body.customer' },
    { name: 'customer with nothing in it', method: 'POST', url: '/v1/tickets', payload: { ...valid, customer: {} }, field: 'body.customer' },
    { name: 'customer as a string', method: 'POST', url: '/v1/tickets', payload: { ...valid, customer: 'dana@example.com' }, field: 'body.customer' },
    { name: 'bad e-mail', method: 'POST', url: '/v1/tickets', payload: { ...valid, customer: { email: 'dana@' } }, field: 'body.customer.email' },
    { name: 'e-mail too long', method: 'POST', url: '/v1/tickets', payload: { ...valid, customer: { email: `${long(310)}@example.com` } }, field: 'body.customer.email' },
    { name: 'name too long', method: 'POST', url: '/v1/tickets', payload: { ...valid, customer: { name: long(201) } }, field: 'body.customer.name' },
    { name: 'phone too short', method: 'POST', url: '/v1/tickets', payload: { ...valid, customer: { phone: '12' } }, field: 'body.customer.phone' },
    { name: 'phone too long', method: 'POST', url: '/v1/tickets', payload: { ...valid, customer: { phone: '1'.repeat(41) } }, field: 'body.customer.phone' },
    { name: 'phone not a number', method: 'POST', url: '/v1/tickets', payload: { ...valid, customer: { phone: 'sip:alice@example.com' } }, field: 'body.customer.phone' },
    { name: 'phone as a number', method: 'POST', url: '/v1/tickets', payload: { ...valid, customer: { phone: 501234567 } }, field: 'body.customer.phone' },
    { name: 'empty subject', method: 'POST', url: '/v1/tickets', payload: { ...valid, subject: '' }, field: 'body.subject' },
    { name: 'blank subject', method: 'POST', url: '/v1/tickets', payload: { ...valid, subject: '   ' }, field: 'body.subject' },
    { name: 'subject too long', method: 'POST', url: '/v1/tickets', payload: { ...valid, subject: long(501) }, field: 'body.subject' },
    { name: 'subject a number', method: 'POST', url: '/v1/tickets', payload: { ...valid, subject: 42 }, field: 'body.subject' },
    { name: 'body too long', method: 'POST', url: '/v1/tickets', payload: { ...valid, body: long(100_001) }, field: 'body.body' },
    { name: 'priority a number', method: 'POST', url: '/v1/tickets', payload: { ...valid, priority: 5 }, field: 'body.priority' },
    { name: 'unknown priority', method: 'POST', url: '/v1/tickets', payload: { ...valid, priority: 'critical' }, field: 'body.priority' },
    { name: 'language a name', method: 'POST', url: '/v1/tickets', payload: { ...valid, language: 'Hebrew' }, field: 'body.language' },
    { name: 'tags a string', method: 'POST', url: '/v1/tickets', payload: { ...valid, tags: 'refund' }, field: 'body.tags' },
    { name: 'tag with a space', method: 'POST', url: '/v1/tickets', payload: { ...valid, tags: ['ok', 'two words'] }, field: 'body.tags.1' },
    { name: 'tag with a comma', method: 'POST', url: '/v1/tickets', payload: { ...valid, tags: ['a,b'] }, field: 'body.tags.0' },
    { name: 'tag too long', method: 'POST', url: '/v1/tickets', payload: { ...valid, tags: [long(65)] }, field: 'body.tags.0' },
    { name: 'too many tags', method: 'POST', url: '/v1/tickets', payload: { ...valid, tags: Array.from({ length: 51 }, (_, i) => `t${i}`) }, field: 'body.tags' },
    { name: 'customerId not a uuid', method: 'POST', url: '/v1/tickets', payload: { ...valid, customer: undefined, customerId: 'dana' }, field: 'body.customerId' },
    { name: 'assigneeId not a uuid', method: 'POST', url: '/v1/tickets', payload: { ...valid, assigneeId: 'me' }, field: 'body.assigneeId' },
    { name: 'teamId a number', method: 'POST', url: '/v1/tickets', payload: { ...valid, teamId: 7 }, field: 'body.teamId' },
    {
      name: 'deeply nested junk (200 000 levels)',
      method: 'POST',
      url: '/v1/tickets',
      payload: () => `{"channel":"email","subject":"s","body":"b","customer":${'['.repeat(200_000)}"a\u0000"${']'.repeat(200_000)}}`,
      headers: { 'content-type': 'application/json' },
    },
    // Changing tickets
    { name: 'PATCH unknown status', method: 'PATCH', url: t, payload: { status: 'archived' }, headers: ifMatch, field: 'body.status' },
    { name: 'PATCH assignee not a uuid', method: 'PATCH', url: t, payload: { assigneeId: 'bob' }, headers: ifMatch, field: 'body.assigneeId' },
    { name: 'PATCH blank subject', method: 'PATCH', url: t, payload: { subject: ' ' }, headers: ifMatch, field: 'body.subject' },
    { name: 'PATCH tags of numbers', method: 'PATCH', url: t, payload: { tags: [1] }, headers: ifMatch, field: 'body.tags.0' },
    { name: 'PATCH version zero', method: 'PATCH', url: t, payload: { priority: 'low', version: 0 }, field: 'body.version' },
    { name: 'PATCH version a string', method: 'PATCH', url: t, payload: { priority: 'low', version: '1' }, field: 'body.version' },
    { name: 'PATCH version fractional', method: 'PATCH', url: t, payload: { priority: 'low', version: 1.5 }, field: 'body.version' },
    { name: 'PATCH version huge', method: 'PATCH', url: t, payload: { priority: 'low', version: 1e300 }, field: 'body.version' },
    { name: 'If-Match not a tag', method: 'PATCH', url: t, payload: { priority: 'low' }, headers: { 'if-match': 'abc' }, field: 'header.if-match' },
    { name: 'If-Match a list', method: 'PATCH', url: t, payload: { priority: 'low' }, headers: { 'if-match': '"1", "2"' }, field: 'header.if-match' },
    { name: 'If-Match star', method: 'PATCH', url: t, payload: { priority: 'low' }, headers: { 'if-match': '*' }, field: 'header.if-match' },
    { name: 'If-Match huge', method: 'PATCH', url: t, payload: { priority: 'low' }, headers: { 'if-match': `"${'9'.repeat(30)}"` }, status: 412 },
    { name: 'PATCH unknown ticket', method: 'PATCH', url: '/v1/tickets/0b7f2a1e-9d7c-4d55-8f0a-7c6b1e2d3f4a', payload: { priority: 'low' }, headers: ifMatch, status: 404 },
    { name: 'PATCH unknown team', method: 'PATCH', url: t, payload: { teamId: '0b7f2a1e-9d7c-4d55-8f0a-7c6b1e2d3f4a' }, headers: ifMatch, field: 'body.teamId' },
    // Messages and merges
    { name: 'message without body', method: 'POST', url: () => `${t()}/messages`, payload: { public: true }, field: 'body.body' },
    { name: 'message without public', method: 'POST', url: () => `${t()}/messages`, payload: { body: 'x' }, field: 'body.public' },
    { name: 'message public a string', method: 'POST', url: () => `${t()}/messages`, payload: { body: 'x', public: 'yes' }, field: 'body.public' },
    { name: 'message blank body', method: 'POST', url: () => `${t()}/messages`, payload: { body: ' \n ', public: false }, field: 'body.body' },
    { name: 'message unknown status', method: 'POST', url: () => `${t()}/messages`, payload: { body: 'x', public: true, status: 'done' }, field: 'body.status' },
    { name: 'message html too long', method: 'POST', url: () => `${t()}/messages`, payload: { body: 'x', public: true, html: long(500_001) }, field: 'body.html' },
    { name: 'message author not a uuid', method: 'POST', url: () => `${t()}/messages`, payload: { body: 'x', public: true, authorAgentId: 'me' }, field: 'body.authorAgentId' },
    { name: 'message on unknown ticket', method: 'POST', url: '/v1/tickets/0b7f2a1e-9d7c-4d55-8f0a-7c6b1e2d3f4a/messages', payload: { body: 'x', public: true }, status: 404 },
    { name: 'merge without target', method: 'POST', url: () => `${t()}/merge`, payload: {}, field: 'body.targetTicketId' },
    { name: 'merge target a number', method: 'POST', url: () => `${t()}/merge`, payload: { targetTicketId: 1042 }, field: 'body.targetTicketId' },
    // Listing
    ...(
      [
        ['status=bogus', 'query.status.0'],
        ['status=', 'query.status'],
        ['status=new,bogus', 'query.status.1'],
        ['status=new&status=open', 'query.status'],
        ['channel=fax', 'query.channel.0'],
        ['priority=p1', 'query.priority.0'],
        ['assigneeId=someone', 'query.assigneeId'],
        ['teamId=abc', 'query.teamId'],
        ['customerId=abc', 'query.customerId'],
        ['language=Hebrew', 'query.language'],
        ['tag=two%20words', 'query.tag'],
        ['q=', 'query.q'],
        ['q=%20%20', 'query.q'],
        [`q=${long(201)}`, 'query.q'],
        ['createdFrom=yesterday', 'query.createdFrom'],
        ['createdFrom=2026-02-30T00:00:00Z', 'query.createdFrom'],
        ['createdTo=2026-01-01', 'query.createdTo'],
        ['updatedTo=2026-01-01T00:00:00', 'query.updatedTo'],
        ['updatedFrom=0000-01-01T00:00:00Z', 'query.updatedFrom'],
        ['createdFrom=0001-01-01T00:30:00%2B01:00', 'query.createdFrom'],
        ['sort=priority', 'query.sort'],
        ['sort=-number', 'query.sort'],
        ['limit=201', 'query.limit'],
        ['limit=0', 'query.limit'],
        ['limit=-1', 'query.limit'],
        ['limit=1.5', 'query.limit'],
        ['limit=abc', 'query.limit'],
        ['limit=1e400', 'query.limit'],
        ['limit=1&limit=2', 'query.limit'],
        ['cursor=garbage', 'query.cursor'],
        [`cursor=${long(501)}`, 'query.cursor'],
      ] as const
    ).map(([query, field]): Case => ({ name: `list ?${query.slice(0, 40)}`, url: `/v1/tickets?${query}`, field })),
    { name: 'messages ?limit=500', url: () => `${t()}/messages?limit=500`, field: 'query.limit' },
    { name: 'events ?cursor=x', url: () => `${t()}/events?cursor=x`, field: 'query.cursor' },
    { name: 'teams ?cursor=forged', url: `/v1/teams?cursor=${Buffer.from('{"v":"a","id":"b"}').toString('base64url')}`, field: 'query.cursor' },
    { name: 'agents ?limit=0', url: '/v1/agents?limit=0', field: 'query.limit' },
    // Teams, agents, customers, keys
    { name: 'team without name', method: 'POST', url: '/v1/teams', payload: {}, field: 'body.name' },
    { name: 'team name too long', method: 'POST', url: '/v1/teams', payload: { name: long(201) }, field: 'body.name' },
    { name: 'team lead not a uuid', method: 'POST', url: '/v1/teams', payload: { name: 'T', leadAgentId: 'boss' }, field: 'body.leadAgentId' },
    { name: 'team rename blank', method: 'PATCH', url: () => `/v1/teams/${teamId}`, payload: { name: '' }, field: 'body.name' },
    { name: 'agent bad e-mail', method: 'POST', url: '/v1/agents', payload: { name: 'A', email: 'nope' }, field: 'body.email' },
    { name: 'agent languages a string', method: 'POST', url: '/v1/agents', payload: { name: 'A', email: 'a@d.example', languages: 'he' }, field: 'body.languages' },
    { name: 'agent too many languages', method: 'POST', url: '/v1/agents', payload: { name: 'A', email: 'a@d.example', languages: Array(21).fill('he') }, field: 'body.languages' },
    { name: 'agent active a string', method: 'PATCH', url: () => `/v1/agents/${agentId}`, payload: { active: 'no' }, field: 'body.active' },
    { name: 'customer merge target a number', method: 'POST', url: () => `/v1/customers/${ticket.customerId}/merge`, payload: { targetCustomerId: 1 }, field: 'body.targetCustomerId' },
    { name: 'key without role', method: 'POST', url: '/v1/api-keys', payload: { name: 'k' }, field: 'body.role' },
    { name: 'key name too long', method: 'POST', url: '/v1/api-keys', payload: { name: long(201), role: 'agent' }, field: 'body.name' },
    { name: 'key agent not a uuid', method: 'POST', url: '/v1/api-keys', payload: { name: 'k', role: 'agent', agentId: 'me' }, field: 'body.agentId' },
    // Transport
    { name: 'bad percent-encoding in the path', url: '/v1/tickets/%E0%A4%A', status: 400 },
    { name: 'malformed JSON', method: 'POST', url: '/v1/tickets', payload: '{"a":', headers: { 'content-type': 'application/json' }, status: 400 },
    { name: 'XML body', method: 'POST', url: '/v1/tickets', payload: '<a/>', headers: { 'content-type': 'application/xml' }, status: 415 },
    { name: 'no content type with a body', method: 'POST', url: '/v1/tickets', payload: 'abc', headers: { 'content-type': '' } },
    { name: 'unknown route', url: '/v1/nothing-here', status: 404 },
  ];

  it.each(cases)('$name', async (c) => {
    const url = typeof c.url === 'function' ? c.url() : c.url;
    const payload = typeof c.payload === 'function' ? (c.payload as () => unknown)() : c.payload;
    const res = await ctx.app.inject({
      method: c.method ?? 'GET',
      url,
      headers: { ...bearer(ctx.adminToken), ...c.headers },
      ...(payload === undefined ? {} : { payload: payload as object }),
    });
    expect(res.statusCode, res.body).toBeGreaterThanOrEqual(400);
    expect(res.statusCode, res.body).toBeLessThan(500);
    if (c.notProblem) return expect(res.statusCode).toBe(c.status);
    const field = typeof c.field === 'function' ? c.field() : c.field;
    expectProblem(res, c.status ?? (field ? 400 : res.statusCode), field ? { field } : {});
  });

  it('and the ticket they aimed at is unchanged', async () => {
    const res = await client(ctx).get(`/v1/tickets/${ticket.id}`);
    expect(res.json()).toMatchObject({ version: 1, status: 'new', subject: ticket.subject, teamId: null });
  });
});

describe('body size limit', () => {
  let small: TestContext;
  beforeAll(async () => {
    small = await createTestContext({ env: { BODY_LIMIT_BYTES: '1024' } });
  });
  afterAll(async () => small?.close());

  it('answers 413 problem+json to a body over BODY_LIMIT_BYTES, and accepts one under it', async () => {
    const over = await client(small).post('/v1/tickets', { ...valid, body: long(2000) });
    expectProblem(over, 413, { code: 'payload-too-large', field: 'body' });
    expect((await client(small).post('/v1/tickets', { ...valid, body: long(800) })).statusCode).toBe(201);
    const created = (await client(small).get('/v1/tickets')).json<{ items: TicketJson[] }>().items;
    expect(created).toHaveLength(1);
    expectProblem(await client(small).post(`/v1/tickets/${created[0]!.id}/messages`, { body: long(5000), public: true }), 413);
  });
});
