import { desc, eq } from 'drizzle-orm';
import { z } from 'zod';
import type { Database } from '../../db/client.js';
import type { Guard } from '../../http/auth.js';
import { principalOf } from '../../http/auth.js';
import { bearerSecurity, problemResponses, type App } from '../../http/types.js';
import type { Clock } from '../../shared/clock.js';
import { notFound } from '../../shared/errors.js';
import { STAFF } from '../auth/api-keys.models.js';
import { toTicketView } from '../tickets/tickets.repository.js';
import { ticketView } from '../tickets/tickets.schemas.js';
import { tickets } from '../tickets/tickets.table.js';
import { actorOf } from '../tickets/tickets.service.js';
import { withClocks, type ClocksOf } from '../tickets/ticket-clocks.js';
import { getCustomer, listIdentities } from './customers.repository.js';
import { confirmIdentity, dismissIdentity, mergeCustomers } from './customers.service.js';
import { IDENTITY_STATUSES } from './customers.table.js';

const tags = ['customers'];
const idParams = z.object({ id: z.uuid() });
const identityParams = z.object({ id: z.uuid(), identityId: z.uuid() });

const identityView = z.object({
  id: z.uuid(),
  kind: z.string(),
  address: z.string(),
  displayName: z.string().nullable(),
  handle: z.string().nullable(),
  /** verified: written from, entered or confirmed; suggested: claimed in a message, links nothing until confirmed. */
  status: z.enum(IDENTITY_STATUSES),
  createdAt: z.date(),
});

const customerView = z.object({
  id: z.uuid(),
  name: z.string().nullable(),
  language: z.string().nullable(),
  mergedIntoId: z.uuid().nullable(),
  createdAt: z.date(),
  updatedAt: z.date(),
  identities: z.array(identityView),
  tickets: z.array(ticketView),
});

// The customer page shows the newest tickets; the full history is GET /v1/tickets?customerId=.
const TICKETS_ON_CUSTOMER = 50;

export function registerCustomerRoutes(app: App, deps: { db: Database; clock: Clock; guard: Guard; slaOf: ClocksOf }): void {
  const { db, clock, guard } = deps;

  async function load(id: string) {
    const customer = await getCustomer(db, id);
    if (!customer) throw notFound('Customer', id);
    const identities = await listIdentities(db, id);
    const rows = await db.select().from(tickets).where(eq(tickets.customerId, id)).orderBy(desc(tickets.createdAt)).limit(TICKETS_ON_CUSTOMER);
    return {
      id: customer.id,
      name: customer.name,
      language: customer.language,
      mergedIntoId: customer.mergedIntoId,
      createdAt: customer.createdAt,
      updatedAt: customer.updatedAt,
      identities: identities.map(({ customerId: _c, ...rest }) => rest),
      tickets: await withClocks(rows.map(toTicketView), deps.slaOf),
    };
  }

  app.get('/v1/customers/:id', {
    onRequest: guard(STAFF),
    schema: { tags, summary: 'A customer with every identity and their latest tickets', security: bearerSecurity, params: idParams, response: { 200: customerView, ...problemResponses(404) } },
    handler: async (request) => load(request.params.id),
  });

  app.post('/v1/customers/:id/merge', {
    onRequest: guard(STAFF),
    schema: {
      tags,
      summary: 'Merge this customer into another: identities and tickets move; this one links to the target',
      security: bearerSecurity,
      params: idParams,
      body: z.object({ targetCustomerId: z.uuid() }),
      response: { 200: customerView, ...problemResponses(404, 409) },
    },
    handler: async (request) => {
      // Postgres answers ids in lower case; "ABC…" and "abc…" are one customer.
      const sourceId = request.params.id.toLowerCase();
      const targetId = request.body.targetCustomerId.toLowerCase();
      await db.transaction((tx) => mergeCustomers(tx, { sourceId, targetId, actor: actorOf(principalOf(request)), now: clock.now() }));
      return load(targetId);
    },
  });

  app.post('/v1/customers/:id/identities/:identityId/confirm', {
    onRequest: guard(STAFF),
    schema: {
      tags,
      summary: 'Confirm a suggested identity: it becomes verified; a customer already holding it is merged into this one',
      description:
        'Addresses a customer only claimed (typed into a message, an e-mail Reply-To) are stored as suggested identities: they find no customer and receive no reply. ' +
        'Confirming one makes it verified. If another customer already holds that address, that customer is merged into this one (identities and tickets move here). Confirming a verified identity changes nothing.',
      security: bearerSecurity,
      params: identityParams,
      response: { 200: customerView, ...problemResponses(404, 409) },
    },
    handler: async (request) => {
      const customerId = request.params.id.toLowerCase();
      const identityId = request.params.identityId.toLowerCase();
      await db.transaction((tx) => confirmIdentity(tx, { customerId, identityId, actor: actorOf(principalOf(request)), now: clock.now() }));
      return load(customerId);
    },
  });

  app.delete('/v1/customers/:id/identities/:identityId', {
    onRequest: guard(STAFF),
    schema: {
      tags,
      summary: 'Dismiss a suggested identity (an address the customer claimed but does not own); a verified one is 409',
      security: bearerSecurity,
      params: identityParams,
      response: { 200: customerView, ...problemResponses(404, 409) },
    },
    handler: async (request) => {
      const customerId = request.params.id.toLowerCase();
      await db.transaction((tx) => dismissIdentity(tx, { customerId, identityId: request.params.identityId.toLowerCase() }));
      return load(customerId);
    },
  });
}
