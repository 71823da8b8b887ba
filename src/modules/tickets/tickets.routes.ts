import { z } from 'zod';
import type { Guard } from '../../http/auth.js';
import { principalOf } from '../../http/auth.js';
import { bearerSecurity, problemResponses, type App } from '../../http/types.js';
import type { Database } from '../../db/client.js';
import { notFound } from '../../shared/errors.js';
import { STAFF, STAFF_AND_INTEGRATIONS } from '../auth/api-keys.models.js';
import { findTicket, findTicketView, listEvents, listMessages, listTicketPage, toTicketView } from './tickets.repository.js';
import {
  createMessageBody,
  createTicketBody,
  eventPage,
  ifMatchHeaders,
  listTicketsQuery,
  logCallBody,
  mergeResult,
  mergeTicketBody,
  messageCreated,
  messagePage,
  pageQuery,
  ticketIdParams,
  ticketPage,
  ticketView,
  updateTicketBody,
  type TicketView,
} from './tickets.schemas.js';
import { parseIfMatch, type TicketService } from './tickets.service.js';
import { pageJson, withClocks, type ClocksOf, type PageClocks } from './ticket-clocks.js';
import { ifNoneMatchHits } from '../../http/entity-tag.js';

const ifNoneMatchHeaders = z.object({ 'if-none-match': z.string().max(1000).optional() });

const tags = ['tickets'];

type RenderTemplate = (ticketId: string, templateId: string, agentId: string | null) => Promise<{ body: string }>;

export function registerTicketRoutes(app: App, deps: { db: Database; tickets: TicketService; guard: Guard; slaOf: ClocksOf; pageClocks: PageClocks; renderTemplate: RenderTemplate }): void {
  const { db, tickets, guard } = deps;
  const withSla = <T extends TicketView>(items: T[]) => withClocks(items, deps.slaOf);

  app.post('/v1/tickets', {
    onRequest: guard(STAFF_AND_INTEGRATIONS),
    schema: {
      tags,
      summary: 'Open a ticket for a customer',
      security: bearerSecurity,
      body: createTicketBody,
      response: { 201: ticketView, ...problemResponses() },
    },
    handler: async (request, reply) => {
      const [ticket] = await withSla([await tickets.create(request.body, principalOf(request))]);
      if (!ticket) throw new Error('created ticket vanished');
      return reply.status(201).header('etag', `"${ticket.version}"`).header('location', `/v1/tickets/${ticket.id}`).send(ticket);
    },
  });

  app.get('/v1/tickets', {
    onRequest: guard(STAFF),
    schema: {
      tags,
      summary: 'List tickets with filters, text search and cursor pagination',
      security: bearerSecurity,
      querystring: listTicketsQuery,
      response: { 200: ticketPage, ...problemResponses() },
    },
    // The page comes from Postgres as JSON text, clocks included, and goes out as it is (see
    // listTicketPage): a JSON string with a JSON content type skips the serializer. The list
    // tests hold each item to GET /v1/tickets/:id, and the OpenAPI conformance test checks the page.
    handler: async (request, reply) => {
      const body = pageJson(await listTicketPage(db, request.query, await deps.pageClocks()));
      return reply.type('application/json; charset=utf-8').send(body as never);
    },
  });

  app.get('/v1/tickets/:id', {
    onRequest: guard(STAFF),
    schema: {
      tags,
      summary: 'Read a ticket',
      description: 'Send the ETag you hold as If-None-Match to be answered 304 without a body while the ticket is unchanged.',
      security: bearerSecurity,
      params: ticketIdParams,
      headers: ifNoneMatchHeaders,
      response: { 200: ticketView, 304: z.null(), ...problemResponses(404) },
    },
    handler: async (request, reply) => {
      const row = await findTicketView(db, request.params.id);
      if (!row) throw notFound('Ticket', request.params.id);
      const etag = `"${row.version}"`;
      // No body at all on 304 (RFC 9110 §15.4.5): undefined skips the serializer, which would write "null".
      if (ifNoneMatchHits(request.headers['if-none-match'], etag)) return reply.status(304).header('etag', etag).send(undefined as unknown as null);
      const [ticket] = await withSla([toTicketView(row)]);
      return reply.header('etag', etag).send(ticket!);
    },
  });

  app.patch('/v1/tickets/:id', {
    onRequest: guard(STAFF),
    schema: {
      tags,
      summary: 'Change status, priority, assignee, team, subject or tags (optimistic concurrency)',
      description: 'Send the version you read as If-Match: "<version>" (answered 412 when stale) or as a "version" field (answered 409 when stale).',
      security: bearerSecurity,
      params: ticketIdParams,
      headers: ifMatchHeaders,
      body: updateTicketBody,
      response: { 200: ticketView, ...problemResponses(404, 409, 412, 428) },
    },
    handler: async (request, reply) => {
      const updated = await tickets.update(request.params.id, request.body, parseIfMatch(request.headers['if-match']), principalOf(request));
      const [ticket] = await withSla([updated]);
      return reply.header('etag', `"${ticket!.version}"`).send(ticket!);
    },
  });

  app.post('/v1/tickets/:id/messages', {
    onRequest: guard(STAFF),
    schema: {
      tags,
      summary: 'Reply to the customer (public) or add an internal note',
      security: bearerSecurity,
      params: ticketIdParams,
      body: createMessageBody,
      response: { 201: messageCreated, ...problemResponses(404, 409) },
    },
    handler: async (request, reply) => {
      const principal = principalOf(request);
      const { templateId, ...input } = request.body;
      const body = templateId ? (await deps.renderTemplate(request.params.id, templateId, principal.agentId ?? input.authorAgentId ?? null)).body : input.body!;
      const result = await tickets.addMessage(request.params.id, { ...input, body }, principal);
      return reply.status(201).send(result);
    },
  });

  app.post('/v1/tickets/:id/calls', {
    onRequest: guard(STAFF),
    schema: {
      tags,
      summary: 'Log a call with the customer (a callback): resolved, no_answer or follow_up',
      description: 'An answered call (resolved or follow_up) is a response to the customer: it stops the first-response clock.',
      security: bearerSecurity,
      params: ticketIdParams,
      body: logCallBody,
      response: { 201: messageCreated, ...problemResponses(404, 409) },
    },
    handler: async (request, reply) => reply.status(201).send(await tickets.logCall(request.params.id, request.body, principalOf(request))),
  });

  app.get('/v1/tickets/:id/messages', {
    onRequest: guard(STAFF),
    schema: { tags, summary: 'The conversation, oldest first', security: bearerSecurity, params: ticketIdParams, querystring: pageQuery, response: { 200: messagePage, ...problemResponses(404) } },
    handler: async (request) => {
      const page = await listMessages(db, request.params.id, request.query.limit, request.query.cursor);
      // An empty page is the only one that needs the second look: no such ticket is a 404.
      if (page.items.length === 0 && !(await findTicket(db, request.params.id))) throw notFound('Ticket', request.params.id);
      return page;
    },
  });

  app.get('/v1/tickets/:id/events', {
    onRequest: guard(STAFF),
    schema: { tags, summary: 'The timeline, oldest first', security: bearerSecurity, params: ticketIdParams, querystring: pageQuery, response: { 200: eventPage, ...problemResponses(404) } },
    handler: async (request) => {
      // Every ticket has a timeline (created, at least), so the page alone answers: one statement.
      const page = await listEvents(db, request.params.id, request.query.limit, request.query.cursor);
      if (page.items.length === 0 && !(await findTicket(db, request.params.id))) throw notFound('Ticket', request.params.id);
      return page;
    },
  });

  app.post('/v1/tickets/:id/merge', {
    onRequest: guard(STAFF),
    schema: {
      tags,
      summary: 'Merge this ticket into another: its messages and events move, it is closed and linked',
      security: bearerSecurity,
      params: ticketIdParams,
      body: mergeTicketBody,
      response: { 200: mergeResult, ...problemResponses(404, 409) },
    },
    handler: async (request) => tickets.merge(request.params.id, request.body.targetTicketId, principalOf(request)),
  });
}
