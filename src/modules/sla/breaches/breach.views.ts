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
