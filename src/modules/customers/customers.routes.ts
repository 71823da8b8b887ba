import { z } from 'zod';
import type { Guard } from '../../http/auth.js';
import { principalOf } from '../../http/auth.js';
import { bearerSecurity, problemResponses, type App } from '../../http/types.js';
import { STAFF } from '../auth/api-keys.models.js';
import { ticketView } from '../tickets/tickets.schemas.js';
import type { CustomerService } from './customers.service.js';
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

export function registerCustomerRoutes(app: App, deps: { guard: Guard; customers: CustomerService }): void {
  const { guard, customers } = deps;

  app.get('/v1/customers/:id', {
    onRequest: guard(STAFF),
    schema: { tags, summary: 'A customer with every identity and their latest tickets', security: bearerSecurity, params: idParams, response: { 200: customerView, ...problemResponses(404) } },
    handler: async (request) => customers.page(request.params.id),
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
    handler: async (request) => customers.merge(request.params.id, request.body.targetCustomerId, principalOf(request)),
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
    handler: async (request) => customers.confirmIdentity(request.params.id, request.params.identityId, principalOf(request)),
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
    handler: async (request) => customers.dismissIdentity(request.params.id, request.params.identityId),
  });
}
