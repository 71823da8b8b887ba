import { z } from 'zod';
import { BREACH_STATES } from '../sla.table.js';

/** A breach as the API shows it (the breach queue, an acknowledgement, the operations wall). */
export const breachView = z
  .object({
    id: z.uuid(),
    ticketId: z.uuid(),
    ticketNumber: z.number().int(),
    channel: z.string(),
    metric: z.string(),
    priority: z.string(),
    severity: z.number().int(),
    teamId: z.uuid().nullable(),
    dueAt: z.date(),
    breachedAt: z.date(),
    escalationLevel: z.number().int(),
    state: z.enum(BREACH_STATES),
    acknowledgedBy: z.string().nullable(),
    acknowledgedAt: z.date().nullable(),
    ackNote: z.string().nullable(),
    resolvedAt: z.date().nullable(),
  })
  .meta({ id: 'Breach' });

/** The body of an acknowledgement (POST /v1/sla/breaches/:id/ack and the wall's): an optional note. */
export const ackBody = z.object({ note: z.string().trim().max(2000).optional() }).optional();

/**
 * preValidation of an acknowledgement: the usual ack is a bare POST, but Fastify validates a
 * missing body as null, which the schema refuses (a 400 for every bodiless ack): read it as {}.
 */
export async function bodilessAckAsEmpty(request: { body: unknown }): Promise<void> {
  if (request.body === null || request.body === undefined) request.body = {};
}
