import type { LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import type { Role } from '../../src/modules/auth/api-keys.models.js';
import type { TicketView } from '../../src/modules/tickets/tickets.schemas.js';
import { ManualClock } from '../../src/shared/clock.js';
import { bearer, type TestContext } from './context.js';

/** A view as it travels over the wire: dates become ISO strings. */
export type Json<T> = { [K in keyof T]: T[K] extends Date ? string : T[K] extends Date | null ? string | null : T[K] };
export type TicketJson = Json<TicketView>;
export interface AgentJson {
  id: string;
  name: string;
  email: string;
  teamId: string | null;
  languages: string[];
  active: boolean;
}
export interface TeamJson {
  id: string;
  name: string;
  leadAgentId: string | null;
}
export interface ProblemJson {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance: string;
  code: string;
  errors?: { field: string; message: string }[];
  [extension: string]: unknown;
}

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

/** app.inject with a bearer token (the context's admin key unless told otherwise). */
export function client(ctx: TestContext, token: string = ctx.adminToken) {
  const call = (method: Method, url: string, payload?: unknown, headers: Record<string, string> = {}) =>
    ctx.app.inject({ method, url, headers: { ...bearer(token), ...headers }, ...(payload === undefined ? {} : { payload: payload as object }) });
  return {
    get: (url: string, headers?: Record<string, string>) => call('GET', url, undefined, headers),
    post: (url: string, payload?: unknown, headers?: Record<string, string>) => call('POST', url, payload, headers),
    patch: (url: string, payload?: unknown, headers?: Record<string, string>) => call('PATCH', url, payload, headers),
    delete: (url: string, headers?: Record<string, string>) => call('DELETE', url, undefined, headers),
  };
}

export function manualClock(ctx: TestContext): ManualClock {
  if (!(ctx.clock instanceof ManualClock)) throw new Error('the test context was built with another clock');
  return ctx.clock;
}

let sequence = 0;
/** A value unique within the test process, for e-mails and names. */
export const unique = (label = 'x') => `${label}${++sequence}${Date.now().toString(36)}`;

export async function createTicket(ctx: TestContext, overrides: Record<string, unknown> = {}, token?: string): Promise<TicketJson> {
  const res = await client(ctx, token).post('/v1/tickets', {
    channel: 'email',
    customer: { email: `${unique('c')}@example.com` },
    subject: 'Broken kettle',
    body: 'It leaks',
    ...overrides,
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json<TicketJson>();
}

export async function createAgent(ctx: TestContext, overrides: Record<string, unknown> = {}): Promise<AgentJson> {
  const res = await client(ctx).post('/v1/agents', { name: 'Agent', email: `${unique('agent')}@desk.example`, ...overrides });
  expect(res.statusCode, res.body).toBe(201);
  return res.json<AgentJson>();
}

export async function createTeam(ctx: TestContext, overrides: Record<string, unknown> = {}): Promise<TeamJson> {
  const res = await client(ctx).post('/v1/teams', { name: unique('team'), ...overrides });
  expect(res.statusCode, res.body).toBe(201);
  return res.json<TeamJson>();
}

/** A fresh API key of this role, made through the service (the HTTP route has its own tests). */
export async function tokenFor(ctx: TestContext, role: Role, agentId?: string): Promise<string> {
  const key = await ctx.deps.apiKeys.create({ name: `${role} key`, role, agentId: agentId ?? null });
  return key.token;
}

/** PATCH a ticket with If-Match set to its current version (read first). */
export async function patchTicket(ctx: TestContext, ticket: { id: string }, body: Record<string, unknown>, token?: string) {
  const { version } = (await client(ctx).get(`/v1/tickets/${ticket.id}`)).json<TicketJson>();
  return client(ctx, token).patch(`/v1/tickets/${ticket.id}`, body, { 'if-match': `"${version}"` });
}

export async function eventTypes(ctx: TestContext, ticketId: string): Promise<string[]> {
  const res = await client(ctx).get(`/v1/tickets/${ticketId}/events?limit=200`);
  expect(res.statusCode, res.body).toBe(200);
  return res.json<{ items: { type: string }[] }>().items.map((e) => e.type);
}

/**
 * Asserts an RFC 9457 answer: the content type, the members every problem has, and (when
 * given) its status, code and the field it names. Returns the problem for further checks.
 */
export function expectProblem(res: LightMyRequestResponse, status: number, expected: { code?: string; field?: string } = {}): ProblemJson {
  expect(res.statusCode, res.body).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  const problem = res.json<ProblemJson>();
  expect(problem).toMatchObject({ status, type: expect.stringMatching(/^urn:complaint-desk:problem:/) });
  for (const member of ['title', 'detail', 'code', 'instance'] as const) expect(typeof problem[member], member).toBe('string');
  if (expected.code) expect(problem.code).toBe(expected.code);
  if (expected.field) {
    expect(problem.errors, 'errors[]').toBeDefined();
    expect(problem.errors!.map((e) => e.field)).toContain(expected.field);
    for (const error of problem.errors!) expect(typeof error.message).toBe('string');
  }
  return problem;
}

export const MINUTE = 60_000;
