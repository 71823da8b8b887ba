import { z } from 'zod';
import { isIso639, PRESENCES, ROUTING_METHODS, ROUTING_ORDERS } from '../../domain/routing/routing.types.js';

const slots = z.number().int().min(0).max(1000);
/** Channel by channel; a channel left out keeps the layer below (team default, then built-in). */
export const capacityOverrideSchema = z.strictObject({ email: slots.optional(), phone: slots.optional(), facebook: slots.optional(), twitter: slots.optional() });
export const capacityView = z.object({ email: z.number().int(), phone: z.number().int(), facebook: z.number().int(), twitter: z.number().int() });
export const routingSettingsSchema = z.strictObject({
  enabled: z.boolean().optional(),
  order: z.enum(ROUTING_ORDERS).optional(),
  method: z.enum(ROUTING_METHODS).optional(),
  languageFallbackSec: z.number().int().min(0).max(86_400).optional(),
  stickyDays: z.number().int().min(0).max(365).optional(),
  shiftCalendarId: z.uuid().nullable().optional().describe("A calendar (GET /v1/calendars) whose closing ends the shift of the queue's agents: they go offline with reason shift. null: none"),
});
export const routingSettingsView = z.object({
  enabled: z.boolean(),
  order: z.enum(ROUTING_ORDERS),
  method: z.enum(ROUTING_METHODS),
  languageFallbackSec: z.number().int(),
  stickyDays: z.number().int(),
  shiftCalendarId: z.uuid().nullable(),
});
export const presenceSchema = z.enum(PRESENCES);
export const presenceBody = z.strictObject({ status: presenceSchema });
export const languageCode = z.string().regex(/^[a-z]{2,3}$/, 'an ISO 639 language code such as "he"').refine(isIso639, 'not an ISO 639 language code');

/** GET /v1/routing/queues (and the operations wall): waiting tickets per queue, agents with presence and load. */
export const routingQueuesView = z.object({
  queues: z.array(z.object({ teamId: z.uuid().nullable(), channel: z.string(), language: z.string().nullable(), waiting: z.number().int(), longestWaitSec: z.number().int(), soonestDueAt: z.date().nullable() })),
  agents: z.array(z.object({ id: z.uuid(), name: z.string(), teamId: z.uuid().nullable(), teamIds: z.array(z.uuid()), presence: z.string(), load: capacityView, capacity: capacityView })),
});
