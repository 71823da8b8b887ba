import type { FastifyBaseLogger, FastifyInstance, RawReplyDefaultExpression, RawRequestDefaultExpression, RawServerDefault } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';

export type App = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, ZodTypeProvider>;

/** The problem+json body every error answers with (RFC 9457), for the OpenAPI document. */
export const problemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    instance: z.string(),
    code: z.string(),
    errors: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
  })
  .loose()
  .meta({ id: 'Problem', description: 'RFC 9457 problem details; errors[].field names the part of the request at fault' });

/** Standard error answers, so every route documents what it refuses and why. */
export const problemResponses = (...statuses: number[]) =>
  Object.fromEntries([400, 401, 403, 429, ...statuses].map((s) => [s, problemSchema])) as Record<number, typeof problemSchema>;

export const bearerSecurity = [{ bearerAuth: [] }];
